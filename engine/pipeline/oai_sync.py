"""``paperscope sync --oai-pmh SET``: harvest a set of arXiv's OAI-PMH interface
(``metadataPrefix=arXiv``, arXiv's recommended way to bulk metadata) into an index.

A harvest asks for the records of ``SET`` whose datestamp lies in ``[from, until]``
(days, both ends included; ``from`` defaults to the high-water mark of the last
completed harvest of the set, so a daily ``sync --oai-pmh cs`` harvests what changed
since), then follows resumption tokens to the last page. Each page is staged on disk as
it arrives with the token of the next page in ``state.json``, so a harvest killed
mid-way resumes at that token; when the last page is in, the staged pages go through
:func:`engine.pipeline.build.add` (or ``build`` for a new index), and only then does the
high-water mark move: to the harvest's ``until`` or the first answer's ``responseDate``
day, whichever is earlier (records are stamped in days, so the next harvest asks from
that day again: the overlap is merged as unchanged papers, and nothing stamped later
that day is missed). Deleted records are counted and skipped; bad records are problems
naming the page's URL and line.

Staging, locking, state and the merge are :mod:`engine.pipeline.staging`'s, shared with
``sync --arxiv-api``::

    INDEX/.sync/<key>/        key = sha256("oai-pmh", oai_url, set)[:16]
      lock, state.json        (state: set, URL, high-water day, window, next token, counts)
      page-000000.xml ...     the pages harvested so far, as received
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from engine.errors import OaiPmhError, SyncError
from engine.ingest.oai_client import DEFAULT_OAI_URL, OaiClient, OaiPage, check_harvest
from engine.papers import Problem
from engine.pipeline import build
from engine.pipeline.staging import FetchOptions, FetchReport, StagedState, Staging, folder_for

log = logging.getLogger(__name__)

PROTOCOL = "oai-pmh"


@dataclass(kw_only=True)
class HarvestOptions(FetchOptions):
    oai_url: str = DEFAULT_OAI_URL
    from_date: str | None = None  # YYYY-MM-DD; None: the last harvest's high-water mark (or all)
    until: str | None = None  # YYYY-MM-DD; None: up to now
    timeout: float = 60.0  # a page of 1,000 records may take a while to make


@dataclass
class HarvestState(StagedState):
    """What ``state.json`` holds; ``high_water`` is a day (``YYYY-MM-DD``)."""

    IDENTITY: ClassVar[tuple[str, ...]] = ("set", "oai_url")
    set: str
    oai_url: str
    from_date: str | None = None  # the window of the harvest under way
    until: str | None = None
    token: str | None = None  # the next page's resumption token (None: the first page is next)
    records: int = 0  # deleted ones included
    deleted: int = 0
    papers: int = 0  # records read as papers
    problems: list[list] = field(default_factory=list)  # [url, line, message] per bad record
    complete_list_size: int | None = None
    response_day: str | None = None  # the first answer's responseDate, as a day
    expired: bool = False  # the server refused the token: the next run starts this harvest over


@dataclass
class HarvestReport(FetchReport):
    set: str
    oai_url: str
    from_date: str | None = None
    until: str | None = None
    records: int = 0  # harvested, deleted ones included
    deleted: int = 0
    complete_list_size: int | None = None


def harvest(set_spec: str, index_dir: str | Path, options: HarvestOptions | None = None) -> HarvestReport:
    """Harvest ``set_spec`` since the last harvest (or ``from_date``) and merge it into
    ``index_dir`` (built if it does not exist yet).

    Raises:
        SyncBusy: another harvest of this set into this index is running.
        OaiPmhError: the server answered an OAI error (its code and message); pages
            staged so far are kept.
        ArxivUnavailable: fetching kept failing; pages staged so far are kept.
        PaperscopeError: the merge failed; the staged pages are kept for the next run.
    """
    options = options or HarvestOptions()
    check_harvest(set_spec, options.from_date, options.until)
    client = OaiClient(options.oai_url, **options.politeness())  # checks the URL before anything is written
    index_dir = Path(index_dir)
    staging = Staging(staging_folder(index_dir, set_spec, options.oai_url), "xml")
    with staging.locked(f"a harvest of set {set_spec!r} into {index_dir}"):
        state = staging.load(HarvestState(set_spec, options.oai_url))
        if state.expired:
            log.warning("%s: the last run's resumption token expired; harvesting %r again", staging.folder, set_spec)
            state = state.restarted()
        _window(state, options, staging)
        staging.attach(client, state)
        report = HarvestReport(set=set_spec, oai_url=options.oai_url, index_dir=index_dir)
        report.pages_resumed, report.from_date, report.until = len(state.pages), state.from_date, state.until
        try:
            if not state.fetched:
                _fetch(client, state, staging, report)
        except OaiPmhError as exc:
            if not state.pages:
                raise
            state.expired = exc.code == "badResumptionToken"
            staging.save(state)
            raise _kept(exc, state, staging) from exc
        finally:
            report.count(client)
        _merge(state, staging, index_dir, options.build, report)
    return report


def staging_folder(index_dir: Path, set_spec: str, oai_url: str) -> Path:
    """Per protocol, server and set: ``INDEX/.sync/<key>``."""
    return folder_for(index_dir, PROTOCOL, oai_url, set_spec)


def _window(state: HarvestState, options: HarvestOptions, staging: Staging) -> None:
    """The dates of this run: those of a harvest under way (its tokens hold them), else
    those asked for, ``from`` defaulting to the high-water mark."""
    if state.pages:
        for option, asked, staged in (
            ("--from", options.from_date, state.from_date),
            ("--until", options.until, state.until),
        ):
            if asked is not None and asked != staged:
                raise SyncError(
                    f"a harvest of {state.set!r} from {state.from_date or 'the start'} until "
                    f"{state.until or 'now'} is half done in {staging.folder}: rerun without {option} {asked} "
                    f"to finish it, or remove that folder to start afresh"
                )
        return
    state.from_date, state.until = options.from_date or state.high_water, options.until
    if state.from_date and state.until and state.from_date > state.until:
        raise SyncError(
            f"--until {state.until} is before {state.from_date}, where the last harvest of {state.set!r} "
            f"ended: give --from too"
        )


def _fetch(client: OaiClient, state: HarvestState, staging: Staging, report: HarvestReport) -> None:
    while not state.fetched:
        first = client.first_url(state.set, state.from_date, state.until)
        url = client.next_url(state.token) if state.token else first
        page = client.fetch(url)
        if page.response.token is not None and page.response.token == state.token:
            raise SyncError(f"{url}: the server answered with the same resumption token again; stopped")
        staging.stage(state, page.url, page.body)
        _account(state, page)
        report.pages_fetched += 1
        staging.save(state)


def _account(state: HarvestState, page: OaiPage) -> None:
    response = page.response
    state.records += len(response.records)
    state.deleted += response.deleted
    state.papers += len(response.papers)
    state.problems += [[page.url, p.line, p.message] for p in response.problems]
    state.response_day = state.response_day or response.response_day
    if response.complete_list_size is not None:
        state.complete_list_size = response.complete_list_size
    state.token = response.token
    state.fetched = response.token is None


def _kept(exc: OaiPmhError, state: HarvestState, staging: Staging) -> OaiPmhError:
    """The error, saying what became of the staged pages and what the next run does (a
    token the server refused cannot be asked for again: that harvest starts over)."""
    kept = f"{len(state.pages)} harvested page(s) stay in {staging.folder}"
    if state.expired:
        window = f"from {state.from_date or 'the start'} until {state.until or 'now'}"
        how = f"; resumption tokens do not last: the next run harvests {state.set!r} {window} again from its first page"
    else:
        how = "; the next run asks for the same page again"
    return OaiPmhError(f"{exc} ({kept}{how})", exc.code)


def _merge(
    state: HarvestState, staging: Staging, index_dir: Path, options: build.Options, report: HarvestReport
) -> None:
    report.records, report.deleted = state.records, state.deleted
    report.complete_list_size = state.complete_list_size
    report.problems = [Problem(url, line, message) for url, line, message in state.problems]
    if state.papers:
        built = staging.merge(state, index_dir, options)
        report.build, report.new_papers = built.to_dict(), built.new_papers
    reached = min(filter(None, [state.until, state.response_day]), default=None)
    high_water = max(filter(None, [state.high_water, reached]), default=None)
    report.high_water = staging.complete(state, high_water).high_water
