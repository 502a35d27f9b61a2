#!/usr/bin/env python3
"""The map's first paint in real Chromium, cold each time.

    python benchmarks/map_paint.py --index indexes/arxiv87k [--rounds 5] [--json OUT]

A ``paperscope serve`` process on the index; each round opens the page in a fresh
browser context (no HTTP cache: a first visit), waits until it is ready, clicks the Map
tab and times, inside the page, from the click to the map drawn (its WebGL plot and
labels' layer present). The phases come from the page's performance marks (js/map.js):
fetching plotly.js and the points, preparing the view, drawing. Targets (issue 19):
≤ 1.5 s at 87k papers, ≤ 3 s at 1M.
"""

from __future__ import annotations

import argparse
import socket
import statistics
from pathlib import Path

from common import write_json
from page import CHROMIUM, MAP_PHASES, MEASURE, start_server

OPEN_MAP = "document.querySelector('[data-testid=tab-map]').click();"
DRAWN = "document.querySelector('#map').dataset.state === 'ready' && !!document.querySelector('#map .main-svg')"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--target-ms", type=float, default=1500)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import httpx
    from playwright.sync_api import sync_playwright

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process, _, message = start_server(args.index, port)
    base = f"http://127.0.0.1:{port}"
    rounds = []
    try:
        health = httpx.get(f"{base}/api/health", timeout=60).json()
        points = httpx.get(f"{base}/api/map/points", headers={"Accept-Encoding": "gzip"}, timeout=120)
        sizes = {"points_mb": round(len(points.content) / 2**20, 2)}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            for _ in range(args.rounds):
                context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
                page = context.new_page()
                page.goto(base + "/")
                page.wait_for_selector("body[data-ready=true]")
                ms = page.evaluate(MEASURE, [OPEN_MAP, DRAWN])
                phases = page.evaluate(MAP_PHASES)
                drawn = page.evaluate("Number(document.querySelector('#map').dataset.drawn)")
                rounds.append({"ms": round(ms, 1), "phases": phases, "points_drawn": drawn})
                print(f"  first paint {ms:.0f} ms {phases} ({drawn:,} points drawn)", flush=True)
                context.close()
            browser.close()
    finally:
        process.terminate()
        process.wait(30)
    p50 = statistics.median(r["ms"] for r in rounds)
    figures = {"index": str(args.index), "papers": health["papers"], "server": message, **sizes, "rounds": rounds,
               "p50_ms": round(p50, 1), "target_ms": args.target_ms, "met": p50 <= args.target_ms}  # fmt: skip
    print(f"map first paint at {health['papers']:,} papers: p50 {p50:.0f} ms (target {args.target_ms:.0f}: "
          f"{'met' if figures['met'] else 'MISSED'}); points answer {sizes['points_mb']} MB gzipped")  # fmt: skip
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
