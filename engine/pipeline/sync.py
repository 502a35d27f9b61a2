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

Beside the index's versions (``engine.store`` only removes ``.tmp-*`` leftovers and
``vNNNNNN`` versions, so ``.sync`` is never touched by it)::

    INDEX/.sync/<key>/        key = sha256(api_url, query)[:16]
      lock                    flock of the one sync of this query
      state.json              query, api_url, high-water mark, progress of the current run
      page-000000.atom ...    the pages fetched so far, as received
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from engine.artifact import store
from engine.errors import IndexNotFound, PaperscopeError, SyncBusy, SyncError
from engine.fsutil import exclusive_lock, write_atomic
from engine.ingest import atom
from engine.ingest.arxiv_client import DEFAULT_API_URL, MAX_PAGE_SIZE, ArxivClient
from engine.papers import Problem
from engine.pipeline import build

log = logging.getLogger(__name__)

SYNC_DIR = ".sync"
ORDERS = {"submitted": "submittedDate", "updated": "lastUpdatedDate"}  # --order -> the API's sortBy
STATE = "state.json"
STATE_FORMAT = 1


@dataclass
class SyncOptions:
    api_url: str = DEFAULT_API_URL
    max_results: int = 500  # entries fetched at most by a first sync (later ones reach back to it)
    page_size: int = 100
    delay: float = 3.0  # seconds between the starts of requests (arXiv's guidance)
    retries: int = 5  # per page, after the first attempt
    timeout: float = 30.0
    backoff: float = 2.0  # first backoff step in seconds; doubles per retry
    order: str = "submitted"  # or "updated": new versions of known papers too (see ORDERS)
    build: build.Options = field(default_factory=build.Options)


@dataclass
class SyncState:
    """What ``state.json`` holds; rewritten atomically after every staged page."""

    query: str
    api_url: str
    high_water: str | None = None  # newest ``published`` (``updated``) of the last completed sync
    last_completed: str | None = None
    last_request: float | None = None  # time.time() of the last request, for the rate limit
    pages: list[str] = field(default_factory=list)  # URL of each staged page, in order
    next_start: int = 0
    entries: int = 0
    newer: int = 0  # entries newer than ``high_water``
    newest: str | None = None  # newest ``published`` in the staged pages
    fetched: bool = False
    stopped: str | None = None  # why fetching stopped
    format: int = STATE_FORMAT


@dataclass
class SyncReport:
    query: str
    api_url: str
    index_dir: Path
    pages_fetched: int = 0  # by this run
    pages_resumed: int = 0  # staged by an earlier run that did not finish
    entries_seen: int = 0
    new_entries: int = 0  # newer than the previous high-water mark
    new_papers: int = 0  # not in the index before
    requests: int = 0
    retries: int = 0
    rate_limit_wait: float = 0.0
    backoff_wait: float = 0.0
    stopped: str | None = None
    high_water: str | None = None
    problems: list[Problem] = field(default_factory=list)
    build: dict | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(
            index_dir=str(self.index_dir),
            problems=[str(p) for p in self.problems],
            rate_limit_wait=round(self.rate_limit_wait, 3),
            backoff_wait=round(self.backoff_wait, 3),
        )
        return data


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
    client = ArxivClient(  # checks the URL before anything is written
        options.api_url,
        delay=options.delay,
        retries=options.retries,
        timeout=options.timeout,
        backoff=options.backoff,
        sort_by=ORDERS[options.order],
    )
    index_dir = Path(index_dir)
    folder = staging_folder(index_dir, query, options.api_url, options.order)
    busy = lambda holder: SyncBusy(f"a sync of {query!r} into {index_dir} is already running ({holder})")  # noqa: E731
    with exclusive_lock(folder / "lock", busy=busy):
        state = _staged_state(folder, query, options.api_url)
        client.last_request = state.last_request
        client.on_request = lambda when: _remember_request(folder, state, when)
        report = SyncReport(query, options.api_url, index_dir, pages_resumed=len(state.pages))
        try:
            if not state.fetched:
                _fetch(client, state, folder, options, report)
        finally:
            report.requests, report.retries = client.requests, client.retried
            report.rate_limit_wait, report.backoff_wait = client.rate_wait, client.backoff_wait
        _merge(state, folder, index_dir, options.build, report)
    return report


def _remember_request(folder: Path, state: SyncState, when: float) -> None:
    """Saved before each request (state is whole then: pages are accounted between
    requests), so the next process keeps the spacing even after a kill."""
    state.last_request = when
    save_state(folder, state)


def staging_folder(index_dir: Path, query: str, api_url: str, order: str = "submitted") -> Path:
    """Per query, API and order (their high-water marks differ): ``INDEX/.sync/<key>``."""
    suffix = "" if order == "submitted" else f"\n{order}"
    key = hashlib.sha256(f"{api_url}\n{query}{suffix}".encode()).hexdigest()[:16]
    return Path(index_dir) / SYNC_DIR / key


def load_state(folder: Path, query: str, api_url: str) -> SyncState:
    path = folder / STATE
    if not path.exists():
        return SyncState(query, api_url)
    try:
        state = SyncState(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise SyncError(f"{path}: unreadable sync state ({exc}); remove {folder} to sync this query afresh") from exc
    if (state.query, state.api_url, state.format) != (query, api_url, STATE_FORMAT):
        raise SyncError(f"{path}: holds the state of another query or format; remove {folder} to sync afresh")
    return state


def _staged_state(folder: Path, query: str, api_url: str) -> SyncState:
    """The saved state; if a staged page went missing (removed by hand), the fetch starts
    over (the high-water mark stays) rather than failing on every run."""
    state = load_state(folder, query, api_url)
    if all((folder / _page_name(i)).is_file() for i in range(len(state.pages))):
        return state
    log.warning("%s: staged pages are missing; fetching this sync's pages again", folder)
    return SyncState(query, api_url, state.high_water, state.last_completed, state.last_request)


def _check(query: str, options: SyncOptions) -> None:
    if not query or not query.strip():
        raise SyncError("the arXiv query is empty (example: --arxiv-api 'cat:cs.CL')")
    if options.order not in ORDERS:
        raise SyncError(f"--order must be one of {', '.join(ORDERS)}, not {options.order!r}")
    if not 1 <= options.page_size <= MAX_PAGE_SIZE:
        raise SyncError(f"the page size must be between 1 and {MAX_PAGE_SIZE}, not {options.page_size}")
    if options.max_results < 1:
        raise SyncError(f"max results must be at least 1, not {options.max_results}")
    if options.delay < 0 or options.retries < 0 or options.timeout <= 0:
        raise SyncError("the delay and retries must not be negative, and the timeout must be positive")


def _fetch(client: ArxivClient, state: SyncState, folder: Path, options: SyncOptions, report: SyncReport) -> None:
    if not state.pages:
        _clear_pages(folder)  # left by a run that died after merging, before cleaning up
    high_water = _parse_time(state.high_water)
    # Only a first sync is bounded: a later one must reach back to the previous one, or
    # the entries in between would never be fetched.
    limit = options.max_results if high_water is None else None
    while not state.fetched:
        wanted = options.page_size if limit is None else min(options.page_size, limit - state.entries)
        if wanted > 0:
            page = client.fetch_page(state.query, state.next_start, wanted)
            write_atomic(folder / _page_name(len(state.pages)), page.body)
            _account(state, page.url, page.feed, high_water, options.order)
            report.pages_fetched += 1
            state.stopped = _stop_reason(state, page.feed, high_water, limit, options.order)
        else:
            state.stopped = "max results"
        state.fetched = state.stopped is not None
        save_state(folder, state)


def _when(entry: atom.Entry, order: str) -> datetime | None:
    """The timestamp the results are sorted by."""
    return (entry.updated or entry.published) if order == "updated" else entry.published


def _account(state: SyncState, url: str, feed: atom.Feed, high_water: datetime | None, order: str) -> None:
    state.pages.append(url)
    # Advance by what came back, not by what was asked: a short page then overlaps the
    # next one (deduplicated on merge) instead of leaving a gap.
    state.entries += len(feed.entries)
    state.next_start += len(feed.entries)
    stamps = [_when(e, order) for e in feed.entries]
    newer = [t for t in stamps if t and (high_water is None or t > high_water)]
    state.newer += len(newer)
    newest = max([*newer, *filter(None, [_parse_time(state.newest)])], default=None)
    state.newest = _format_time(newest) if newest else None


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


def _merge(state: SyncState, folder: Path, index_dir: Path, options: build.Options, report: SyncReport) -> None:
    pages = [folder / _page_name(i) for i in range(len(state.pages))]
    report.entries_seen, report.new_entries, report.stopped = state.entries, state.newer, state.stopped
    if state.newer:
        try:
            built = _add_or_build(pages, index_dir, options)
        except PaperscopeError as exc:
            note = f"{len(pages)} fetched page(s) stay in {folder}; the next sync merges them without refetching"
            noted = _with_note(exc, note)
            if noted is exc:
                raise
            raise noted from exc
        report.build, report.new_papers = built.to_dict(), built.new_papers
        urls = {str(path): url for path, url in zip(pages, state.pages, strict=True)}
        report.problems = [Problem(urls.get(p.source, p.source), p.line, p.message) for p in built.problems]
    newest = max(filter(None, [_parse_time(state.high_water), _parse_time(state.newest)]), default=None)
    completed = SyncState(
        state.query,
        state.api_url,
        high_water=_format_time(newest) if newest else None,
        last_completed=_format_time(_now()),
        last_request=state.last_request,
    )
    save_state(folder, completed)  # first the mark, then the cleanup: a crash between re-merges, harmlessly
    _clear_pages(folder)
    report.high_water = completed.high_water


def _add_or_build(pages: list[Path], index_dir: Path, options: build.Options) -> build.BuildReport:
    try:
        store.resolve_version(index_dir)
    except IndexNotFound:
        log.info("no index at %s yet: building it from %d page(s)", index_dir, len(pages))
        return build.build(pages, index_dir, options)
    return build.add(pages, index_dir, options)


def _with_note(exc: PaperscopeError, note: str) -> PaperscopeError:
    """The same kind of error (callers may catch IndexBusy, BuildError...), told more."""
    try:
        return type(exc)(f"{exc} ({note})")
    except TypeError:  # an error class with another signature: keep it as it is
        return exc


def save_state(folder: Path, state: SyncState) -> None:
    write_atomic(folder / STATE, json.dumps(asdict(state), indent=1).encode("utf-8"))


def _clear_pages(folder: Path) -> None:
    for path in folder.glob("page-*.atom"):
        path.unlink(missing_ok=True)
    for path in folder.glob(".*.tmp"):
        path.unlink(missing_ok=True)


def _page_name(number: int) -> str:
    return f"page-{number:06d}.atom"


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _format_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> datetime:
    return datetime.now(UTC)
