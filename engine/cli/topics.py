"""The topic commands: topics (list, or refit), topic (one topic's papers) and map."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.artifact import DEFAULT_INDEX
from engine.cli.common import (
    ClustererOpt,
    IndexOpt,
    JsonOpt,
    LevelOpt,
    SeedOpt,
    TopicSampleOpt,
    app,
    print_hits,
    print_json,
    print_report,
    stdout,
    user_errors,
)
from engine.errors import QueryError, UnknownTopic


@app.command("topics")
def topics_command(
    index: IndexOpt = DEFAULT_INDEX,
    level: LevelOpt = "fine",
    refit: Annotated[bool, typer.Option("--refit", help="Cluster again (topic ids kept where topics match).")] = False,
    seed: SeedOpt = 42,
    clusterer: ClustererOpt = "graph",
    topic_sample: TopicSampleOpt = None,
    ray: Annotated[
        bool, typer.Option("--ray", help="With --refit: run the kNN searches as Ray tasks (a local Ray, or --ray-address).")
    ] = False,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="With --refit: a Ray cluster to search on; implies --ray.")
    ] = None,
    trends: Annotated[
        bool, typer.Option("--trends", help="Papers per month of each topic, and the emerging topics.")
    ] = False,
    since: Annotated[str | None, typer.Option("--since", help="With --trends: from this date (2025, 2025-06).")] = None,
    recent: Annotated[int, typer.Option("--recent", help="With --trends: months that count as recent.")] = 3,
    as_json: JsonOpt = False,
) -> None:
    """List the topics: id, label, size, keywords and representative papers (or, with
    --trends, their papers per month and the emerging ones)."""
    import engine
    from engine.query import answers

    with user_errors():
        if trends:
            with engine.open(index) as ix:
                answer = answers.trends_answer(ix, level, since, recent)
            print_json(answer) if as_json else _print_trends(answer)
            return
        if refit:
            from engine.pipeline import build as builder
            from engine.topics.fit import TopicParams

            plan = None
            if ray or ray_address:
                from engine.embedding.ray_embed import RayPlan

                plan = RayPlan(address=ray_address)
            params = TopicParams(seed=seed, clusterer=clusterer, sample_size=topic_sample)
            report = builder.refit(index, builder.Options(topic_params=params, ray=plan))
            if not as_json:
                print_report(report, False, "refitted")
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
    from engine.query import answers

    with user_errors(), engine.open(index) as ix:
        if as_json:
            print_json(answers.topic_answer(ix, topic_id, level, k))
            return
        found = ix.topic(topic_id, level)
        hits = ix.topic_papers(topic_id, level, k)
    keywords = ", ".join(found.keywords)
    print_hits(hits, f"{level} topic {found.id}: {found.label} ({found.size} papers) — {keywords}")


@app.command("map")
def map_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="FILE.html (interactive, offline) or FILE.png.")],
    index: IndexOpt = DEFAULT_INDEX,
) -> None:
    """Write the topic map: an interactive offline HTML page or a PNG picture."""
    import engine
    from engine.query import maps

    suffix = out.suffix.lower()
    with user_errors():
        if suffix not in {".html", ".png"}:
            raise QueryError(f"{out}: the map is written as .html or .png")
        with engine.open(index) as ix:
            data = ix.map_data()
            topics = len(data.fine_topics)
            title = f"paperscope topic map: {index} ({len(ix):,} papers, {topics} topic{'' if topics == 1 else 's'})"
        out.parent.mkdir(parents=True, exist_ok=True)
        (maps.write_html if suffix == ".html" else maps.write_png)(data, out, title)
    typer.echo(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def _print_topics(found: list, level: str, coarse_titles: dict, ix) -> None:
    from rich.table import Table

    from engine.query import answers

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
    stdout().print(table)


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(counts: list[int]) -> str:
    """Papers per month as a row of block characters, scaled to the busiest month."""
    top = max(counts, default=0)
    return "".join(" " if c == 0 else SPARK[min(len(SPARK) - 1, c * len(SPARK) // (top + 1))] for c in counts)


def _print_trends(answer: dict) -> None:
    from rich.table import Table

    months = answer["months"]
    span = f"{months[0]} to {months[-1]}" if months else "no dated papers"
    recent = answer["recent_months"]
    table = Table(title=f"{answer['level']} topics per month, {span}", title_justify="left")
    for name, justify in (("id", "right"), ("label", "left"), ("papers", "right"), ("per month", "left")):
        table.add_column(name, justify=justify)
    table.add_column(f"share, last {recent} months vs before", justify="right")
    for t in answer["topics"]:
        mark = " ▲ emerging" if t["emerging"] else ""
        cells = [str(t["id"]), t["label"] or "", str(sum(t["counts"])), sparkline(t["counts"])]
        table.add_row(*cells, f"×{t['growth']:.2f} (z {t['z']:.1f}){mark}")
    stdout().print(table)
    rising = ", ".join(f"{t['label']} (×{t['growth']:.2f})" for t in answer["emerging"]) or "none"
    typer.echo(f"emerging over the last {recent} complete months: {rising}")
    if answer["complete_months"] < len(months):
        left_out = ", ".join(months[answer["complete_months"] :])
        typer.echo(f"(still being collected, so not compared: {left_out})")
