"""The query commands of ``paperscope``: search (single or batch), related, recommend,
with the filters they share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from engine.artifact import DEFAULT_INDEX
from engine.cli.common import (
    IndexOpt,
    JsonOpt,
    KOpt,
    LevelOpt,
    TopicOpt,
    app,
    print_hits,
    print_json,
    print_reasons,
    user_errors,
)
from engine.errors import InputError, QueryError

CategoryOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--category", "-c", help="Only these categories: exact (cs.CV) or prefix (cs., astro-ph). Repeatable."
    ),
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Only papers dated on or after (2025, 2025-06, 2025-06-15).")
]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Only papers dated on or before.")]


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="What to look for, in plain words.")] = None,
    index: IndexOpt = DEFAULT_INDEX,
    k: KOpt = 10,
    topic: TopicOpt = None,
    level: LevelOpt = "fine",
    category: CategoryOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    queries: Annotated[
        Path | None, typer.Option("--queries", help="A file of queries, one per line (with --json: JSON lines out).")
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="hybrid (default: meaning + words), dense (meaning) or lexical (BM25).")
    ] = "hybrid",
    sort: Annotated[
        str, typer.Option("--sort", help="relevance (default) or date: the newest of the 100 most relevant first.")
    ] = "relevance",
    as_json: JsonOpt = False,
) -> None:
    """Papers nearest in meaning to a text query (or to each line of --queries FILE)."""
    import engine

    with user_errors():
        filters = _filters(category, since, until, topic, level)
        if (query is None) == (queries is None):
            raise QueryError("give either a query or --queries FILE")
        with engine.open(index) as ix:
            if queries is not None:
                for result in ix.search_many(_read_queries(queries), k=k, filters=filters, mode=mode):
                    if as_json:
                        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
                    elif result.error:
                        typer.echo(f"{queries}:{result.line}: {result.error}", err=True)
                    else:
                        print_hits(result.hits, f"search: {result.query} ({result.elapsed_ms:.1f} ms)")
                return
            hits = ix.search(query, k=k, filters=filters, mode=mode, sort=sort)
    if as_json:
        from engine.query.answers import search_answer

        print_json(search_answer(query, mode, filters, hits, sort=sort))
    else:
        print_hits(hits, f"search: {query}")


def _filters(category, since, until, topic, level):
    from engine.query.filters import Filters

    return Filters(categories=tuple(category or ()), since=since, until=until, topic=topic, level=level)


def _read_queries(path: Path) -> list[tuple[int, str]]:
    """(line number, text) for every non-blank line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read queries ({exc})") from exc
    return [(number, line.strip()) for number, line in enumerate(lines, start=1) if line.strip()]


@app.command()
def related(
    paper_id: Annotated[str, typer.Argument(help="arXiv id of a paper in the index, e.g. 2011.09300.")],
    index: IndexOpt = DEFAULT_INDEX,
    k: KOpt = 10,
    topic: TopicOpt = None,
    level: LevelOpt = "fine",
    category: CategoryOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Papers related to a paper in the index."""
    import engine

    with user_errors():
        filters = _filters(category, since, until, topic, level)
        with engine.open(index) as ix:
            source = ix.paper(paper_id)
            hits = ix.related(paper_id, k=k, filters=filters)
    if as_json:
        from engine.query.answers import related_answer

        print_json(related_answer(source, hits))
    else:
        print_hits(hits, f"related to {source.id}: {source.title}")
        print_reasons(hits)


@app.command()
def recommend(
    like: Annotated[list[str], typer.Option("--like", help="A paper you like (arXiv id). Repeatable.")],
    unlike: Annotated[
        list[str] | None, typer.Option("--unlike", help="A paper you do not want more of. Repeatable.")
    ] = None,
    index: IndexOpt = DEFAULT_INDEX,
    k: KOpt = 10,
    method: Annotated[
        str, typer.Option("--method", help="fused (default, measured best), rocchio (vectors only) or svm.")
    ] = "fused",
    topic: TopicOpt = None,
    level: LevelOpt = "fine",
    category: CategoryOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Papers like the ones you like and unlike the ones you don't, with why."""
    import engine

    with user_errors():
        filters = _filters(category, since, until, topic, level)
        with engine.open(index) as ix:
            recs = ix.recommend(like, unlike or [], k=k, filters=filters, method=method)
    if as_json:
        from engine.query.answers import recommend_answer

        print_json(recommend_answer(like, unlike or [], method, recs))
        return
    print_hits(recs, f"recommended ({method}) from {len(like)} liked, {len(unlike or [])} unliked")
    print_reasons(recs)
