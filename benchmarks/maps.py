#!/usr/bin/env python3
"""The topic map's 2-D layout against a datamapplot-style UMAP, on the 24-category set.

    python benchmarks/maps.py [--data ../shared/data] [--backend auto] [--trust-sample 0]
                              [--time-index indexes/arxiv87k-static] [--json OUT]

Builds an index of the 7,200-paper clustering set through the public API (topics on,
so the map is laid out; vectors from the embedding cache when present) in a temporary
folder, and in the same run lays out the same paper vectors the way datamapplot's
examples do (umap-learn, 15 neighbours, min_dist 0.05, cosine, the index's topic seed).
For each layout: 10-NN category agreement (share of a paper's 10 nearest neighbours on
the map, Euclidean, that share its arXiv category; mean over papers), 10-NN topic
agreement (the same with our fine topic; outliers are not anchors), trustworthiness
(scikit-learn, 10 neighbours, cosine on the paper vectors; ``--trust-sample N`` scores
a seeded sample of N papers, the same for both layouts; 0 = all), aspect (short side
over long side of the box holding the central 98% of points, 1st-99th percentile per
axis, under equal scaling of both axes: a strip scores near 0, a square 1) and the
layout's wall time (ours as the build's topic stage recorded it, ``topics.seconds.map``).
Both first-call times include numba compiling UMAP's code in this process (ours runs
first and skips the nearest-neighbour search, as it reuses the topic kNN graph), so the
reference is laid out a second time to give its warm time as well.

Papers added later are scored too (``placement``): nine papers in ten laid out as the
build does, the tenth placed as ``add`` does. ``--time-index`` times the layout step
alone on an existing index's papers (the 87k corpus: the target is 60 s), after
rebuilding its inputs (representation, kNN graph) the way the build does.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from common import DEFAULT_DATA, peak_rss_mb, write_json

from engine.topics.stage import label_text  # the text the build clusters and lays out

NEIGHBOURS = 10
CENTRAL = (1.0, 99.0)  # percentiles per axis: the box of the central 98% of points


def read_records(path: Path) -> dict[str, dict]:
    """Every paper of the evaluation set (category in ``label``), by id."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return {(record := json.loads(line))["id"]: record for line in handle}


def build_and_open(path: Path, index_dir: Path, backend: str):
    """Build the index with the public API and open it; returns (index, build report)."""
    import engine
    from engine.pipeline.build import Options, build

    report = build([path], index_dir, Options(backend=backend, progress=False))
    return engine.open(index_dir), report


def index_arrays(ix, records: dict[str, dict]) -> dict:
    """Vectors, our layout, fine topics and categories, all in the index's row order."""
    data = ix.map_data()
    ids = ix.ids()
    # vectors.npy rows, ids() and map_data() must be one order, or every score is noise.
    if list(data.ids) != ids:
        raise SystemExit("map_data() ids are not in ix.ids() order")
    vectors = np.load(ix.path / "vectors.npy", mmap_mode="r")
    if len(vectors) != len(ids):
        raise SystemExit(f"vectors.npy has {len(vectors)} rows for {len(ids)} papers")
    missing = [i for i in ids if i not in records]
    if missing:
        raise SystemExit(f"{len(missing)} indexed ids have no label, e.g. {missing[:3]}")
    categories = np.unique([records[i]["label"] for i in ids], return_inverse=True)[1]
    return {
        "texts": [label_text(SimpleNamespace(**records[i])) for i in ids],
        "vectors": np.array(vectors, dtype=np.float32),  # a copy: the index folder is temporary
        "xy": np.asarray(data.xy, dtype=np.float64),
        "fine": np.asarray(data.fine),
        "categories": categories,
    }


def reference_layout(vectors: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    """datamapplot's usual recipe: a 2-D cosine UMAP of the raw vectors; (xy, seconds)."""
    import umap

    tick = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a seed makes UMAP single-threaded: intended, as in ours
        model = umap.UMAP(n_neighbors=15, min_dist=0.05, metric="cosine", random_state=seed)
        xy = model.fit_transform(vectors)
    return np.asarray(xy, dtype=np.float64), time.perf_counter() - tick


def placement(arrays: dict, seed: int, every: int = 10) -> dict:
    """Papers added later: lay out all but every ``every``-th paper the way the build
    does (hybrid representation, topic kNN graph, our UMAP), then place the held-out
    papers the way ``add`` does (the topic their nearest laid-out papers by the paper
    vectors vote for, then ``layout.place`` among those in that topic). Scored like the layouts: the 10-NN category agreement of the
    placed papers among the laid-out ones, against the same papers' agreement in the
    full layout (neighbours among the same laid-out papers)."""
    from engine.topics import fit, layout, represent

    held = np.arange(len(arrays["vectors"])) % every == 0
    kept_texts = [t for t, h in zip(arrays["texts"], held, strict=True) if not h]
    known_vectors = arrays["vectors"][~held]
    space = represent.hybrid(known_vectors, kept_texts, seed)
    knn = fit.neighbours(space, fit.GRAPH_NEIGHBOURS, seed=seed)
    known_xy = layout.layout(space, *knn, seed)
    known_topics = fit.fit(space, fit.TopicParams(seed=seed), knn).fine  # as the build would have fitted them
    sims = arrays["vectors"][held] @ known_vectors.T
    nearest = np.argsort(-sims, axis=1)[:, :NEIGHBOURS]
    voted, _ = fit.vote(known_topics, np.take_along_axis(sims, nearest, axis=1), nearest)
    placed = layout.place(known_xy, nearest, voted, known_topics[nearest])
    known_categories = arrays["categories"][~held]

    def among_known(xy_known: np.ndarray, xy_query: np.ndarray) -> float:
        from sklearn.neighbors import NearestNeighbors

        found = NearestNeighbors(n_neighbors=NEIGHBOURS).fit(xy_known).kneighbors(xy_query, return_distance=False)
        return float((known_categories[found] == arrays["categories"][held, None]).mean())

    full = arrays["xy"]
    return {
        "held_out": int(held.sum()),
        "placed_category_10nn": round(among_known(known_xy, placed), 4),
        "full_layout_category_10nn": round(among_known(full[~held], full[held]), 4),
    }


def time_layout(index: Path) -> dict:
    """The layout step of the build on an existing index's papers, timed alone."""
    from engine.artifact import store
    from engine.topics import fit, layout, represent

    artifact = store.Artifact.open(index)
    try:
        vectors = np.array(artifact.vectors, dtype=np.float32)
        papers = artifact.papers_by_rows(range(len(vectors)))
    finally:
        artifact.close()
    texts = [label_text(papers[r]) for r in range(len(vectors))]
    tick = time.perf_counter()
    space = represent.hybrid(vectors, texts, 42)
    knn = fit.neighbours(space, fit.GRAPH_NEIGHBOURS, seed=42)
    inputs_s = time.perf_counter() - tick
    tick = time.perf_counter()
    xy = layout.layout(space, *knn, 42)
    layout_s = time.perf_counter() - tick
    return {"index": str(index), "papers": len(vectors), "inputs_seconds": round(inputs_s, 1),
            "layout_seconds": round(layout_s, 1), "aspect": round(aspect(xy)["aspect"], 4)}  # fmt: skip


def map_neighbours(xy: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """Each point's ``k`` nearest other points on the map (Euclidean), as row numbers."""
    from sklearn.neighbors import NearestNeighbors

    found = NearestNeighbors(n_neighbors=k + 1).fit(xy).kneighbors(xy, return_distance=False)
    # Drop the point itself; with exact duplicates it need not come first, so drop by
    # identity and keep the first k of the rest.
    own = found == np.arange(len(xy))[:, None]
    own[~own.any(axis=1), -1] = True  # no self among k+1 (duplicates): drop the farthest
    return found[~own].reshape(len(xy), k)


def agreement(neighbours: np.ndarray, groups: np.ndarray) -> float:
    """Mean share of a paper's map neighbours in its own group; papers with group -1
    (outliers) are not anchors, but still count as a disagreeing neighbour."""
    anchors = groups >= 0
    same = groups[neighbours[anchors]] == groups[anchors, None]
    return float(same.mean()) if anchors.any() else float("nan")


def trust(vectors: np.ndarray, xy: np.ndarray, sample: np.ndarray) -> float:
    from sklearn.manifold import trustworthiness

    return float(trustworthiness(vectors[sample], xy[sample], n_neighbors=NEIGHBOURS, metric="cosine"))


def aspect(xy: np.ndarray) -> dict:
    """Short over long side of the central-98% box, after scaling both axes by one
    factor (the full bounding box's long side → 1), so no axis is stretched on its own;
    also the share of the full box that central box covers (the rest is stragglers)."""
    span = np.ptp(xy, axis=0)
    unit = (xy - xy.min(axis=0)) / max(float(span.max()), 1e-12)
    low, high = np.percentile(unit, CENTRAL, axis=0)
    central = high - low
    full = span / max(float(span.max()), 1e-12)
    return {
        "aspect": float(central.min() / max(central.max(), 1e-12)),
        "central_box_share": float(np.prod(central) / max(np.prod(full), 1e-12)),
        "full_box_aspect": float(full.min() / max(full.max(), 1e-12)),
    }


def score_layout(name: str, xy: np.ndarray, arrays: dict, sample: np.ndarray, seconds: float | None) -> dict:
    neighbours = map_neighbours(xy)
    return {
        "layout": name,
        "category_10nn": round(agreement(neighbours, arrays["categories"]), 4),
        "topic_10nn": round(agreement(neighbours, arrays["fine"]), 4),
        "trustworthiness": round(trust(arrays["vectors"], xy, sample), 4),
        **{key: round(value, 4) for key, value in aspect(xy).items()},
        "seconds": None if seconds is None else round(seconds, 1),
    }


def print_table(header: str, rows: list[dict]) -> None:
    print(header)
    print(f"  {'layout':<34} {'cat 10-NN':>9} {'topic 10-NN':>11} {'trust':>6} {'aspect':>6} {'seconds':>7}")
    for row in rows:
        seconds = "-" if row["seconds"] is None else f"{row['seconds']:.1f}"
        print(f"  {row['layout']:<34} {row['category_10nn']:>9.3f} {row['topic_10nn']:>11.3f} "
              f"{row['trustworthiness']:>6.3f} {row['aspect']:>6.3f} {seconds:>7}")  # fmt: skip


def report_figures(figures: dict, build_seconds: dict) -> None:
    rows = figures["layouts"]
    print_table(
        f"maps benchmark: {figures['papers']:,} papers, {figures['categories']} categories, "
        f"{figures['fine_topics']} fine topics, seed {figures['seed']}, "
        f"trustworthiness on {figures['trust_sample']:,} papers",
        rows,
    )
    for row in rows:
        print(f"  {row['layout']}: central-98% box {row['central_box_share']:.1%} of the full box; "
              f"full box aspect {row['full_box_aspect']:.3f}")  # fmt: skip
    print(f"  reference layout again in this process (numba compiled): {rows[1]['seconds_warm']:.1f} s")
    placed = figures["placement"]
    print(
        f"  added papers ({placed['held_out']:,} held out, placed as add does): 10-NN category agreement "
        f"{placed['placed_category_10nn']:.3f} placed vs {placed['full_layout_category_10nn']:.3f} laid out with the rest"
    )
    print(f"  build {figures['build_s']:.1f} s (topic stage {build_seconds.get('topics', 0):.1f} s: "
          f"{figures['topic_stage_seconds']})")  # fmt: skip
    print(f"  peak RSS {figures['peak_rss_mb']} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--trust-sample", type=int, default=0, help="papers scored for trustworthiness (0: all)")
    parser.add_argument("--time-index", type=Path, help="also time the layout step on this index's papers")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()

    path = args.data / "eval" / "clustering-24x300.jsonl.gz"
    records = read_records(path)
    with tempfile.TemporaryDirectory(prefix="paperscope-maps-") as scratch:
        tick = time.perf_counter()
        ix, report = build_and_open(path, Path(scratch) / "index", args.backend)
        build_s = time.perf_counter() - tick
        with ix:
            arrays = index_arrays(ix, records)
            manifest = ix.manifest
    topics = manifest["topics"]
    seed = int(topics["params"]["seed"])
    ours_s = topics["seconds"].get("map")  # the layout alone, timed inside the topic stage
    reference_xy, reference_s = reference_layout(arrays["vectors"], seed)
    reference_warm_s = reference_layout(arrays["vectors"], seed)[1]  # numba's compilation already paid

    n = len(arrays["vectors"])
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, args.trust_sample, replace=False)) if 0 < args.trust_sample < n else np.arange(n)
    rows = [
        score_layout("ours (index map)", arrays["xy"], arrays, sample, ours_s),
        score_layout("UMAP 15 nn, min_dist 0.05 (dmp)", reference_xy, arrays, sample, reference_s),
    ]
    rows[1]["seconds_warm"] = round(reference_warm_s, 1)
    placed = placement(arrays, seed)
    figures = {
        "papers": n,
        "categories": int(arrays["categories"].max() + 1),
        "fine_topics": topics["fine_topics"],
        "outlier_share": topics["outlier_share"],
        "seed": seed,
        "backend": manifest["model"].get("backend"),
        "trust_sample": len(sample),
        "layouts": rows,
        "placement": placed,
        "our_layout_seconds_source": "manifest topics.seconds.map",
        "topic_stage_seconds": topics["seconds"],
        "build_s": round(build_s, 1),
        "build_seconds": {k: round(v, 2) for k, v in report.seconds.items()},
        "peak_rss_mb": peak_rss_mb(),
    }
    if args.time_index:
        # last, and in this process, so numba's compilation is already paid, as in a build
        figures["timed_index"] = time_layout(args.time_index)
        timed = figures["timed_index"]
        print(
            f"  layout of {timed['papers']:,} papers ({args.time_index}): {timed['layout_seconds']:.1f} s "
            f"(after {timed['inputs_seconds']:.1f} s of representation and kNN graph); aspect {timed['aspect']:.3f}"
        )
    report_figures(figures, report.seconds)
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
