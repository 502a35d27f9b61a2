#!/usr/bin/env python3
"""Build throughput: parse, embed, index and write N real papers, then rebuild warm.

    python benchmarks/build.py [--data ../shared/data] [--n 2000] [--json OUT]

Takes the first N papers of arxiv-87k.jsonl.gz, writes them to a temporary corpus
file and measures, in one run:
  * parse      papers/s reading that file
  * embed      papers/s through the default embedder (model already loaded)
  * index      papers/s building the FAISS index
  * topics     seconds for the topic stage (clustering, labels, map layout)
  * write      seconds to write and publish the artifact (SQLite, npy, checksums)
  * rebuild    seconds for a second build into a new folder with a warm cache,
               and for a rebuild in place (vectors reused from the live version)
Everything runs in temporary folders; your ~/.cache and indexes/ are not touched.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

from common import DEFAULT_DATA, peak_rss_mb, write_json


def take(data: Path, n: int, out: Path) -> int:
    count = 0
    with gzip.open(data / "arxiv-87k.jsonl.gz", "rt", encoding="utf-8") as src, gzip.open(out, "wt") as dst:
        for line in src:
            if count >= n:
                break
            dst.write(line)
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="paperscope-bench-") as tmp:
        tmp = Path(tmp)
        from engine.embedding.cache import cache_root

        # A cold embedding cache for this run; derived models (ONNX export, auto's
        # verdict) come from the usual cache: made once per machine, not per build.
        models = cache_root() / "models"
        (tmp / "cache").mkdir()
        if models.is_dir():
            os.symlink(models, tmp / "cache" / "models")
        os.environ["PAPERSCOPE_CACHE"] = str(tmp / "cache")
        from engine.embedding.embedder import load_embedder
        from engine.ingest.sources import read_papers
        from engine.pipeline.build import Options, build

        corpus = tmp / "corpus.jsonl.gz"
        n = take(args.data, args.n, corpus)

        tick = time.perf_counter()
        parsed = read_papers(corpus)
        parse_s = time.perf_counter() - tick

        tick = time.perf_counter()
        embedder = load_embedder(backend=args.backend)
        embedder.embed(["warm-up"])  # loads the model
        load_s = time.perf_counter() - tick

        options = Options(embedder=embedder, progress=sys.stderr.isatty())
        cold = build([corpus], tmp / "cold", options)
        warm = build([corpus], tmp / "warm", options)  # new folder: vectors come from the cache
        in_place = build([corpus], tmp / "cold", Options(embedder=embedder, use_cache=False, progress=False))

    papers = len(parsed.papers)
    figures = {
        "n": n,
        "papers": papers,
        "backend": embedder.backend,
        "model_load_s": round(load_s, 2),
        "parse_papers_per_s": round(papers / parse_s, 1),
        "embed_papers_per_s": round(papers / cold.seconds["embed"], 1),
        "index_papers_per_s": round(papers / cold.seconds["index"], 1),
        "topics_s": round(cold.seconds.get("topics", 0.0), 2),
        "write_s": round(cold.seconds["write"], 3),
        "cold_build_s": round(cold.seconds["total"], 2),
        "warm_cache_rebuild_s": round(warm.seconds["total"], 2),
        "warm_cache_embedded": warm.embedded,
        "in_place_rebuild_s": round(in_place.seconds["total"], 2),
        "in_place_embedded": in_place.embedded,
        "peak_rss_mb": peak_rss_mb(),
        "cpus": os.cpu_count(),
    }
    width = max(map(len, figures))
    print(f"build benchmark: {papers:,} papers from {args.data / 'arxiv-87k.jsonl.gz'}")
    for key, value in figures.items():
        print(f"  {key:<{width}}  {value}")
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
