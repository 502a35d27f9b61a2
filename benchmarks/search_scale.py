#!/usr/bin/env python3
"""Index types at scale: build time, size, memory, recall@10 and latency.

    python benchmarks/search_scale.py [--vectors indexes/arxiv87k/CURRENT/vectors.npy]
                                      [--million] [--kinds flat,hnsw,ivf] [--json OUT]

The collection is the 87k corpus's vectors (any built index's ``vectors.npy``); with
``--million`` it grows to 1,000,000 by adding perturbed copies (noise 0.35 per
dimension-normalized vector, renormalized: distinct points around real ones). Queries
are 1,000 fresh perturbed vectors of random papers; ground truth is exact inner product.
Each index type is built in one process and served in another that loads the saved
index the way ``paperscope`` does (IVF lists memory-mapped, vectors memory-mapped for
re-ranking), so peak RSS is what serving costs. Search alone is one query at a time.

End to end (``--papers INDEX``, default ``indexes/arxiv87k-int8``): real titles of that
index are embedded with its model, searched in the index under test, and the hits are
looked up with their topics in that index's SQLite store, as ``paperscope search
--mode dense`` does (a row beyond the real papers stands for the paper it was copied
from, row mod n: the lookup costs the same).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, write_json

QUERIES = 1000


def _hwm_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def make_collection(source: Path, million: bool, out: Path) -> Path:
    base = np.load(source, mmap_mode="r")
    n = 1_000_000 if million else len(base)
    rng = np.random.default_rng(0)
    matrix = np.lib.format.open_memmap(out, mode="w+", dtype=np.float32, shape=(n, base.shape[1]))
    matrix[: len(base)] = base
    for start in range(len(base), n, 50_000):
        stop = min(n, start + 50_000)
        picks = np.asarray(base[rng.integers(0, len(base), stop - start)])
        noisy = picks + 0.35 * rng.standard_normal(picks.shape).astype(np.float32) / np.sqrt(base.shape[1])
        matrix[start:stop] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    matrix.flush()
    return out


def make_queries(matrix: np.ndarray, folder: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(1)
    picks = np.asarray(matrix[rng.integers(0, len(matrix), QUERIES)])
    noisy = picks + 0.35 * rng.standard_normal(picks.shape).astype(np.float32) / np.sqrt(matrix.shape[1])
    queries = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
    best = np.full((QUERIES, 10), -np.inf, dtype=np.float32)
    rows = np.zeros((QUERIES, 10), dtype=np.int64)
    for start in range(0, len(matrix), 100_000):
        sims = queries @ np.asarray(matrix[start : start + 100_000]).T
        top = np.argpartition(-sims, 10, axis=1)[:, :10]
        cand = np.concatenate([best, np.take_along_axis(sims, top, axis=1)], axis=1)
        cand_rows = np.concatenate([rows, top + start], axis=1)
        order = np.argsort(-cand, axis=1)[:, :10]
        best, rows = np.take_along_axis(cand, order, axis=1), np.take_along_axis(cand_rows, order, axis=1)
    np.save(folder / "queries.npy", queries)
    np.save(folder / "truth.npy", rows)
    return folder / "queries.npy", folder / "truth.npy"


def worker_build(kind: str, matrix_path: Path, index_path: Path) -> dict:
    from engine.artifact import vectors

    matrix = np.load(matrix_path, mmap_mode="r")
    tick = time.perf_counter()
    index = vectors.VectorIndex.build(np.asarray(matrix), kind, seed=0)
    seconds = time.perf_counter() - tick
    index.save(index_path)
    return {"build_s": round(seconds, 1), "spec": index.spec, "build_peak_rss_mb": _hwm_mb()}


def end_to_end(index, spec: dict, matrix, papers_index: Path, queries: int = 300) -> dict:
    """p50/p99 of embed + search + papers-and-topics lookup for real titles."""
    import random

    from engine.artifact import store
    from engine.embedding.embedder import embedder_like
    from engine.query import ranking

    artifact = store.Artifact.open(papers_index)
    embedder = embedder_like(artifact.manifest["model"])
    n = len(artifact.ids())
    rows = random.Random(2).sample(range(n), queries)
    titles = [p.title for p in artifact.papers_by_rows(rows).values()]
    embedder.embed(["warm up"])
    times = []
    for title in titles:
        tick = time.perf_counter()
        vector = embedder.embed([title])
        scores, found = index.search(vector, 10, rerank_with=matrix)
        picked = [(int(r) % n, float(s)) for r, s in zip(found[0], scores[0], strict=True) if r >= 0]
        hits = ranking.hits_for(artifact, picked)
        times.append((time.perf_counter() - tick) * 1000)
        assert len(hits) == 10
    times.sort()
    artifact.close()
    return {
        "end_to_end_p50_ms": round(statistics.median(times), 2),
        "end_to_end_p99_ms": round(times[int(0.99 * (len(times) - 1))], 2),
    }


def worker_serve(
    kind: str, matrix_path: Path, index_path: Path, spec: dict, folder: Path, papers_index: Path | None
) -> dict:
    from engine.artifact import vectors
    from engine.artifact.exact import RowReader

    matrix = np.load(matrix_path, mmap_mode="r")  # as Artifact.open does
    if kind == "ivf":  # as query.dense_rows does: re-rank rows read with pread, not mapped
        matrix = RowReader(matrix_path)
    index = vectors.VectorIndex.load(index_path, len(matrix), spec)
    queries, truth = np.load(folder / "queries.npy"), np.load(folder / "truth.npy")
    for q in queries[:20]:
        index.search(q, 10, rerank_with=matrix)
    times, found = [], []
    for q in queries:
        tick = time.perf_counter()
        _, rows = index.search(q, 10, rerank_with=matrix)
        times.append((time.perf_counter() - tick) * 1000)
        found.append(rows[0])
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)]))
    times.sort()
    anon = file = 0.0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon"):
                anon = round(int(line.split()[1]) / 1024, 1)
            elif line.startswith("RssFile"):
                file = round(int(line.split()[1]) / 1024, 1)
    return {
        "serve_rss_anon_mb": anon,
        "serve_rss_file_mb": file,
        "recall_at_10": round(recall, 4),
        "search_p50_ms": round(statistics.median(times), 3),
        "search_p99_ms": round(times[int(0.99 * (len(times) - 1))], 3),
        "serve_peak_rss_mb": _hwm_mb(),  # the index alone, before the model and the store load
        **(end_to_end(index, spec, matrix, papers_index) if papers_index else {}),
        "serve_with_model_peak_rss_mb": _hwm_mb(),
    }


def run_worker(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"worker {args[:2]} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=Path, default=ROOT / "indexes" / "arxiv87k" / "CURRENT" / "vectors.npy")
    parser.add_argument("--million", action="store_true")
    parser.add_argument("--kinds", default="flat,hnsw,ivf")
    parser.add_argument(
        "--papers", default=str(ROOT / "indexes" / "arxiv87k-int8"), help="index for end to end ('' skips)"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        mode, kind, matrix_path, index_path = args.worker[:4]
        if mode == "build":
            out = worker_build(kind, Path(matrix_path), Path(index_path))
        else:
            papers = Path(args.worker[6]) if len(args.worker) > 6 and args.worker[6] else None
            out = worker_serve(
                kind, Path(matrix_path), Path(index_path), json.loads(args.worker[4]), Path(args.worker[5]), papers
            )
        print(json.dumps(out))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="paperscope-scale-", dir=ROOT / "indexes") as tmp:
        folder = Path(tmp)
        matrix_path = make_collection(args.vectors, args.million, folder / "vectors.npy")
        matrix = np.load(matrix_path, mmap_mode="r")
        make_queries(matrix, folder)
        print(f"{len(matrix):,} vectors, {QUERIES} fresh queries; exact truth computed", flush=True)
        for kind in args.kinds.split(","):
            index_path = folder / f"{kind}.index"
            built = run_worker("build", kind, str(matrix_path), str(index_path))
            served = run_worker(
                "serve", kind, str(matrix_path), str(index_path), json.dumps(built["spec"]), str(folder), args.papers
            )
            row = {
                "kind": kind,
                "n": len(matrix),
                "size_mb": round(index_path.stat().st_size / 1e6, 1),
                **built,
                **served,
            }
            rows.append(row)
            print(
                f"{kind:5s} build {row['build_s']:7.1f} s  size {row['size_mb']:7.1f} MB  recall@10 {row['recall_at_10']:.3f} "
                f"(tuned {row['spec']['recall_at_10']:.3f})  p50 {row['search_p50_ms']:.2f} ms  p99 {row['search_p99_ms']:.2f} ms  "
                f"serve RSS {row['serve_peak_rss_mb']:.0f} MB  build RSS {row['build_peak_rss_mb']:.0f} MB"
                + (f"  end to end p50 {row['end_to_end_p50_ms']:.2f} ms" if "end_to_end_p50_ms" in row else ""),
                flush=True,
            )
    write_json(args.json, {"n": rows[0]["n"] if rows else 0, "queries": QUERIES, "kinds": rows})


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    main()
