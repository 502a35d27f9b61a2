#!/usr/bin/env python3
"""A one-off ``paperscope search`` from cold: wall time, peak memory, and where it goes.

    python benchmarks/cold_search.py [--index indexes/arxiv87k] [--repeats 5] [--json OUT]

Each repeat runs ``paperscope search QUERY --index INDEX`` as its own process (a
different query each time, the hybrid default, the page cache warm after the first
run, as for a researcher who searches twice) and takes the wall time from spawn to
exit and the process's peak RSS. Then one more fresh process times the phases inside
the same work: Python and engine imports, opening the index, loading the query
model, embedding the query, the dense and the lexical searches, and fetching the hits
with their topics; the same process then answers a second query warm.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, write_json
from embed import QUERIES

PHASES = r"""
import sys, time, json
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
marks = {}
def mark(name):
    marks[name] = round((time.perf_counter() - t0) * 1000, 1)
import engine
from engine.query import ranking
mark("import")
ix = engine.open(sys.argv[2]); ix.__enter__()
mark("open")
embedder = ix.embedder()
getattr(embedder, "prepare", lambda: None)()
mark("model_load")
vector = embedder.embed([sys.argv[3]])
mark("embed_query")
ix.search(sys.argv[3], k=10, mode="dense")
mark("dense_search")
ix.search(sys.argv[3], k=10, mode="lexical")
mark("lexical_search")
ix.search(sys.argv[3], k=10)
mark("hybrid_search")
tick = time.perf_counter()
ix.search(sys.argv[4], k=10)
marks["warm_hybrid_ms"] = round((time.perf_counter() - tick) * 1000, 1)
marks["query_backend"] = embedder.backend
print(json.dumps(marks))
"""


QUERY_MODEL = r"""
import sys, time, json
sys.path.insert(0, sys.argv[1])
from engine.embedding.embedder import bundled_model, make_embedder
tick = time.perf_counter()
embedder = make_embedder(bundled_model(), sys.argv[2])
embedder.embed([sys.argv[3]])
print(json.dumps({"load_and_embed_ms": round((time.perf_counter() - tick) * 1000, 1)}))
"""


def query_model_ms(backend: str) -> float:
    """Loading a query model and embedding one query, in a fresh process (imports of
    numpy and the engine excluded: the search process has them already)."""
    done = subprocess.run(
        [sys.executable, "-c", QUERY_MODEL, str(ROOT), backend, QUERIES[0]], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])["load_and_embed_ms"]


def run_cli(index: Path, query: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one ``paperscope search`` process."""
    tick = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "search", query, "--index", str(index)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - tick
    if status != 0:
        raise SystemExit(f"paperscope search failed: {process.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "indexes" / "arxiv87k")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--other-query-models",
        default="onnx-int8",
        help="backends whose load + first query is timed too, to project the same search on an index built with them",
    )
    args = parser.parse_args()
    index = args.index.resolve()
    manifest = json.loads((index / "CURRENT" / "manifest.json").read_text())

    runs = [run_cli(index, QUERIES[i % len(QUERIES)]) for i in range(args.repeats)]
    walls = [wall for wall, _ in runs]
    phases = json.loads(
        subprocess.run(
            [sys.executable, "-c", PHASES, str(ROOT), str(index), QUERIES[0], QUERIES[1]],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    papers = manifest["counts"]["papers"]
    print(f"index: {index} ({papers:,} papers, {manifest['index']['type']}, built with {manifest['model']['backend']})")
    print(
        f"paperscope search, {args.repeats} processes: wall p50 {statistics.median(walls):.2f} s "
        f"(first {walls[0]:.2f} s, max {max(walls):.2f} s), peak RSS {max(r for _, r in runs):.0f} MB"
    )
    previous = 0.0
    print("phases of one cold process (ms, each since the previous):")
    for name in ("import", "open", "model_load", "embed_query", "dense_search", "lexical_search", "hybrid_search"):
        print(f"  {name:15s} {phases[name] - previous:8.1f}")
        previous = phases[name]
    print(f"  {'total':15s} {previous:8.1f}")
    print(f"second query, same process (hybrid): {phases['warm_hybrid_ms']} ms; query model: {phases['query_backend']}")
    own = phases["embed_query"] - phases["open"]  # this index's query model: load and first query
    others = {backend: query_model_ms(backend) for backend in args.other_query_models.split(",") if backend}
    for backend, ms in others.items():
        projected = statistics.median(walls) - own / 1000 + ms / 1000
        print(
            f"query model {backend}: load + first query {ms:.0f} ms (this index's: {own:.0f} ms); "
            f"the same search on an index built with it: ~{projected:.2f} s (projected)"
        )
    write_json(
        args.json,
        {
            "index": str(index),
            "papers": papers,
            "index_kind": manifest["index"]["type"],
            "index_backend": manifest["model"]["backend"],
            "wall_s": [round(w, 3) for w in walls],
            "wall_p50_s": round(statistics.median(walls), 3),
            "peak_rss_mb": round(max(r for _, r in runs)),
            "phases_ms_cumulative": phases,
            "other_query_models_ms": others,
        },
    )


if __name__ == "__main__":
    main()
