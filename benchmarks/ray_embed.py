#!/usr/bin/env python3
"""Embedding throughput on one process against a local Ray actor pool, same machine,
same backend, same chunks, interleaved; and what that projects for all of arXiv.

    python benchmarks/ray_embed.py [--data ../shared/data] [--n 3000] [--rounds 2]
                                   [--total 2500000] [--json OUT]

Rounds alternate: single process (the model on every core, chunks of 512 texts as a
build embeds them) and Ray pools (2 actors x 1 thread, 1 actor x 2 threads), so
machine noise hits all alike. A Ray figure includes the pipeline's start (actors
loading the model), not Ray's own start, reported separately. Also reported: each
actor's peak RSS, the cosine of Ray's vectors to single-process ones, and the
projected hours for ``--total`` papers on N workers, with the arithmetic.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
from pathlib import Path

import numpy as np
from common import DEFAULT_DATA, peak_rss_mb, write_json

CHUNK = 512  # engine.vectorize.EMBED_CHUNK


def load_texts(data: Path, n: int) -> list[str]:
    texts = []
    with gzip.open(data / "arxiv-87k.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            texts.append(f"{record['title']}. {record['abstract']}")
            if len(texts) >= n:
                break
    return texts


def single(embedder, texts: list[str]) -> tuple[float, np.ndarray]:
    tick = time.perf_counter()
    vectors = np.concatenate([embedder.embed(texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)])
    return len(texts) / (time.perf_counter() - tick), vectors


def on_ray(embedder, texts: list[str], actors: int, threads: int) -> tuple[float, np.ndarray, dict]:
    from engine.embedding.ray_embed import RayPlan, embed_batches

    plan = RayPlan(actors=actors, threads=threads)
    out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    tick = time.perf_counter()
    for positions, vectors in embed_batches(texts, str(embedder.model.path), embedder.backend, plan, CHUNK):
        out[positions] = vectors
    return len(texts) / (time.perf_counter() - tick), out, plan.stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--total", type=int, default=2_500_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from engine.embedding import hardware, ray_embed
    from engine.embedding.embedder import load_embedder

    texts = load_texts(args.data, args.n)
    embedder = load_embedder()
    embedder.embed(texts[:32])
    tick = time.perf_counter()
    ray_embed.start(None)
    ray_start = time.perf_counter() - tick
    modes = {"single process": None, "ray 2 actors x 1 thread": (2, 1), "ray 1 actor x 2 threads": (1, 2)}
    rates: dict[str, list[float]] = {m: [] for m in modes}
    cosines: dict[str, float] = {}
    actor_rss: dict[str, list[int]] = {}
    reference = None
    try:
        for round_number in range(args.rounds):
            for mode, shape in modes.items():
                if shape is None:
                    rate, vectors = single(embedder, texts)
                    reference = vectors
                else:
                    rate, vectors, stats = on_ray(embedder, texts, *shape)
                    cosines[mode] = float(np.min(np.sum(vectors * reference, axis=1)))
                    actor_rss[mode] = stats["actor_peak_rss_mb"]
                rates[mode].append(rate)
                print(f"round {round_number + 1}: {mode}: {rate:.1f} papers/s", flush=True)
    finally:
        ray_embed.stop()

    base = statistics.median(rates["single process"])
    print(
        f"\n{args.n} papers, backend {embedder.backend}, {hardware.usable_cores()} cores; Ray start {ray_start:.1f} s"
    )
    print(f"{'mode':<26} {'papers/s':>9} {'ratio':>6} {'min cos':>9} {'actor RSS MB':>13}")
    table = {}
    for mode in modes:
        rate = statistics.median(rates[mode])
        table[mode] = {
            "papers_per_s": round(rate, 1),
            "rounds": [round(r, 1) for r in rates[mode]],
            "ratio_to_single": round(rate / base, 3),
            "min_cosine_to_single": round(cosines.get(mode, 1.0), 6),
            "actor_peak_rss_mb": actor_rss.get(mode, []),
        }
        rss = ",".join(map(str, actor_rss.get(mode, []))) or "-"
        print(f"{mode:<26} {rate:>9.1f} {rate / base:>6.2f} {cosines.get(mode, 1.0):>9.6f} {rss:>13}")

    best = max((m for m in modes if m != "single process"), key=lambda m: table[m]["papers_per_s"])
    per_core = table[best]["papers_per_s"] / hardware.usable_cores()
    print(
        f"\nprojection for {args.total:,} papers at {per_core:.1f} papers/s per core ({best}, Ray overhead included):"
    )
    projection = []
    for workers, cores in ((1, 2), (8, 16), (32, 16), (64, 32)):
        seconds = args.total / (per_core * cores * workers)
        projection.append({"workers": workers, "cores_each": cores, "hours": round(seconds / 3600, 2)})
        print(
            f"  {workers:>3} workers x {cores:>2} cores: {args.total:,} / ({per_core:.1f} x {cores} x {workers}) "
            f"= {seconds:,.0f} s = {seconds / 60:,.1f} min"
        )
    write_json(
        args.json,
        {
            "papers": args.n,
            "backend": embedder.backend,
            "cores": hardware.usable_cores(),
            "ray_start_s": round(ray_start, 2),
            "modes": table,
            "per_core_papers_per_s": round(per_core, 2),
            "projection": projection,
            "driver_peak_rss_mb": peak_rss_mb(),
        },
    )


if __name__ == "__main__":
    main()
