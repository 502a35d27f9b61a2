"""The commands that write an index: build, add and the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.artifact import DEFAULT_INDEX
from engine.cli.common import (
    CacheOpt,
    ClustererOpt,
    IndexOpt,
    Inputs,
    JsonOpt,
    ModelOpt,
    SeedOpt,
    SentencesOpt,
    TopicSampleOpt,
    TopicsOpt,
    app,
    print_hits,
    print_reasons,
    print_report,
    user_errors,
)


@app.command()
def build(
    inputs: Inputs,
    index: IndexOpt = DEFAULT_INDEX,
    model: ModelOpt = None,
    backend: Annotated[
        str,
        typer.Option(
            help="auto (fastest that passes the quality guard), torch, torch-fp32, torch-bf16, "
            "onnx, onnx-fp32, onnx-int8, openvino, openvino-fp32, openvino-bf16, openvino-int8, "
            "openvino-wint8 or static (fast, lower quality)."
        ),
    ] = "auto",
    cache: CacheOpt = True,
    topics: TopicsOpt = True,
    seed: SeedOpt = 42,
    clusterer: ClustererOpt = "graph",
    topic_sample: TopicSampleOpt = None,
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
    sentences: SentencesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Build an index from papers (replaces what the index held)."""
    from engine.pipeline import build as builder
    from engine.topics.fit import TopicParams

    with user_errors():
        plan = None
        if ray or ray_address:
            from engine.embedding.ray_embed import RayPlan

            plan = RayPlan(address=ray_address, actors=ray_actors, threads=ray_threads)
        options = builder.Options(
            ray=plan,
            model=model,
            backend=backend,
            use_cache=cache,
            progress=not as_json,
            topics=topics,
            topic_params=TopicParams(seed=seed, clusterer=clusterer, sample_size=topic_sample),
            index_type=index_type,
            sentences=sentences,
        )
        report = builder.build(inputs, index, options)
    print_report(report, as_json, "built")


@app.command()
def add(
    inputs: Inputs,
    index: IndexOpt = DEFAULT_INDEX,
    model: ModelOpt = None,
    cache: CacheOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Add papers to an index; only new or changed papers are embedded (and their
    sentences, if the index was built with --sentences)."""
    from engine.pipeline import build as builder

    with user_errors():
        options = builder.Options(model=model, use_cache=cache, progress=not as_json)
        report = builder.add(inputs, index, options)
    print_report(report, as_json, "updated")


@app.command()
def demo(index: IndexOpt = Path("indexes/demo"), cache: CacheOpt = True) -> None:
    """Build the bundled demo index (cs.CV, 19 Nov 2020) and show a few answers."""
    import engine
    from engine.cli.demo import DEMO_QUERIES, DEMO_RELATED, demo_corpus
    from engine.pipeline import build as builder

    with user_errors():
        report = builder.build([demo_corpus()], index, builder.Options(use_cache=cache, sentences=True))
        print_report(report, False, "built")
        with engine.open(index) as ix:
            for text in DEMO_QUERIES:
                print_hits(ix.search(text, k=3), f"search: {text}")
            source = ix.paper(DEMO_RELATED)
            hits = ix.related(DEMO_RELATED, k=3)
            print_hits(hits, f"related to {source.id}: {source.title}")
            print_reasons(hits)
    typer.echo(f'\nTry: paperscope search "your question" --index {index}')
    typer.echo(f"     paperscope serve --index {index}   (then open http://127.0.0.1:8000/)")
