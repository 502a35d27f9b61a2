"""What every ``paperscope`` command shares: the app, the option types, the one way
user errors become exit code 2, and the printers for reports and hits.

Exit codes: 0 success; 1 a check that found problems (``verify``); 2 a user error
(missing index, unknown id, empty query, bad input), printed as one line on stderr.
Engine modules are imported inside commands so ``paperscope --help`` stays fast.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from engine.errors import PaperscopeError

app = typer.Typer(
    name="paperscope",
    help="Semantic search and topic clustering for scientific papers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

IndexOpt = Annotated[Path, typer.Option("--index", "-i", help="Index folder.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
KOpt = Annotated[int, typer.Option("-k", help="Number of results (1-1000).")]
ModelOpt = Annotated[
    Path | None,
    typer.Option("--model", help="A local sentence-transformers folder (default: bundled all-MiniLM-L6-v2)."),
]
CacheOpt = Annotated[bool, typer.Option("--cache/--no-cache", help="Use the embedding cache ($PAPERSCOPE_CACHE).")]
Inputs = Annotated[list[Path], typer.Argument(help="Digest .md files, JSONL(.gz) files, or folders of them.")]
LevelOpt = Annotated[str, typer.Option("--level", help="Topic level: fine or coarse.")]
LibraryOpt = Annotated[str, typer.Option("--library", "-l", help="Library name.")]
TopicOpt = Annotated[int | None, typer.Option("--topic", help="Only papers of this topic (see paperscope topics).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for UMAP, HDBSCAN and the map layout.")]
TopicsOpt = Annotated[bool, typer.Option("--topics/--no-topics", help="Find topic clusters and the map.")]
ClustererOpt = Annotated[str, typer.Option("--clusterer", help="graph (Louvain, default) or umap-hdbscan.")]
TopicSampleOpt = Annotated[
    int | None,
    typer.Option(
        "--topic-sample",
        min=10,
        metavar="N",
        help="Fit topics on a stratified sample of at most N papers and assign the rest by their nearest "
        "sampled papers (default 100,000: a larger corpus costs a sample's memory, not its own).",
    ),
]
SentencesOpt = Annotated[
    bool,
    typer.Option(
        "--sentences",
        help="Also embed every sentence, so related papers can match on a method or a result "
        "(better related papers; about twice the embedding time, ~5 KB a paper on disk).",
    ),
]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except PaperscopeError as exc:
        typer.echo(f"paperscope: error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None


def stdout():
    from rich.console import Console

    # Off a terminal rich assumes 80 columns; titles read better a little wider.
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 120)


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def print_problems(problems: list, limit: int = 20) -> None:
    for problem in problems[:limit]:
        typer.echo(f"skipped {problem}", err=True)
    if len(problems) > limit:
        typer.echo(f"... and {len(problems) - limit:,} more skipped records", err=True)


def print_report(report, as_json: bool, verb: str) -> None:
    print_problems(report.problems)
    if as_json:
        print_json(report.to_dict())
        return
    typer.echo(
        f"{verb} {report.index_dir} ({report.version}): {report.papers:,} papers; "
        f"read {report.read:,}: {report.new_papers:,} new, {report.replaced:,} replaced by a newer copy, "
        f"{report.unchanged:,} already indexed; vectors: {report.embedded:,} embedded, {report.cached:,} from the "
        f"cache, {report.reused:,} kept from the index; {len(report.problems):,} records skipped, "
        f"{report.duplicates:,} duplicates merged, in {report.seconds.get('total', 0):.1f}s"
    )
    stages = [f"{name} {seconds:.1f}s" for name, seconds in report.seconds.items() if name != "total"]
    if stages:
        typer.echo("time: " + ", ".join(stages))
    if report.topics:
        t = report.topics
        if "assigned_without_refit" in t:
            typer.echo(f"topics: {t['assigned_without_refit']:,} papers placed in existing topics (no refit)")
        else:
            typer.echo(
                f"topics: {t['fine_topics']} fine, {t['coarse_topics']} coarse; "
                f"noise before the outlier policy {t['noise_share']:.0%}, outliers after it {t['outlier_share']:.1%}"
            )
        for level, changes in (t.get("changes") or {}).items():
            parts = [f"{len(changes['kept'])} kept"] + [
                f"{len(changes[key])} {key}" for key in ("split", "merged", "born", "gone") if changes[key]
            ]
            typer.echo(f"  {level} topics vs the previous version: " + ", ".join(parts))


def print_hits(hits: list, heading: str) -> None:
    """Hits as a table: the match (relevance, as on the page) where the answer has it,
    and each title over its snippet with the matched words in bold."""
    from rich.table import Table

    table = Table(title=heading, title_justify="left", show_lines=False, expand=False)
    table.add_column("#", justify="right", style="dim")
    with_relevance = any(hit.relevance is not None for hit in hits)
    table.add_column("match" if with_relevance else "score", justify="right")
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("title", overflow="fold", max_width=80)
    table.add_column("date", no_wrap=True)
    with_topics = any(hit.topic for hit in hits)
    if with_topics:
        table.add_column("topic", style="magenta", max_width=30)
    for hit in hits:
        shown = f"{hit.relevance:.0%}" if with_relevance and hit.relevance is not None else f"{hit.score:.3f}"
        cells = [str(hit.rank), shown, hit.paper.id, _title_and_snippet(hit), hit.paper.date or ""]
        if with_topics:
            cells.append(hit.topic["label"] if hit.topic else "")
        table.add_row(*cells)
    stdout().print(table)


def _title_and_snippet(hit):
    from rich.text import Text

    from engine.query.snippets import pieces

    cell = Text(hit.paper.title)
    if hit.snippet and hit.snippet["text"]:
        cell.append("\n")
        for piece, marked in pieces(hit.snippet):
            cell.append(piece, style="bold" if marked else "dim")
    return cell


def print_reasons(hits: list) -> None:
    """Why each related or recommended hit was chosen, one line each (a second with the
    sentence pair that matched best, when the index has sentence vectors)."""
    for hit in hits:
        why = hit.because or {}
        source = f"like {why['like']}, " if "like" in why else ""
        words = ", ".join(why.get("words", [])) or "-"
        typer.echo(f"  {hit.rank:>2}. {hit.paper.id}: {source}cosine {why.get('similarity', 0):.2f}; shares {words}")
        pair = why.get("sentences")
        if pair:
            typer.echo(f'      "{_clip(pair["source"])}" ~ "{_clip(pair["hit"])}" ({pair["similarity"]:.2f})')


def _clip(sentence: str, limit: int = 90) -> str:
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"
