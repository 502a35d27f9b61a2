"""``paperscope sync --arxiv-api QUERY``: the daily update from the arXiv API (see
:mod:`engine.pipeline.sync`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from engine.artifact import DEFAULT_INDEX
from engine.cli.common import CacheOpt, JsonOpt, app, print_json, user_errors
from engine.ingest.arxiv_client import DEFAULT_API_URL, MAX_PAGE_SIZE

if TYPE_CHECKING:
    from engine.pipeline.sync import SyncReport

QueryOpt = Annotated[
    str,
    typer.Option(
        "--arxiv-api",
        help="An arXiv API search_query, e.g. 'cat:cs.CL' or 'cat:cs.CV AND abs:segmentation'.",
        show_default=False,
    ),
]
SyncIndexOpt = Annotated[Path, typer.Option("--index", "-i", help="Index folder (built if it does not exist).")]
ApiUrlOpt = Annotated[str, typer.Option("--api-url", help="The arXiv API query endpoint.")]
MaxResultsOpt = Annotated[
    int,
    typer.Option(
        "--max-results", min=1, help="Entries a first sync fetches at most; later syncs reach back to the previous one."
    ),
]
PageSizeOpt = Annotated[int, typer.Option("--page-size", min=1, max=MAX_PAGE_SIZE, help="Entries per request.")]
DelayOpt = Annotated[float, typer.Option("--delay", min=0.0, help="Seconds between the starts of requests.")]
RetriesOpt = Annotated[int, typer.Option("--retries", min=0, help="Retries per page after the first attempt.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds to wait for an answer.")]
OrderOpt = Annotated[
    str,
    typer.Option(
        "--order",
        help="submitted: new papers (by submission date); updated: new versions of older papers too "
        "(by last update), which replace them in the index.",
    ),
]


@app.command("sync")
def sync_command(
    arxiv_api: QueryOpt,
    index: SyncIndexOpt = DEFAULT_INDEX,
    api_url: ApiUrlOpt = DEFAULT_API_URL,
    max_results: MaxResultsOpt = 500,
    page_size: PageSizeOpt = 100,
    delay: DelayOpt = 3.0,
    retries: RetriesOpt = 5,
    timeout: TimeoutOpt = 30.0,
    order: OrderOpt = "submitted",
    cache: CacheOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Fetch the papers of an arXiv API query announced since the last sync into an index.

    Newest first, one request per --delay seconds, retried with backoff; an interrupted sync resumes where it stopped.
    """
    from engine.pipeline.build import Options
    from engine.pipeline.sync import SyncOptions, sync

    with user_errors():
        options = SyncOptions(
            api_url=api_url,
            max_results=max_results,
            page_size=page_size,
            delay=delay,
            retries=retries,
            timeout=timeout,
            order=order,
            build=Options(use_cache=cache, progress=not as_json),
        )
        report = sync(arxiv_api, index, options)
    for problem in report.problems[:20]:
        typer.echo(f"skipped {problem}", err=True)
    if len(report.problems) > 20:
        typer.echo(f"... and {len(report.problems) - 20:,} more skipped entries", err=True)
    if as_json:
        print_json(report.to_dict())
        return
    typer.echo("\n".join(summary_lines(report)))


def summary_lines(report: SyncReport) -> list[str]:
    resumed = f" (+{report.pages_resumed} staged earlier)" if report.pages_resumed else ""
    lines = [
        f"synced {report.query!r} into {report.index_dir}: {report.pages_fetched} page(s) fetched{resumed}, "
        f"{report.entries_seen:,} entries, {report.new_entries:,} newer than the last sync, "
        f"{report.new_papers:,} new papers; stopped: {report.stopped or 'nothing to fetch'}",
        f"requests {report.requests} ({report.retries} retried), waited {report.rate_limit_wait:.1f} s "
        f"for the rate limit and {report.backoff_wait:.1f} s backing off; "
        f"high-water mark {report.high_water or 'none'}",
    ]
    if report.build:
        b = report.build
        lines.append(
            f"index {b['index']} ({b['version']}): {b['papers']:,} papers; embedded {b['embedded']:,}, "
            f"{b['skipped_records']:,} entries skipped"
        )
    return lines
