"""``paperscope sync --arxiv-api QUERY`` and ``paperscope sync --oai-pmh SET``: the daily
update from the arXiv API or a harvest of arXiv's OAI-PMH interface (see
:mod:`engine.pipeline.sync` and :mod:`engine.pipeline.oai_sync`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from engine.artifact import DEFAULT_INDEX
from engine.cli.common import CacheOpt, JsonOpt, app, print_json, user_errors
from engine.errors import SyncError
from engine.ingest.arxiv_client import DEFAULT_API_URL, MAX_PAGE_SIZE
from engine.ingest.oai_client import DEFAULT_OAI_URL

if TYPE_CHECKING:
    from engine.pipeline.oai_sync import HarvestReport
    from engine.pipeline.sync import SyncReport

QueryOpt = Annotated[
    str | None,
    typer.Option(
        "--arxiv-api",
        help="An arXiv API search_query, e.g. 'cat:cs.CL' or 'cat:cs.CV AND abs:segmentation'.",
        show_default=False,
    ),
]
SetOpt = Annotated[
    str | None,
    typer.Option(
        "--oai-pmh",
        help="An arXiv OAI-PMH set to harvest (metadataPrefix=arXiv), e.g. cs, math or physics:astro-ph.",
        show_default=False,
    ),
]
SyncIndexOpt = Annotated[Path, typer.Option("--index", "-i", help="Index folder (built if it does not exist).")]
ApiUrlOpt = Annotated[
    str | None, typer.Option("--api-url", help=f"The arXiv API query endpoint (default: {DEFAULT_API_URL}).")
]
OaiUrlOpt = Annotated[str | None, typer.Option("--oai-url", help=f"The OAI-PMH base URL (default: {DEFAULT_OAI_URL}).")]
FromOpt = Annotated[
    str | None,
    typer.Option(
        "--from", help="OAI-PMH: records stamped on or after this day (YYYY-MM-DD) (default: the last harvest's mark)."
    ),
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="OAI-PMH: records stamped on or before this day (YYYY-MM-DD).")
]
MaxResultsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-results",
        min=1,
        help="API: entries a first sync fetches at most; later syncs reach back to the previous one (default: 500).",
    ),
]
PageSizeOpt = Annotated[
    int | None, typer.Option("--page-size", min=1, max=MAX_PAGE_SIZE, help="API: entries per request (default: 100).")
]
DelayOpt = Annotated[float, typer.Option("--delay", min=0.0, help="Seconds between the starts of requests.")]
RetriesOpt = Annotated[int, typer.Option("--retries", min=0, help="Retries per page after the first attempt.")]
TimeoutOpt = Annotated[
    float | None, typer.Option("--timeout", min=0.1, help="Seconds to wait for an answer (default: API 30, OAI 60).")
]
OrderOpt = Annotated[
    str | None,
    typer.Option(
        "--order",
        help="API: submitted (default): new papers (by submission date); updated: new versions of older papers too "
        "(by last update), which replace them in the index.",
    ),
]


@app.command("sync")
def sync_command(
    arxiv_api: QueryOpt = None,
    oai_pmh: SetOpt = None,
    index: SyncIndexOpt = DEFAULT_INDEX,
    api_url: ApiUrlOpt = None,
    oai_url: OaiUrlOpt = None,
    from_date: FromOpt = None,
    until: UntilOpt = None,
    max_results: MaxResultsOpt = None,
    page_size: PageSizeOpt = None,
    delay: DelayOpt = 3.0,
    retries: RetriesOpt = 5,
    timeout: TimeoutOpt = None,
    order: OrderOpt = None,
    cache: CacheOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Fetch what arXiv announced since the last sync into an index: the papers of an API query (--arxiv-api), or
    the records of an OAI-PMH set (--oai-pmh, arXiv's way to bulk metadata).

    One request per --delay seconds, retried with backoff; an interrupted sync resumes where it stopped.
    """
    from engine.pipeline.build import Options

    api_only = {"api_url": api_url, "max_results": max_results, "page_size": page_size, "order": order}
    oai_only = {"oai_url": oai_url, "from_date": from_date, "until": until}
    with user_errors():
        _one_source(arxiv_api, oai_pmh, api_only, oai_only)
        settings = {k: v for k, v in {**api_only, **oai_only, "timeout": timeout}.items() if v is not None}
        settings.update(delay=delay, retries=retries, build=Options(use_cache=cache, progress=not as_json))
        report = _run(arxiv_api, oai_pmh, index, settings)
    for problem in report.problems[:20]:
        typer.echo(f"skipped {problem}", err=True)
    if len(report.problems) > 20:
        typer.echo(f"... and {len(report.problems) - 20:,} more skipped records", err=True)
    if as_json:
        print_json(report.to_dict())
        return
    lines = harvest_lines(report) if oai_pmh is not None else summary_lines(report)
    typer.echo("\n".join([*lines, *_index_lines(report)]))


def _one_source(arxiv_api: str | None, oai_pmh: str | None, api_only: dict, oai_only: dict) -> None:
    """Exactly one of --arxiv-api and --oai-pmh, and only the options that apply to it."""
    if (arxiv_api is None) == (oai_pmh is None):
        raise SyncError("give exactly one of --arxiv-api QUERY or --oai-pmh SET")
    given, source = (oai_only, "--oai-pmh") if arxiv_api is not None else (api_only, "--arxiv-api")
    wrong = [_OPTION.get(name, "--" + name.replace("_", "-")) for name, value in given.items() if value is not None]
    if wrong:
        raise SyncError(f"{', '.join(wrong)} only applies with {source}")


_OPTION = {"from_date": "--from"}


def _run(arxiv_api: str | None, oai_pmh: str | None, index: Path, settings: dict) -> SyncReport | HarvestReport:
    if oai_pmh is not None:
        from engine.pipeline.oai_sync import HarvestOptions, harvest

        return harvest(oai_pmh, index, HarvestOptions(**settings))
    from engine.pipeline.sync import SyncOptions, sync

    return sync(arxiv_api, index, SyncOptions(**settings))


def summary_lines(report: SyncReport) -> list[str]:
    resumed = f" (+{report.pages_resumed} staged earlier)" if report.pages_resumed else ""
    return [
        f"synced {report.query!r} into {report.index_dir}: {report.pages_fetched} page(s) fetched{resumed}, "
        f"{report.entries_seen:,} entries, {report.new_entries:,} newer than the last sync, "
        f"{report.new_papers:,} new papers; stopped: {report.stopped or 'nothing to fetch'}",
        _requests_line(report),
    ]


def harvest_lines(report: HarvestReport) -> list[str]:
    resumed = f" (+{report.pages_resumed} staged earlier)" if report.pages_resumed else ""
    window = f"from {report.from_date or 'the start'} until {report.until or 'now'}"
    return [
        f"harvested set {report.set!r} {window} into {report.index_dir}: {report.pages_fetched} page(s) "
        f"fetched{resumed}, {report.records:,} records ({report.deleted:,} deleted, {len(report.problems):,} "
        f"skipped), {report.new_papers:,} new papers",
        _requests_line(report),
    ]


def _requests_line(report: SyncReport | HarvestReport) -> str:
    return (
        f"requests {report.requests} ({report.retries} retried), waited {report.rate_limit_wait:.1f} s "
        f"for the rate limit and {report.backoff_wait:.1f} s backing off; "
        f"high-water mark {report.high_water or 'none'}"
    )


def _index_lines(report: SyncReport | HarvestReport) -> list[str]:
    if not report.build:
        return []
    b = report.build
    return [
        f"index {b['index']} ({b['version']}): {b['papers']:,} papers; embedded {b['embedded']:,}, "
        f"{b['skipped_records']:,} records skipped"
    ]
