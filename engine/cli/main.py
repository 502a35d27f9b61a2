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

from engine.errors import PaperscopeError, QueryError, UnknownTopic

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
TopicOpt = Annotated[int | None, typer.Option("--topic", help="Only papers of this topic (see paperscope topics).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for UMAP, HDBSCAN and the map layout.")]
TopicsOpt = Annotated[bool, typer.Option("--topics/--no-topics", help="Find topic clusters and the map.")]
ClustererOpt = Annotated[str, typer.Option("--clusterer", help="graph (Louvain, default) or umap-hdbscan.")]
DEFAULT_INDEX = Path("indexes/default")


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
        raise typer.Exit(2) from None


def _stdout():
    from rich.console import Console

    # Off a terminal rich assumes 80 columns; titles read better a little wider.
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 120)


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def _print_problems(problems: list, limit: int = 20) -> None:
    for problem in problems[:limit]:
        typer.echo(f"skipped {problem}", err=True)
    if len(problems) > limit:
        typer.echo(f"... and {len(problems) - limit:,} more skipped records", err=True)


def _print_report(report, as_json: bool, verb: str) -> None:
    _print_problems(report.problems)
    if as_json:
        print_json(report.to_dict())
        return
    typer.echo(
        f"{verb} {report.index_dir} ({report.version}): {report.papers:,} papers, {report.new_papers:,} new; "
        f"embedded {report.embedded:,}, reused {report.reused:,} from the index and {report.cached:,} from the cache; "
        f"{len(report.problems):,} records skipped, {report.duplicates:,} duplicates merged "
        f"in {report.seconds.get('total', 0):.1f}s"
    )
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
    backend: Annotated[
        str,
        typer.Option(
            help="auto (fastest that passes the quality guard), torch, torch-fp32, torch-bf16, "
            "onnx, onnx-fp32, onnx-int8 or static (fast, lower quality)."
        ),
    ] = "auto",
    cache: CacheOpt = True,
    topics: TopicsOpt = True,
    seed: SeedOpt = 42,
    clusterer: ClustererOpt = "graph",
    index_type: Annotated[
        str,
        typer.Option(
            "--index-type", help="auto (exact up to 20k papers, HNSW up to 400k, then IVF-SQ8), flat, hnsw or ivf."
        ),
    ] = "auto",
    ray: Annotated[
        bool, typer.Option("--ray", help="Embed on Ray: an actor pool on a local Ray, or on --ray-address.")
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="A Ray cluster to embed on (e.g. ray://head:10001); implies --ray."),
    ] = None,
    ray_actors: Annotated[int | None, typer.Option("--ray-actors", help="Actors (default: one per CPU).")] = None,
    ray_threads: Annotated[int, typer.Option("--ray-threads", help="Model threads per actor.")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Build an index from papers (replaces what the index held)."""
    from engine import build as builder
    from engine.topics import TopicParams

    with user_errors():
        plan = None
        if ray or ray_address:
            from engine.ray_embed import RayPlan

            plan = RayPlan(address=ray_address, actors=ray_actors, threads=ray_threads)
        options = builder.Options(
            ray=plan,
            model=model,
            backend=backend,
            use_cache=cache,
            progress=not as_json,
            topics=topics,
            topic_params=TopicParams(seed=seed, clusterer=clusterer),
            index_type=index_type,
        )
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

    with user_errors():
        options = builder.Options(model=model, use_cache=cache, progress=not as_json)
        report = builder.add(inputs, index, options)
    _print_report(report, as_json, "updated")


@app.command("topics")
def topics_command(
    index: IndexOpt = DEFAULT_INDEX,
    level: LevelOpt = "fine",
    refit: Annotated[bool, typer.Option("--refit", help="Cluster again (topic ids kept where topics match).")] = False,
    seed: SeedOpt = 42,
    clusterer: ClustererOpt = "graph",
    as_json: JsonOpt = False,
) -> None:
    """List the topics: id, label, size, keywords and representative papers."""
    import engine
    from engine import answers

    with user_errors():
        if refit:
            from engine import build as builder
            from engine.topics import TopicParams

            report = builder.refit(index, builder.Options(topic_params=TopicParams(seed=seed, clusterer=clusterer)))
            if not as_json:
                _print_report(report, False, "refitted")
        with engine.open(index) as ix:
            found = ix.topics(level)
            if not found and not ix.has_topics():
                raise UnknownTopic(f"the index at {index} has no topics: run paperscope topics --refit --index {index}")
            if as_json:
                print_json(answers.topics_answer(ix, level))
                return
            titles = answers.coarse_labels(ix)
            _print_topics(found, level, titles, ix)


@app.command("topic")
def topic_command(
    topic_id: Annotated[int, typer.Argument(help="Topic id (see paperscope topics).")],
    index: IndexOpt = DEFAULT_INDEX,
    level: LevelOpt = "fine",
    k: Annotated[int, typer.Option("-k", help="Papers to show (default: all).")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """A topic's papers, nearest its centre first."""
    import engine
    from engine import answers

    with user_errors(), engine.open(index) as ix:
        if as_json:
            print_json(answers.topic_answer(ix, topic_id, level, k))
            return
        found = ix.topic(topic_id, level)
        hits = ix.topic_papers(topic_id, level)
        if k > 0:
            hits = hits[:k]
    keywords = ", ".join(found.keywords)
    print_hits(hits, f"{level} topic {found.id}: {found.label} ({found.size} papers) — {keywords}")


@app.command("map")
def map_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="FILE.html (interactive, offline) or FILE.png.")],
    index: IndexOpt = DEFAULT_INDEX,
) -> None:
    """Write the topic map: an interactive offline HTML page or a PNG picture."""
    import engine
    from engine import maps

    suffix = out.suffix.lower()
    with user_errors():
        if suffix not in {".html", ".png"}:
            raise QueryError(f"{out}: the map is written as .html or .png")
        with engine.open(index) as ix:
            data = ix.map_data()
            title = f"paperscope topic map: {index} ({len(ix):,} papers, {len(data.fine_topics)} topics)"
        out.parent.mkdir(parents=True, exist_ok=True)
        (maps.write_html if suffix == ".html" else maps.write_png)(data, out, title)
    typer.echo(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def _print_topics(found: list, level: str, coarse_titles: dict, ix) -> None:
    from rich.table import Table

    from engine import answers

    table = Table(title=f"{len(found)} {level} topics ({answers.outliers(ix):,} outliers)", title_justify="left")
    table.add_column("id", justify="right", style="cyan")
    table.add_column("size", justify="right")
    table.add_column("label", style="bold magenta", max_width=36)
    table.add_column("keywords", max_width=50)
    if level == "fine":
        table.add_column("within", max_width=30, style="dim")
    table.add_column("representative paper", max_width=50)
    for t in found:
        first = ix.paper(t.representatives[0]).title if t.representatives and t.representatives[0] in ix else ""
        cells = [str(t.id), str(t.size), t.label, ", ".join(t.keywords[:6])]
        if level == "fine":
            cells.append(coarse_titles.get(t.parent, "") if t.parent is not None else "")
        table.add_row(*cells, first)
    _stdout().print(table)


@app.command()
def verify(
    index: IndexOpt = DEFAULT_INDEX,
    all_versions: Annotated[bool, typer.Option("--all", help="Also check the older versions kept on disk.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check every file of an index against its manifest (exit 0 when sound, 1 when not)."""
    from engine.verify import verify_index

    with user_errors():
        reports = verify_index(index, all_versions)
    if as_json:
        print_json(
            {
                "sound": not any(r.problems for r in reports),
                "versions": [
                    {"path": str(r.path), "live": r.live, "papers": r.papers, "files": r.files, "problems": r.problems}
                    for r in reports
                ],
            }
        )
    else:
        for r in reports:
            state = "sound" if not r.problems else f"{len(r.problems)} problem(s)"
            typer.echo(f"{r.path}{' (live)' if r.live else ''}: {r.files} files, {r.papers:,} papers, {state}")
            for problem in r.problems:
                typer.echo(f"  {problem}", err=True)
    if any(r.problems for r in reports):
        raise typer.Exit(1)


@app.command()
def info(index: IndexOpt = DEFAULT_INDEX, as_json: JsonOpt = False) -> None:
    """What an index holds and how it was built."""
    import engine

    with user_errors(), engine.open(index) as ix:
        data = ix.info()
    if as_json:
        print_json(data)
        return
    model, build_info, topic_info = data["model"], data["build"], data.get("topics")
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
    if topic_info:
        lines.insert(
            4,
            f"topics     {topic_info['fine_topics']} fine, {topic_info['coarse_topics']} coarse, "
            f"{topic_info['outlier_share']:.1%} outliers (seed {topic_info['params']['seed']})",
        )
    typer.echo("\n".join(lines))


@app.command()
def serve(
    index: IndexOpt = DEFAULT_INDEX,
    host: Annotated[str, typer.Option(help="Address to bind; other than loopback needs a token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    token: Annotated[
        str | None, typer.Option(envvar="PAPERSCOPE_TOKEN", help="Clients must send Authorization: Bearer TOKEN.")
    ] = None,
) -> None:
    """Serve the HTTP API and the web page (search, papers, recommendations, topic map)."""
    from engine.serve import serve as run_server

    with user_errors():
        run_server(index, host, port, token)


@app.command()
def demo(index: IndexOpt = Path("indexes/demo"), cache: CacheOpt = True) -> None:
    """Build the bundled demo index (cs.CV, 19 Nov 2020) and show a few answers."""
    import engine
    from engine import build as builder
    from engine.demo import DEMO_QUERIES, DEMO_RELATED, demo_corpus

    with user_errors():
        report = builder.build([demo_corpus()], index, builder.Options(use_cache=cache))
        _print_report(report, False, "built")
        with engine.open(index) as ix:
            for text in DEMO_QUERIES:
                print_hits(ix.search(text, k=3), f"search: {text}")
            source = ix.paper(DEMO_RELATED)
            print_hits(ix.related(DEMO_RELATED, k=3), f"related to {source.id}: {source.title}")
    typer.echo(f'\nTry: paperscope search "your question" --index {index}')
    typer.echo(f"     paperscope serve --index {index}   (then open http://127.0.0.1:8000/)")


# The query commands (search, related, recommend) register themselves on ``app`` when
# imported; sync (the arXiv API fetcher) is registered here.
from engine import cli_query, cli_sync  # noqa: E402, F401

cli_sync.register(app)

if __name__ == "__main__":
    # Run the importable module, not this __main__ copy: the query commands register on
    # engine.cli.app.
    from engine.cli import app as registered_app

    registered_app()
