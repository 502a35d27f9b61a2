"""``paperscope sync --arxiv-api QUERY``: fetch what arXiv announced since the last sync
of a query and merge it into an index.

Pages of ``QUERY`` are fetched newest first (``sortBy=submittedDate``; with
``order="updated"``, ``sortBy=lastUpdatedDate``, so new versions of older papers come
too and replace them) until an entry is no newer than the high-water mark (the newest
``published``, or ``updated``, timestamp the last completed sync saw), the results run out, or (first sync only) ``max_results`` entries came. Each page is
staged on disk as it arrives, so a sync killed mid-way resumes at the next page; when
fetching is done the staged pages go through :func:`engine.build.add` (or ``build`` for
a new index), and only then does the high-water mark move and the staging go away. A
failed merge keeps the pages for the next run, which merges them without fetching.

Staging, locking, state and the merge are :mod:`engine.pipeline.staging`'s, shared with
``sync --oai-pmh``::

    INDEX/.sync/<key>/        key = sha256(api_url, query[, order])[:16]
      lock                    flock of the one sync of this query
      state.json              query, api_url, high-water mark, progress of the current run
      page-000000.atom ...    the pages fetched so far, as received
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from engine.errors import SyncError
from engine.ingest import atom
from engine.ingest.arxiv_client import DEFAULT_API_URL, MAX_PAGE_SIZE, ArxivClient
from engine.pipeline import build
from engine.pipeline.staging import STATE, FetchOptions, FetchReport, StagedState, Staging, folder_for, format_time

log = logging.getLogger(__name__)

__all__ = ["STATE", "SyncOptions", "SyncReport", "SyncState", "staging_folder", "sync"]
ORDERS = {"submitted": "submittedDate", "updated": "lastUpdatedDate"}  # --order -> the API's sortBy


@dataclass(kw_only=True)
class SyncOptions(FetchOptions):
    api_url: str = DEFAULT_API_URL
    max_results: int = 500  # entries fetched at most by a first sync (later ones reach back to it)
    page_size: int = 100
    order: str = "submitted"  # or "updated": new versions of known papers too (see ORDERS)


@dataclass
class SyncState(StagedState):
    """What ``state.json`` holds; ``high_water`` is the newest ``published``
    (``updated``) timestamp of the last completed sync."""

    IDENTITY: ClassVar[tuple[str, ...]] = ("query", "api_url")
    query: str
    api_url: str
    next_start: int = 0
    entries: int = 0
    newer: int = 0  # entries newer than ``high_water``
    newest: str | None = None  # newest ``published`` in the staged pages
    stopped: str | None = None  # why fetching stopped


@dataclass
class SyncReport(FetchReport):
    query: str
    api_url: str
    entries_seen: int = 0
    new_entries: int = 0  # newer than the previous high-water mark
    stopped: str | None = None


def sync(query: str, index_dir: str | Path, options: SyncOptions | None = None) -> SyncReport:
    """Fetch the entries of ``query`` newer than the last sync and merge them into
    ``index_dir`` (built if it does not exist yet).

    Raises:
        SyncBusy: another sync of this query into this index is running.
        ArxivUnavailable, ArxivRefused: fetching failed; pages staged so far are kept.
        PaperscopeError: the merge failed; the staged pages are kept for the next run.
    """
    options = options or SyncOptions()
    _check(query, options)
    # the client checks the URL before anything is written
    client = ArxivClient(options.api_url, sort_by=ORDERS[options.order], **options.politeness())
    index_dir = Path(index_dir)
    staging = Staging(staging_folder(index_dir, query, options.api_url, options.order), "atom")
    with staging.locked(f"a sync of {query!r} into {index_dir}"):
        state = staging.load(SyncState(query, options.api_url))
        staging.attach(client, state)
        report = SyncReport(query=query, api_url=options.api_url, index_dir=index_dir, pages_resumed=len(state.pages))
        try:
            if not state.fetched:
                _fetch(client, state, staging, options, report)
        finally:
            report.count(client)
        _merge(state, staging, index_dir, options.build, report)
    return report


def staging_folder(index_dir: Path, query: str, api_url: str, order: str = "submitted") -> Path:
    """Per query, API and order (their high-water marks differ): ``INDEX/.sync/<key>``."""
    return folder_for(index_dir, api_url, query if order == "submitted" else f"{query}\n{order}")


def _check(query: str, options: SyncOptions) -> None:
    if not query or not query.strip():
        raise SyncError("the arXiv query is empty (example: --arxiv-api 'cat:cs.CL')")
    if options.order not in ORDERS:
        raise SyncError(f"--order must be one of {', '.join(ORDERS)}, not {options.order!r}")
    if not 1 <= options.page_size <= MAX_PAGE_SIZE:
        raise SyncError(f"the page size must be between 1 and {MAX_PAGE_SIZE}, not {options.page_size}")
    if options.max_results < 1:
        raise SyncError(f"max results must be at least 1, not {options.max_results}")


def _fetch(client: ArxivClient, state: SyncState, staging: Staging, options: SyncOptions, report: SyncReport) -> None:
    high_water = _parse_time(state.high_water)
    # Only a first sync is bounded: a later one must reach back to the previous one, or
    # the entries in between would never be fetched.
    limit = options.max_results if high_water is None else None
    while not state.fetched:
        wanted = options.page_size if limit is None else min(options.page_size, limit - state.entries)
        if wanted > 0:
            page = client.fetch_page(state.query, state.next_start, wanted)
            staging.stage(state, page.url, page.body)
            _account(state, page.feed, high_water, options.order)
            report.pages_fetched += 1
            state.stopped = _stop_reason(state, page.feed, high_water, limit, options.order)
        else:
            state.stopped = "max results"
        state.fetched = state.stopped is not None
        staging.save(state)


def _when(entry: atom.Entry, order: str) -> datetime | None:
    """The timestamp the results are sorted by."""
    return (entry.updated or entry.published) if order == "updated" else entry.published


def _account(state: SyncState, feed: atom.Feed, high_water: datetime | None, order: str) -> None:
    # Advance by what came back, not by what was asked: a short page then overlaps the
    # next one (deduplicated on merge) instead of leaving a gap.
    state.entries += len(feed.entries)
    state.next_start += len(feed.entries)
    stamps = [_when(e, order) for e in feed.entries]
    newer = [t for t in stamps if t and (high_water is None or t > high_water)]
    state.newer += len(newer)
    newest = max([*newer, *filter(None, [_parse_time(state.newest)])], default=None)
    state.newest = format_time(newest) if newest else None


def _stop_reason(
    state: SyncState, feed: atom.Feed, high_water: datetime | None, limit: int | None, order: str
) -> str | None:
    stamps = [_when(e, order) for e in feed.entries]
    if high_water is not None and any(t and t <= high_water for t in stamps):
        return "reached the previous sync"
    if not feed.entries or (feed.total_results is not None and state.next_start >= feed.total_results):
        return "end of results"
    if limit is not None and state.entries >= limit:
        return "max results"
    return None


def _merge(state: SyncState, staging: Staging, index_dir: Path, options: build.Options, report: SyncReport) -> None:
    report.entries_seen, report.new_entries, report.stopped = state.entries, state.newer, state.stopped
    if state.newer:
        built = staging.merge(state, index_dir, options)
        report.build, report.new_papers = built.to_dict(), built.new_papers
        report.problems = staging.at_urls(state, built.problems)
    newest = max(filter(None, [_parse_time(state.high_water), _parse_time(state.newest)]), default=None)
    report.high_water = staging.complete(state, format_time(newest) if newest else None).high_water


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
