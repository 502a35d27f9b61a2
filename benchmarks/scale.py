#!/usr/bin/env python3
"""Build growth: full builds of 10k, 30k and 87k real papers, then a day's add to each.

    python benchmarks/scale.py [--data ../shared/data] [--sizes 10000,30000,87431]
                               [--embed-sample 1000] [--json OUT]

Nested random samples of arxiv-87k.jsonl.gz (the 10k inside the 30k inside the 87k,
all categories mixed). Each build runs in its own process (so peak RSS is that
build's) with the embedding cache ($PAPERSCOPE_CACHE, ~/.cache/paperscope by default):
when it holds the corpus, the build's embed stage is cache lookups, and the cost of
embedding from cold is reported separately as ``embed cold``, projected from a cold
run over ``--embed-sample`` papers timed in this same run. Reported per size:
seconds per stage (parse, embed, topics and its sub-stages, index, write), wall
time, peak RSS, the size on disk of every file, and ``add``: the 63-paper demo
digest added to the built index (incremental, no refit). Indexes go to a temporary
folder; indexes/ is not touched.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import DEFAULT_DATA, ROOT, write_json

CHILD = """
import json, resource, sys, time
from engine.pipeline import build
from engine.pipeline.build import Options
kind, inputs, index = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
tick = time.perf_counter()
report = (build.build if kind == "build" else build.add)(inputs, index, Options(progress=False))
print(json.dumps({"wall": time.perf_counter() - tick, "report": report.to_dict(),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def nested_samples(data: Path, sizes: list[int], folder: Path, seed: int = 0) -> dict[int, Path]:
    with gzip.open(data / "arxiv-87k.jsonl.gz", "rt", encoding="utf-8") as handle:
        lines = handle.readlines()
    order = np.random.default_rng(seed).permutation(len(lines))
    out = {}
    for size in sizes:
        path = folder / f"sample-{size}.jsonl.gz"
        with gzip.open(path, "wt", encoding="utf-8") as dst:
            dst.writelines(lines[i] for i in sorted(order[: min(size, len(lines))]))
        out[size] = path
    return out


def run_child(kind: str, inputs: list[Path], index: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, kind, ",".join(map(str, inputs)), str(index)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def cold_embed_rate(sample: Path, n: int) -> tuple[float, str]:
    """Papers/s embedding ``n`` papers from nothing (no cache), model already loaded."""
    from engine.embedding.embedder import load_embedder
    from engine.ingest.sources import read_papers

    texts = [p.text for p in read_papers(sample).papers[:n]]
    embedder = load_embedder()
    embedder.embed(texts[:32])  # load and warm
    tick = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - tick), embedder.backend


def sizes_on_disk(index: Path) -> dict[str, float]:
    version = index / os.readlink(index / "CURRENT")
    return {p.name: round(p.stat().st_size / 2**20, 1) for p in sorted(version.iterdir())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sizes", default="10000,30000,87431")
    parser.add_argument("--embed-sample", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from engine.cli.demo import demo_corpus

    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="paperscope-scale-") as tmp:
        folder = Path(tmp)
        samples = nested_samples(args.data, sizes, folder)
        rate, backend = cold_embed_rate(samples[sizes[0]], args.embed_sample)
        print(f"cold embedding: {rate:.1f} papers/s ({backend}, {args.embed_sample} papers)", flush=True)
        for size in sizes:
            index = folder / f"ix-{size}"
            built = run_child("build", [samples[size]], index)
            added = run_child("add", [demo_corpus()], index)
            report = built["report"]
            row = {
                "papers": report["papers"],
                "wall_s": round(built["wall"], 1),
                "seconds": report["seconds"],
                "topic_seconds": (report.get("topics") or {}).get("seconds", {}),
                "embedded_now": report["embedded"],
                "from_cache": report["from_cache"],
                "embed_cold_projected_s": round(report["papers"] / rate, 1),
                "peak_rss_mb": round(built["peak_rss_mb"]),
                "disk_mb": sizes_on_disk(index),
                "add_63": {
                    "wall_s": round(added["wall"], 2),
                    "seconds": added["report"]["seconds"],
                    "peak_rss_mb": round(added["peak_rss_mb"]),
                },
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    header = f"{'papers':>7} {'parse':>6} {'embed*':>7} {'cold':>7} {'topics':>7} {'index':>6} {'write':>6} {'wall':>7} {'RSS MB':>7} {'disk MB':>8} {'add 63':>7}"
    print(header)
    for r in rows:
        s = r["seconds"]
        print(
            f"{r['papers']:>7,} {s.get('parse', 0):>6.1f} {s.get('embed', 0):>7.1f} {r['embed_cold_projected_s']:>7.0f} "
            f"{s.get('topics', 0):>7.1f} {s.get('index', 0):>6.1f} {s.get('write', 0):>6.1f} {r['wall_s']:>7.1f} "
            f"{r['peak_rss_mb']:>7,} {sum(r['disk_mb'].values()):>8.0f} {r['add_63']['wall_s']:>7.2f}"
        )
    print(
        "* embed: this build's embed stage (cache lookups when the cache holds the corpus); "
        f"cold: projected at the measured {rate:.1f} papers/s"
    )
    write_json(args.json, {"cold_embed_per_s": round(rate, 1), "backend": backend, "sizes": rows})


if __name__ == "__main__":
    main()
