"""The ``paperscope`` command: a thin layer over :mod:`engine.build` and the facade.

Exit codes: 0 success; 2 a user error (missing index, unknown id, empty query, bad
input), printed as one line on stderr. Engine modules are imported inside commands so
``paperscope --help`` stays fast.
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
DEFAULT_INDEX = Path("indexes/default")


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except PaperscopeError as exc:
        typer.echo(f"paperscope: error: {exc}", err=True)
        raise typer.Exit(2) from None


def _stdout():
    from rich.console import Console

    # Off a terminal rich assumes 80 columns; titles read better a little wider.
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 120)


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def _print_problems(problems: list, limit: int = 20) -> None:
    for problem in problems[:limit]:
        typer.echo(f"skipped {problem}", err=True)
    if len(problems) > limit:
        typer.echo(f"... and {len(problems) - limit:,} more skipped records", err=True)


def _print_report(report, as_json: bool, verb: str) -> None:
    _print_problems(report.problems)
    if as_json:
        _print_json(report.to_dict())
        return
    typer.echo(
        f"{verb} {report.index_dir} ({report.version}): {report.papers:,} papers, {report.new_papers:,} new; "
        f"embedded {report.embedded:,}, reused {report.reused:,} from the index and {report.cached:,} from the cache; "
        f"{len(report.problems):,} records skipped, {report.duplicates:,} duplicates merged "
        f"in {report.seconds.get('total', 0):.1f}s"
    )


def _print_hits(hits: list, heading: str) -> None:
    from rich.table import Table

    table = Table(title=heading, title_justify="left", show_lines=False, expand=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("score", justify="right")
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("title", overflow="fold", max_width=80)
    table.add_column("date", no_wrap=True)
    with_topics = any(hit.topic for hit in hits)
    if with_topics:
        table.add_column("topic", style="magenta", max_width=30)
    for hit in hits:
        cells = [str(hit.rank), f"{hit.score:.3f}", hit.paper.id, hit.paper.title, hit.paper.date or ""]
        if with_topics:
            cells.append(hit.topic["label"] if hit.topic else "")
        table.add_row(*cells)
    _stdout().print(table)


@app.command()
def build(
    inputs: Inputs,
    index: IndexOpt = DEFAULT_INDEX,
    model: ModelOpt = None,
    precision: Annotated[str, typer.Option(help="auto (bf16 where the CPU has it), fp32 or bf16.")] = "auto",
    cache: CacheOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Build an index from papers (replaces what the index held)."""
    from engine import build as builder

    with _user_errors():
        options = builder.Options(model=model, precision=precision, use_cache=cache, progress=not as_json)
        report = builder.build(inputs, index, options)
    _print_report(report, as_json, "built")


@app.command()
def add(
    inputs: Inputs,
    index: IndexOpt = DEFAULT_INDEX,
    model: ModelOpt = None,
    cache: CacheOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Add papers to an index; only new or changed papers are embedded."""
    from engine import build as builder

    with _user_errors():
        options = builder.Options(model=model, use_cache=cache, progress=not as_json)
        report = builder.add(inputs, index, options)
    _print_report(report, as_json, "updated")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    index: IndexOpt = DEFAULT_INDEX,
    k: KOpt = 10,
    as_json: JsonOpt = False,
) -> None:
    """Papers nearest in meaning to a text query."""
    import engine

    with _user_errors(), engine.open(index) as ix:
        hits = ix.search(query, k=k)
    if as_json:
        _print_json({"query": query, "hits": [hit.to_dict() for hit in hits]})
    else:
        _print_hits(hits, f"search: {query}")


@app.command()
def related(
    paper_id: Annotated[str, typer.Argument(help="arXiv id of a paper in the index, e.g. 2011.09300.")],
    index: IndexOpt = DEFAULT_INDEX,
    k: KOpt = 10,
    as_json: JsonOpt = False,
) -> None:
    """Papers related to a paper in the index."""
    import engine

    with _user_errors(), engine.open(index) as ix:
        source = ix.paper(paper_id)
        hits = ix.related(paper_id, k=k)
    if as_json:
        _print_json({"paper": source.id, "title": source.title, "hits": [hit.to_dict() for hit in hits]})
    else:
        _print_hits(hits, f"related to {source.id}: {source.title}")


@app.command()
def info(index: IndexOpt = DEFAULT_INDEX, as_json: JsonOpt = False) -> None:
    """What an index holds and how it was built."""
    import engine

    with _user_errors(), engine.open(index) as ix:
        data = ix.info()
    if as_json:
        _print_json(data)
        return
    model, build_info = data["model"], data["build"]
    size = sum(f["bytes"] for f in data["files"].values())
    lines = [
        f"index      {index} (version {data['version']}, built {data['created']})",
        f"papers     {data['counts']['papers']:,}",
        f"model      {model['name']} ({model['dimension']}-d, {model['backend']}, fingerprint {model['fingerprint']})",
        f"vectors    {data['index']['type']} ({data['index']['faiss']}, {data['index']['metric']})",
        f"size       {size / 1e6:.1f} MB in {len(data['files'])} files",
        f"last build {build_info['new_papers']:,} new papers, {build_info['embedded']:,} embedded, "
        f"{build_info['skipped_records']:,} records skipped",
        "libraries  " + ", ".join(f"{k} {v}" for k, v in data["libraries"].items()),
    ]
    typer.echo("\n".join(lines))


@app.command()
def demo(index: IndexOpt = Path("indexes/demo"), cache: CacheOpt = True) -> None:
    """Build the bundled demo index (cs.CV, 19 Nov 2020) and show a few answers."""
    import engine
    from engine import build as builder
    from engine.demo import DEMO_QUERIES, DEMO_RELATED, demo_corpus

    with _user_errors():
        report = builder.build([demo_corpus()], index, builder.Options(use_cache=cache))
        _print_report(report, False, "built")
        with engine.open(index) as ix:
            for text in DEMO_QUERIES:
                _print_hits(ix.search(text, k=3), f"search: {text}")
            source = ix.paper(DEMO_RELATED)
            _print_hits(ix.related(DEMO_RELATED, k=3), f"related to {source.id}: {source.title}")
    typer.echo(f'\nTry: paperscope search "your question" --index {index}')


if __name__ == "__main__":
    app()
