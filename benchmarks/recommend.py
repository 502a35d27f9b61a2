#!/usr/bin/env python3
"""Which recommender ranks better: fused (the related-papers ranker), Rocchio's vector
or arxiv-sanity's per-request SVM.

    python benchmarks/recommend.py [--data ../shared/data] [--trials 5] [--backend auto] [--sentences] [--json OUT]

On the 24-category clustering set (7,200 papers, 300 per primary category), built once
into a temporary index (vectors come from the embedding cache after the first run).
For every category and trial: 5 random papers of the category are liked, and the
ranker's top 10 (inputs excluded) are scored by the share in that category
(precision@10). With unlikes: 5 papers of the *nearest other* category (by centroid)
are also disliked, and we report precision@10 and the share of the disliked category
in the top 10, which negatives should push down. All methods see the same draws.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import DEFAULT_DATA, peak_rss_mb, write_json


def _labels(path: Path) -> dict[str, str]:
    """The evaluation label (primary category) of each paper id."""
    import gzip
    import json

    from engine.papers import normalize_id

    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return {normalize_id(r["id"]): r["label"] for r in map(json.loads, lines)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--likes", type=int, default=5)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--sentences", action="store_true", help="build with sentence vectors (fused uses them)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import engine
    from engine.pipeline.build import Options, build
    from engine.query.recommend import METHODS

    with tempfile.TemporaryDirectory(prefix="paperscope-rec-") as tmp:
        index = Path(tmp) / "eval"
        build(
            [args.data / "eval" / "clustering-24x300.jsonl.gz"],
            index,
            Options(backend=args.backend, topics=False, progress=sys.stderr.isatty(), sentences=args.sentences),
        )
        with engine.open(index) as ix:
            artifact = ix._artifact
            ids = artifact.ids()
            label_of = _labels(args.data / "eval" / "clustering-24x300.jsonl.gz")
            labels = np.array([label_of[i] for i in ids])
            categories = sorted(set(labels))
            matrix = np.asarray(artifact.vectors, dtype=np.float32)
            centroids = np.stack([matrix[labels == c].mean(axis=0) for c in categories])
            centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
            closeness = centroids @ centroids.T
            np.fill_diagonal(closeness, -1)
            rng = random.Random(0)
            draws = []
            for ci, category in enumerate(categories):
                rival = categories[int(np.argmax(closeness[ci]))]
                members = [i for i, lab in enumerate(labels) if lab == category]
                rivals = [i for i, lab in enumerate(labels) if lab == rival]
                for _ in range(args.trials):
                    draws.append((category, rival, rng.sample(members, args.likes), rng.sample(rivals, args.likes)))
            results = {}
            for method in METHODS:
                figures = {
                    "p10": [],
                    "p10_with_unlikes": [],
                    "rival_share": [],
                    "rival_share_with_unlikes": [],
                    "ms": [],
                }
                for category, rival, like_rows, unlike_rows in draws:
                    like = [ids[r] for r in like_rows]
                    unlike = [ids[r] for r in unlike_rows]
                    for negatives, suffix in (([], ""), (unlike, "_with_unlikes")):
                        tick = time.perf_counter()
                        recs = ix.recommend(like, negatives, k=10, method=method)
                        figures["ms"].append((time.perf_counter() - tick) * 1000)
                        got = [label_of[r.paper.id] for r in recs]
                        figures["p10" + suffix].append(sum(g == category for g in got) / 10)
                        figures["rival_share" + suffix].append(sum(g == rival for g in got) / 10)
                results[method] = {key: round(float(np.mean(v)), 4) for key, v in figures.items()}
                results[method]["ms_p50"] = round(float(np.median(figures["ms"])), 1)

    print(
        f"{len(draws)} draws ({len(categories)} categories x {args.trials}), {args.likes} likes (+{args.likes} unlikes)"
    )
    print(
        f"{'method':8s} {'P@10':>6s} {'P@10 +unlikes':>14s} {'rival share':>12s} {'rival +unlikes':>15s} {'p50 ms':>7s}"
    )
    for method, r in results.items():
        print(
            f"{method:8s} {r['p10']:6.3f} {r['p10_with_unlikes']:14.3f} {r['rival_share']:12.3f} "
            f"{r['rival_share_with_unlikes']:15.3f} {r['ms_p50']:7.1f}"
        )
    figures = {"draws": len(draws), "likes": args.likes, "sentences": args.sentences, "methods": results}
    write_json(args.json, {**figures, "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    os.environ.setdefault("TQDM_DISABLE", "1")
    main()
