#!/usr/bin/env python3
"""Build growth: full builds of 10k, 30k and 87k real papers, then a day's add to each.

    python benchmarks/scale.py [--data ../shared/data] [--sizes 10000,30000,87431]
                               [--embed-sample 1000] [--json OUT]
    python benchmarks/scale.py --synthetic 250000,500000,1000000 [--vectors-from indexes/arxiv87k]
                               [--keep indexes] [--json OUT]

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

``--synthetic``: past 87k, the real papers plus perturbed copies (scale_corpus.py), with
every vector put into a fresh embedding cache first, so the build embeds nothing (the
vectors are given). Per size: seconds per stage, peak RSS, disk, ``add`` of 100 new
papers (embedded for real, with the model already prepared), and through a real server: p50/p95 of hybrid search,
related papers, a topic's papers, and the map's points (first and cached).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import DEFAULT_DATA, ROOT, write_json

CHILD = """
import json, os, resource, sys, threading, time
from engine.pipeline import build
from engine.pipeline.build import Options
kind, inputs, index, backend = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
tick = time.perf_counter()
timeline = []  # (seconds, resident MB) each second: which stage holds the memory
def sample():
    page = os.sysconf("SC_PAGE_SIZE") / 2**20
    while True:
        with open("/proc/self/statm") as statm:
            timeline.append((round(time.perf_counter() - tick, 1), round(int(statm.read().split()[1]) * page)))
        time.sleep(1)
threading.Thread(target=sample, daemon=True).start()
report = (build.build if kind == "build" else build.add)(inputs, index, Options(progress=False, backend=backend))
print(json.dumps({"wall": time.perf_counter() - tick, "report": report.to_dict(), "timeline": timeline,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def peak_by_stage(seconds: dict[str, float], timeline: list[tuple[float, int]]) -> dict[str, int]:
    """Peak resident MB within each top-level stage, the stages taken as back to back."""
    out, start = {}, 0.0
    for name, took in seconds.items():
        if name == "total":
            continue
        inside = [mb for t, mb in timeline if start <= t <= start + took + 1]
        out[name] = max(inside, default=0)
        start += took
    return out


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


def run_child(kind: str, inputs: list[Path], index: Path, backend: str = "auto") -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, kind, ",".join(map(str, inputs)), str(index), backend],
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


def served_latencies(index: Path, rounds: int = 30) -> dict:
    """Milliseconds (p50, p95) of the page's main requests against a real server."""
    import httpx

    from engine.serve.server import server_process

    queries = ["dark matter halo", "graph neural networks", "quantum error correction", "protein folding",
               "large language model reasoning", "galaxy rotation curves", "diffusion models for images"]  # fmt: skip
    out: dict = {}
    tick = time.perf_counter()
    with server_process(index) as base, httpx.Client(base_url=base, timeout=300) as http:
        out["start_s"] = round(time.perf_counter() - tick, 1)
        health = http.get("/api/health").json()
        out["warm_up_ms"] = health.get("warm_up_ms")
        hits = http.get("/api/search", params={"q": queries[0], "k": 10}).json()["hits"]
        topic = http.get("/api/topics").json()["topics"][0]["id"]

        def timed(name: str, call) -> None:
            times = []
            for r in range(rounds):
                start = time.perf_counter()
                call(r).raise_for_status()
                times.append((time.perf_counter() - start) * 1000)
            out[name] = {"p50": round(float(np.median(times)), 1), "p95": round(float(np.percentile(times, 95)), 1)}

        timed("search", lambda r: http.get("/api/search", params={"q": queries[r % len(queries)], "mode": "hybrid"}))
        timed("related", lambda r: http.get(f"/api/papers/{hits[r % len(hits)]['id']}/related"))
        timed("topic", lambda r: http.get(f"/api/topics/{topic}", params={"k": 25}))
        timed("map_points", lambda r: http.get("/api/map/points", headers={"Accept-Encoding": "gzip"}))
        out["map_points_mb"] = round(len(http.get("/api/map/points").content) / 2**20, 1)
    return out


def synthetic(args) -> list[dict]:
    import scale_corpus

    records, vectors = scale_corpus.real_papers(args.vectors_from)
    backend = json.loads((args.vectors_from / "CURRENT" / "manifest.json").read_text())["model"]["backend"]
    rows = []
    for size in [int(s) for s in args.synthetic.split(",")]:
        with tempfile.TemporaryDirectory(prefix="paperscope-scale-") as tmp:
            folder = Path(tmp)
            os.environ["PAPERSCOPE_CACHE"] = str(folder / "cache")  # the children inherit it
            tick = time.perf_counter()
            corpus = folder / f"corpus-{size}.jsonl.gz"
            scale_corpus.write_corpus(records, size, corpus)
            day = folder / "day-100.jsonl.gz"
            scale_corpus.write_corpus(records, 100, day, seed=1, first_copy=900)
            scale_corpus.inject_vectors(corpus, [r["id"] for r in records], vectors, backend)
            # A daily add runs with the model made once (`models prepare`), as a researcher's does.
            prepare = ["models", "prepare", "--backend", backend, "--json"]
            subprocess.run(
                [sys.executable, "-c", "from engine.cli.main import app; app()", *prepare], cwd=ROOT, check=True
            )
            prepared = time.perf_counter() - tick
            print(f"{size:,}: corpus and cache ready in {prepared:.0f} s", flush=True)
            index = folder / "ix"
            built = run_child("build", [corpus], index, backend)
            print(f"{size:,}: built in {built['wall']:.0f} s, peak RSS {built['peak_rss_mb']:.0f} MB", flush=True)
            added = run_child("add", [day], index, backend)
            report = built["report"]
            row = {
                "papers": report["papers"],
                "prepare_s": round(prepared, 1),
                "wall_s": round(built["wall"], 1),
                "seconds": report["seconds"],
                "topic_seconds": (report.get("topics") or {}).get("seconds", {}),
                "topic_sample": (report.get("topics") or {}).get("sample"),
                "embedded_now": report["embedded"],
                "from_cache": report["from_cache"],
                "peak_rss_mb": round(built["peak_rss_mb"]),
                "peak_rss_mb_by_stage": peak_by_stage(report["seconds"], built["timeline"]),
                "disk_mb": sizes_on_disk(index),
                "add_100": {
                    "wall_s": round(added["wall"], 2),
                    "seconds": added["report"]["seconds"],
                    "embedded": added["report"]["embedded"],
                    "peak_rss_mb": round(added["peak_rss_mb"]),
                },
                "served": served_latencies(index),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.keep:  # e.g. for benchmarks/page.py at this size
                shutil.copytree(index, args.keep / f"synthetic-{size}", symlinks=True, dirs_exist_ok=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sizes", default="10000,30000,87431")
    parser.add_argument("--embed-sample", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--synthetic", help="sizes past 87k, e.g. 250000,500000,1000000 (see above)")
    parser.add_argument("--vectors-from", type=Path, default=ROOT / "indexes" / "arxiv87k")
    parser.add_argument("--keep", type=Path, help="copy each synthetic index into this folder")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.synthetic:
        rows = synthetic(args)
        print_synthetic(rows)
        write_json(args.json, {"synthetic": rows})
        return
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
                "peak_rss_mb_by_stage": peak_by_stage(report["seconds"], built["timeline"]),
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


def print_synthetic(rows: list[dict]) -> None:
    print(f"{'papers':>9} {'parse':>6} {'embed*':>7} {'topics':>7} {'index':>6} {'write':>6} {'wall':>7} {'RSS MB':>7} "
          f"{'disk MB':>8} {'add 100':>7} {'search':>7} {'related':>7} {'topic':>6} {'map':>6}")  # fmt: skip
    for r in rows:
        s, v = r["seconds"], r["served"]
        print(f"{r['papers']:>9,} {s.get('parse', 0):>6.1f} {s.get('embed', 0):>7.1f} {s.get('topics', 0):>7.1f} "
              f"{s.get('index', 0):>6.1f} {s.get('write', 0):>6.1f} {r['wall_s']:>7.1f} {r['peak_rss_mb']:>7,} "
              f"{sum(r['disk_mb'].values()):>8.0f} {r['add_100']['wall_s']:>7.2f} {v['search']['p50']:>7} "
              f"{v['related']['p50']:>7} {v['topic']['p50']:>6} {v['map_points']['p50']:>6}")  # fmt: skip
    print("* embed: cache lookups (the vectors are given); served latencies: p50 ms through a real server")


if __name__ == "__main__":
    main()
