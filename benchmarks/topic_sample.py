#!/usr/bin/env python3
"""What fitting topics on a sample costs: the real topic stage (stage.fit_topics)
fitted on stratified samples of 10-100% of a corpus, every other paper assigned by
the kNN vote and placed among its neighbours.

    python benchmarks/topic_sample.py [--data ../shared/data] [--set 24x300|87k]
        [--index indexes/arxiv87k] [--fractions 0.1 0.25 0.5 1] [--seeds 0 1] [--json OUT]

``24x300``: the public 24-category set (labels: its ``label``), vectors from the
embedding cache. ``87k``: the built index's papers and vectors (labels: each paper's
primary category). Per fraction: V-measure of the fine and coarse levels against the
labels, ARI against the full fit of the first seed (a second full fit with another
seed gives the ceiling: how much two full fits agree), number of topics, and seconds
per sub-stage.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
from common import DEFAULT_DATA, peak_rss_mb, write_json


def corpus(args) -> tuple[list, np.ndarray, np.ndarray, object]:
    from engine.embedding.embedder import load_embedder

    if args.set == "87k":
        from engine.artifact.store import Artifact

        artifact = Artifact.open(args.index)
        papers = [paper for _, paper, _ in artifact.all_papers()]
        vectors = np.asarray(artifact.vectors, dtype=np.float32)
        truth = np.unique([p.primary_category or "" for p in papers], return_inverse=True)[1]
        return papers, vectors, truth, load_embedder(backend=artifact.manifest["model"]["backend"])
    from engine.ingest.sources import read_papers
    from engine.pipeline.vectorize import vectorize

    path = args.data / "eval" / "clustering-24x300.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        label_of = {(r := json.loads(line))["id"]: r["label"] for line in handle}
    papers = read_papers(path).papers
    truth = np.unique([label_of[p.id] for p in papers], return_inverse=True)[1]
    embedder = load_embedder()
    vectors = vectorize(papers, embedder, {}, use_cache=True, progress=False).vectors
    return papers, vectors, truth, embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--set", choices=["24x300", "87k"], default="24x300")
    parser.add_argument("--index", type=Path, default=Path("indexes/arxiv87k"))
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from sklearn.metrics import adjusted_rand_score, v_measure_score

    from engine.topics.fit import TopicParams
    from engine.topics.stage import fit_topics

    papers, vectors, truth, embedder = corpus(args)
    n = len(papers)
    runs = []
    for seed in args.seeds:
        for fraction in sorted(args.fractions, reverse=True):  # the full fit first: the others compare to it
            if seed != args.seeds[0] and fraction < 1:
                continue  # later seeds give the full fit's own agreement only
            size = max(10, round(fraction * n))
            tick = time.perf_counter()
            result = fit_topics(papers, vectors, embedder.embed, TopicParams(seed=seed, sample_size=size))
            wall = time.perf_counter() - tick
            runs.append({"seed": seed, "fraction": fraction, "sample": min(size, n), "wall_s": round(wall, 1),
                         "fine": result.fine, "coarse": result.coarse, "summary": result.summary})  # fmt: skip
            print(f"  seed {seed} sample {fraction:.0%}: {wall:.0f} s", file=sys.stderr, flush=True)
    full = runs[0]
    table = []
    for run in runs:
        row = {"seed": run["seed"], "fraction": run["fraction"], "sample": run["sample"], "wall_s": run["wall_s"]}
        for level in ("fine", "coarse"):
            row[f"{level}_v"] = round(float(v_measure_score(truth, run[level])), 4)
            row[f"{level}_ari_vs_full"] = round(float(adjusted_rand_score(full[level], run[level])), 4)
            row[f"{level}_topics"] = len(np.unique(run[level][run[level] >= 0]))
        row["seconds"] = run["summary"]["seconds"]
        table.append(row)
    figures = {
        "set": args.set,
        "papers": n,
        "labels": int(truth.max() + 1),
        "runs": table,
        "peak_rss_mb": peak_rss_mb(),
    }
    print(f"topics fitted on a sample: {args.set}, {n:,} papers, {figures['labels']} labels")
    print(f"  {'seed':>4} {'sample':>8} {'fine V':>7} {'coarse V':>8} {'fine ARI':>8} {'coarse ARI':>10} "
          f"{'topics':>8} {'wall s':>7}")  # fmt: skip
    for r in table:
        print(f"  {r['seed']:>4} {r['sample']:>8,} {r['fine_v']:>7.3f} {r['coarse_v']:>8.3f} {r['fine_ari_vs_full']:>8.3f} "
              f"{r['coarse_ari_vs_full']:>10.3f} {r['fine_topics']:>3}/{r['coarse_topics']:<4} {r['wall_s']:>7}")  # fmt: skip
    print(f"  ARI vs full: against the full fit of seed {args.seeds[0]}; peak RSS {figures['peak_rss_mb']} MB")
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
