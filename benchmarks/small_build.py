#!/usr/bin/env python3
"""The 63-paper demo build, this checkout against an earlier one, interleaved.

    git worktree add /tmp/before COMMIT
    python benchmarks/small_build.py --before /tmp/before [--rounds 7] [--json OUT]

Scale must not cost a small index anything: each round builds the bundled demo digest
(the embedding cache warm, so the build is parsing, topics, index and writing) with
the earlier code, then with this one, each in a fresh process. Prints the median of
each stage and topic sub-stage.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, write_json

DEMO = ROOT / "engine" / "data" / "arxiv-cs.CV-2020-11-19.md"  # the bundled demo corpus
CLI = "import sys; from engine.cli.main import app; sys.argv = ['paperscope', *sys.argv[1:]]; app()"


def build_once(tree: Path, corpus: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-c", CLI, "build", str(corpus), "--index", f"{tmp}/ix", "--json"],
            cwd=tree,
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(tree)),
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"build in {tree} failed:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    return {**report["seconds"], **{f"topics.{k}": v for k, v in report["topics"]["seconds"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the earlier code")
    parser.add_argument("--corpus", type=Path, default=DEMO)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "now": ROOT}
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            runs[name].append(build_once(tree, args.corpus.resolve()))
    medians = {
        name: {k: round(statistics.median(r[k] for r in rows), 2) for k in rows[0]} for name, rows in runs.items()
    }
    print(f"{'stage':18s} {'before':>8s} {'now':>8s}")
    for key in medians["now"]:
        print(f"{key:18s} {medians['before'].get(key, float('nan')):8.2f} {medians['now'][key]:8.2f}")
    if args.json:
        write_json(args.json, {"corpus": str(args.corpus), "rounds": args.rounds, "median_s": medians, "runs": runs})


if __name__ == "__main__":
    main()
