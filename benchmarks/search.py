#!/usr/bin/env python3
"""Search quality and latency per mode: dense, lexical (BM25) and hybrid (RRF).

    python benchmarks/search.py [--data ../shared/data] [--n 3000] [--queries 500] [--json OUT]

Known-item search, title -> own abstract: N papers spread over arxiv-87k.jsonl.gz are
indexed with their titles replaced by their ids (so neither the embedding nor the FTS
index has seen the title), then each of ``--queries`` of them is searched by its real
title; MRR@10 and recall@10 of finding the paper itself. Latency is end to end through
``PaperIndex.search`` (query embedding, search, fusion, metadata and topic lookup),
modes interleaved query by query.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import DEFAULT_DATA, peak_rss_mb, write_json

MODES = ("dense", "lexical", "hybrid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--backend", default="auto")
    parser.add_argument(
        "--index",
        type=Path,
        action="append",
        default=[],
        help="also time end-to-end queries on this built index (repeatable)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import engine
    from engine.pipeline.build import Options, build

    with gzip.open(args.data / "arxiv-87k.jsonl.gz", "rt", encoding="utf-8") as handle:
        lines = handle.readlines()
    records = [json.loads(line) for line in lines[:: max(1, len(lines) // args.n)][: args.n]]
    titles = {r["id"]: r["title"] for r in records}
    with tempfile.TemporaryDirectory(prefix="paperscope-search-") as tmp:
        corpus = Path(tmp) / "hidden-titles.jsonl"
        with corpus.open("w", encoding="utf-8") as out:
            for r in records:
                out.write(json.dumps(dict(r, title=r["id"]), ensure_ascii=False) + "\n")
        index = Path(tmp) / "ix"
        build([corpus], index, Options(backend=args.backend, topics=False, progress=sys.stderr.isatty()))
        sample = random.Random(0).sample(sorted(titles), min(args.queries, len(titles)))
        reciprocal = {m: [] for m in MODES}
        found = {m: 0 for m in MODES}
        latency = {m: [] for m in MODES}
        with engine.open(index) as ix:
            ix.search("warm up", k=10, mode="hybrid")
            for number, pid in enumerate(sample):
                modes = MODES[number % 3 :] + MODES[: number % 3]  # interleaved, rotated
                for mode in modes:
                    tick = time.perf_counter()
                    hits = ix.search(titles[pid], k=10, mode=mode)
                    latency[mode].append((time.perf_counter() - tick) * 1000)
                    ranks = [h.paper.id for h in hits]
                    if pid in ranks:
                        reciprocal[mode].append(1 / (ranks.index(pid) + 1))
                        found[mode] += 1
                    else:
                        reciprocal[mode].append(0.0)
    rows = {
        m: {
            "mrr_at_10": round(sum(reciprocal[m]) / len(sample), 4),
            "recall_at_10": round(found[m] / len(sample), 4),
            "p50_ms": round(statistics.median(latency[m]), 2),
            "p99_ms": round(sorted(latency[m])[int(0.99 * (len(latency[m]) - 1))], 2),
        }
        for m in MODES
    }
    end_to_end = [latency_on(index, [titles[pid] for pid in sample]) for index in args.index]
    agreement = related_agreement(args.data, args.backend)
    print(f"known-item search, {len(sample)} titles -> own abstract among {len(records)} papers")
    print(f"{'mode':8s} {'MRR@10':>7s} {'R@10':>6s} {'p50 ms':>7s} {'p99 ms':>7s}")
    for m, r in rows.items():
        print(f"{m:8s} {r['mrr_at_10']:7.3f} {r['recall_at_10']:6.3f} {r['p50_ms']:7.2f} {r['p99_ms']:7.2f}")
    for measured in end_to_end:
        print(f"end to end on {measured['path']} ({measured['papers']:,} papers, {measured['index']['type']}):")
        for m in MODES:
            r = measured[m]
            print(f"  {m:8s} p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms")
    print(
        f"related papers, share of the 10 nearest in the paper's own category (24x300 set, "
        f"{agreement['papers']} papers): P@10 {agreement['p10']:.3f} (chance {1 / 24:.3f})"
    )
    figures = {"n": len(records), "queries": len(sample), "modes": rows, "peak_rss_mb": peak_rss_mb()}
    write_json(args.json, {**figures, "end_to_end": end_to_end, "related_category_p10": agreement})


def related_agreement(data: Path, backend: str, sample: int = 1000) -> dict:
    """Precision@10 of ``related`` on primary category, over the 24x300 evaluation set."""
    import engine
    from engine.papers import normalize_id
    from engine.pipeline.build import Options, build

    path = data / "eval" / "clustering-24x300.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        label = {normalize_id(r["id"]): r["label"] for r in map(json.loads, lines)}
    with tempfile.TemporaryDirectory(prefix="paperscope-related-") as tmp:
        index = Path(tmp) / "eval"
        build([path], index, Options(backend=backend, topics=False, progress=False))
        ids = random.Random(0).sample(sorted(label), min(sample, len(label)))
        with engine.open(index) as ix:
            shares = [sum(label[h.paper.id] == label[pid] for h in ix.related(pid, k=10)) / 10 for pid in ids]
    return {"papers": len(ids), "p10": round(sum(shares) / len(shares), 4)}


def latency_on(index: Path, queries: list[str]) -> dict:
    """End-to-end latency per mode on a built index (embedding, search, fusion, papers
    and topic lookup), modes interleaved query by query, after one warm-up query."""
    import engine

    times = {m: [] for m in MODES}
    with engine.open(index) as ix:
        ix.search("warm up", k=10, mode="hybrid")
        for number, text in enumerate(queries):
            for mode in MODES[number % 3 :] + MODES[: number % 3]:
                tick = time.perf_counter()
                ix.search(text, k=10, mode=mode)
                times[mode].append((time.perf_counter() - tick) * 1000)
        out = {"path": str(index), "papers": len(ix), "index": ix.manifest["index"]}
    for m in MODES:
        ordered = sorted(times[m])
        out[m] = {
            "p50_ms": round(statistics.median(ordered), 2),
            "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 2),
        }
    return out


if __name__ == "__main__":
    os.environ.setdefault("TQDM_DISABLE", "1")
    main()
