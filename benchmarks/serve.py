#!/usr/bin/env python3
"""Load test of ``paperscope serve`` on loopback: concurrent clients on search and related.

    python benchmarks/serve.py [--index indexes/arxiv87k-int8] [--clients 8] [--seconds 30]
                               [--during-add FILE] [--json OUT]

A real server process; each client keeps one HTTP connection and alternates a search
(a real title from the index as the query, default hybrid mode) and a related-papers
request (a random paper), as fast as answers come. Prints requests/s, p50 and p99
latency and errors per endpoint. The clients run in this process, so on a 2-core
machine they take CPU from the server: the figures are a floor.

``--during-add FILE`` serves a copy of the index and runs ``paperscope add FILE`` on it
a few seconds in: the load goes on through the add, and the table shows which versions
answered and whether anything failed.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT, peak_rss_mb, write_json


def sample_requests(index: Path, n: int = 2000) -> tuple[list[str], list[str]]:
    """Titles to search for and ids to ask related papers of, drawn from the index."""
    import engine

    with engine.open(index) as ix:
        ids = ix.ids()
        picks = random.Random(0).sample(ids, min(n, len(ids)))
        titles = [ix.paper(pid).title for pid in picks]
    return titles, picks


def run_load(base: str, titles: list[str], ids: list[str], clients: int, seconds: float) -> dict:
    import httpx

    stop_at = time.monotonic() + seconds
    results: dict[str, list[float]] = {"search": [], "related": []}
    errors: dict[str, list[str]] = {"search": [], "related": []}
    versions: dict[str, int] = {}
    lock = threading.Lock()

    def client(number: int) -> None:
        rng = random.Random(number)
        with httpx.Client(base_url=base, timeout=30) as http:
            turn = number
            while time.monotonic() < stop_at:
                kind = "search" if turn % 2 == 0 else "related"
                turn += 1
                tick = time.perf_counter()
                try:
                    if kind == "search":
                        answer = http.get("/api/search", params={"q": rng.choice(titles), "k": 10})
                    else:
                        answer = http.get(f"/api/papers/{rng.choice(ids)}/related", params={"k": 10})
                    elapsed = (time.perf_counter() - tick) * 1000
                    problem = None if answer.status_code == 200 else f"{answer.status_code} {answer.text[:120]}"
                except httpx.HTTPError as exc:
                    elapsed, problem = (time.perf_counter() - tick) * 1000, repr(exc)
                with lock:
                    (errors[kind].append(problem) if problem else results[kind].append(elapsed))
                if turn % 20 == 0:
                    version = http.get("/api/health").json().get("version", "?")
                    with lock:
                        versions[version] = versions.get(version, 0) + 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    table = {}
    for kind, times in results.items():
        ordered = sorted(times)
        table[kind] = {
            "requests": len(times) + len(errors[kind]),
            "per_s": round(len(times) / wall, 1),
            "p50_ms": round(statistics.median(ordered), 2) if ordered else None,
            "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 2) if ordered else None,
            "errors": len(errors[kind]),
            "first_errors": errors[kind][:3],
        }
    return {"wall_s": round(wall, 1), "endpoints": table, "versions_seen": versions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "indexes" / "arxiv87k-int8")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--during-add", type=Path, default=None, help="run paperscope add FILE on a copy meanwhile")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from engine.serve.server import server_process

    titles, ids = sample_requests(args.index)
    with tempfile.TemporaryDirectory(prefix="paperscope-serve-", dir=ROOT / "indexes") as tmp:
        index = args.index
        if args.during_add:
            index = Path(tmp) / "copy"
            shutil.copytree(args.index, index, symlinks=True)
        with server_process(index) as base:
            adder = None
            if args.during_add:
                adder = threading.Thread(target=_add_later, args=(args.during_add, index, 5.0, outcome := {}))
                adder.start()
            load = run_load(base, titles, ids, args.clients, args.seconds)
            if adder:
                adder.join()
                load["add"] = outcome
    print(f"{args.clients} clients for {load['wall_s']} s on {args.index} (loopback)")
    print(f"{'endpoint':8s} {'requests':>8s} {'req/s':>7s} {'p50 ms':>7s} {'p99 ms':>7s} {'errors':>6s}")
    for kind, row in load["endpoints"].items():
        print(
            f"{kind:8s} {row['requests']:8d} {row['per_s']:7.1f} {row['p50_ms'] or 0:7.2f} "
            f"{row['p99_ms'] or 0:7.2f} {row['errors']:6d}"
        )
    print(f"versions answering: {load['versions_seen']}")
    if "add" in load:
        print(f"add during the load: exit {load['add']['exit']}, {load['add']['seconds']} s")
    write_json(args.json, {"index": str(args.index), "clients": args.clients, **load, "client_rss_mb": peak_rss_mb()})


def _add_later(path: Path, index: Path, delay: float, outcome: dict) -> None:
    time.sleep(delay)
    tick = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "add", str(path), "--index", str(index), "--json"],
        capture_output=True,
        text=True,
    )
    outcome.update(exit=done.returncode, seconds=round(time.monotonic() - tick, 1), stderr=done.stderr[-500:])


if __name__ == "__main__":
    main()
