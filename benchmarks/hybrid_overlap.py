#!/usr/bin/env python3
"""Hybrid search with its word ranking beside the model and FAISS, against one after the other.

    python benchmarks/hybrid_overlap.py --index indexes/synthetic-1000000 [--rounds 7] [--json OUT]

In-process ``PaperIndex.search`` (mode hybrid, k 10) on seven queries, the two ways
interleaved query by query (the order alternating by round): ``beside`` is paperscope's
(BM25 in SQLite on another thread while the query is embedded and FAISS searches),
``inline`` computes the word ranking first on the calling thread. Milliseconds, median
per query, and the median over all searches.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import Future
from pathlib import Path

from common import write_json

QUERIES = ["dark matter halo", "graph neural networks", "quantum error correction", "protein folding",
           "large language model reasoning", "galaxy rotation curves", "diffusion models for images"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import engine
    from engine.artifact import lexical
    from engine.query import facade

    beside = facade.PaperIndex._words_beside

    def inline(self, text: str, k: int, allowed: list[int] | None) -> Future:
        done: Future = Future()
        rows = None if allowed is None else set(allowed)
        depth, budget = max(facade.FUSION_DEPTH, 2 * k), lexical.HYBRID_MATCH_BUDGET
        done.set_result(lexical.lexical_rows(self._artifact.db, text, depth, rows, fill=False, budget=budget))
        return done

    ways = {"beside": beside, "inline": inline}
    times: dict[str, dict[str, list[float]]] = {way: {q: [] for q in QUERIES} for way in ways}
    with engine.open(args.index) as ix:
        papers = len(ix)
        ix.search("warm up", k=10, mode="hybrid")
        for r in range(args.rounds):
            for query in QUERIES:
                for way in list(ways)[:: 1 if r % 2 else -1]:
                    facade.PaperIndex._words_beside = ways[way]
                    tick = time.perf_counter()
                    ix.search(query, k=10, mode="hybrid")
                    times[way][query].append((time.perf_counter() - tick) * 1000)
        facade.PaperIndex._words_beside = beside
    print(f"hybrid search at {papers:,} papers, ms (median of {args.rounds})")
    print(f"{'query':34s} {'inline':>8s} {'beside':>8s}")
    for query in QUERIES:
        print(
            f"{query:34s} {statistics.median(times['inline'][query]):8.1f} {statistics.median(times['beside'][query]):8.1f}"
        )
    p50 = {way: round(statistics.median(t for q in QUERIES for t in times[way][q]), 1) for way in ways}
    print(f"{'all searches, p50':34s} {p50['inline']:8.1f} {p50['beside']:8.1f}")
    if args.json:
        write_json(
            args.json, {"index": str(args.index), "papers": papers, "rounds": args.rounds, "p50_ms": p50, "ms": times}
        )


if __name__ == "__main__":
    main()
