#!/usr/bin/env python3
"""Topic quality and speed on the 24-category clustering set (7,200 arXiv papers).

    python benchmarks/topics.py [--data ../shared/data] [--seeds 0 1 2] [--json OUT]

For our fine and coarse levels (never told k): V-measure, NMI and ARI against the
primary category, outlier share, number of topics, seconds per stage, and stability
(mean pairwise ARI between seeds). In the same run, two baselines on the same
vectors: k-means told the true k (24), and BERTopic's default recipe (UMAP 15
neighbours to 5-d, min_dist 0, cosine; HDBSCAN min_cluster_size 10, eom; noise left
as noise). Outliers count as one more cluster (-1) in every score, as MTEB would
score an unassigned paper. Vectors come from the embedding cache when present.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from common import DEFAULT_DATA, peak_rss_mb, write_json


def scores(truth: np.ndarray, found: np.ndarray) -> dict:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, v_measure_score

    return {
        "v_measure": round(float(v_measure_score(truth, found)), 4),
        "nmi": round(float(normalized_mutual_info_score(truth, found)), 4),
        "ari": round(float(adjusted_rand_score(truth, found)), 4),
        "topics": len(np.unique(found[found >= 0])),
        "outlier_share": round(float(np.mean(found < 0)), 4),
    }


def stability(runs: list[np.ndarray]) -> float:
    from sklearn.metrics import adjusted_rand_score

    pairs = list(itertools.combinations(runs, 2))
    return round(float(np.mean([adjusted_rand_score(a, b) for a, b in pairs])), 4) if pairs else 1.0


def bertopic_default(vectors: np.ndarray, seed: int) -> np.ndarray:
    import hdbscan
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reduced = umap.UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
        embedded = reduced.fit_transform(vectors)
    return hdbscan.HDBSCAN(min_cluster_size=10, cluster_selection_method="eom").fit_predict(embedded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--clusterers", nargs="+", default=["graph", "umap-hdbscan"])
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()

    from sklearn.cluster import KMeans

    from engine.embedding.embedder import load_embedder
    from engine.ingest.sources import read_papers
    from engine.pipeline.vectorize import vectorize
    from engine.topics.fit import GRAPH_NEIGHBOURS, TopicParams, fit, neighbours
    from engine.topics.labels import label_topics
    from engine.topics.layout import layout
    from engine.topics.represent import hybrid
    from engine.topics.stage import label_text

    path = args.data / "eval" / "clustering-24x300.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        truth_by_id = {(r := json.loads(line))["id"]: r["label"] for line in handle}
    papers = read_papers(path).papers
    truth = np.unique([truth_by_id[p.id] for p in papers], return_inverse=True)[1]
    embedder = load_embedder()
    tick = time.perf_counter()
    vectors = vectorize(papers, embedder, {}, use_cache=True, progress=sys.stderr.isatty()).vectors
    embed_s = time.perf_counter() - tick

    texts = [label_text(p) for p in papers]
    methods = {}
    for clusterer in args.clusterers:
        runs: dict[str, list] = {"fine": [], "coarse": []}
        stage_seconds = []
        for seed in args.seeds:
            seconds = {}
            tick = time.perf_counter()
            space = hybrid(vectors, texts, seed)
            seconds["represent"] = time.perf_counter() - tick
            tick = time.perf_counter()
            knn = neighbours(space, GRAPH_NEIGHBOURS, seed=seed)
            seconds["knn"] = time.perf_counter() - tick
            clustering = fit(space, TopicParams(seed=seed, clusterer=clusterer), knn)
            seconds.update({k: v for k, v in clustering.seconds.items() if k != "knn"})
            runs["fine"].append(clustering.fine)
            runs["coarse"].append(clustering.coarse)
            if seed == args.seeds[0]:
                first = clustering
                tick = time.perf_counter()
                fine_labels = label_topics(texts, vectors, clustering.fine, embedder.embed)
                coarse_labels = label_topics(texts, vectors, clustering.coarse, embedder.embed)
                seconds["labels"] = time.perf_counter() - tick
                tick = time.perf_counter()
                layout(space, *knn, seed)
                seconds["map"] = time.perf_counter() - tick
            stage_seconds.append({k: round(v, 2) for k, v in seconds.items()})
        methods[clusterer] = {
            "params": first.params,
            "noise_share_before_policy": round(first.noise_share, 4),
            "fine": dict(scores(truth, runs["fine"][0]), stability_ari=stability(runs["fine"])),
            "coarse": dict(scores(truth, runs["coarse"][0]), stability_ari=stability(runs["coarse"])),
            "fine_v_by_seed": [scores(truth, run)["v_measure"] for run in runs["fine"]],
            "coarse_v_by_seed": [scores(truth, run)["v_measure"] for run in runs["coarse"]],
            "seconds_by_seed": stage_seconds,
            "coarse_labels": sorted(label.label for label in coarse_labels.values()),
            "fine_labels": sorted(label.label for label in fine_labels.values()),
        }

    tick = time.perf_counter()
    kmeans = KMeans(24, n_init=10, random_state=args.seeds[0]).fit_predict(vectors)
    kmeans_s = time.perf_counter() - tick
    tick = time.perf_counter()
    bertopic = bertopic_default(vectors, args.seeds[0])
    bertopic_s = time.perf_counter() - tick

    figures = {
        "papers": len(papers),
        "categories": int(truth.max() + 1),
        "seeds": args.seeds,
        "embed_s": round(embed_s, 1),
        "methods": methods,
        "baselines": {
            "kmeans_true_k": dict(scores(truth, kmeans), seconds=round(kmeans_s, 1)),
            "bertopic_default": dict(scores(truth, bertopic), seconds=round(bertopic_s, 1)),
        },
        "peak_rss_mb": peak_rss_mb(),
    }
    rows = [(f"{name}, {level} (auto k)", m[level]) for name, m in methods.items() for level in ("coarse", "fine")]
    rows += [
        ("k-means, true k=24", figures["baselines"]["kmeans_true_k"]),
        ("BERTopic default", figures["baselines"]["bertopic_default"]),
    ]
    print(f"topics benchmark: {len(papers):,} papers, {figures['categories']} categories, seeds {args.seeds}")
    print(f"  {'method':<28} {'V':>6} {'NMI':>6} {'ARI':>6} {'topics':>6} {'outliers':>8} {'stab.ARI':>8}")
    for name, f in rows:
        stab = f.get("stability_ari", "")
        print(f"  {name:<28} {f['v_measure']:>6.3f} {f['nmi']:>6.3f} {f['ari']:>6.3f} {f['topics']:>6} "
              f"{f['outlier_share']:>8.1%} {stab!s:>8}")  # fmt: skip
    for name, m in methods.items():
        print(f"  {name}: seconds per stage (seed {args.seeds[0]}): {m['seconds_by_seed'][0]}")
        print(f"  {name}: coarse labels: {'; '.join(m['coarse_labels'])}")
    print(f"  peak RSS {figures['peak_rss_mb']} MB")
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
