"""A running server keeps answering while ``paperscope add`` publishes a new version of
its index, and moves to the new version atomically (real server, real add process)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from engine.ingest.sources import read_papers
from engine.pipeline.build import Options, build
from engine.serve.server import server_process
from tests.conftest import GA_DIGEST_1, GA_DIGEST_2


def test_server_answers_through_an_add_and_switches_atomically(tmp_path: Path) -> None:
    index = tmp_path / "ga"
    build([GA_DIGEST_1], index, Options(backend="static", progress=False))
    first, second = read_papers(GA_DIGEST_1).papers, read_papers(GA_DIGEST_2).papers
    newcomer = next(p for p in second if p.id not in {q.id for q in first})
    stop = threading.Event()
    seen: list[tuple[int, str | None, int | None]] = []  # (status, version, papers) in order, per client
    failures: list[str] = []

    def client(number: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            while not stop.is_set():
                try:
                    health = http.get("/api/health")
                    found = http.get("/api/search", params={"q": "galaxy stellar mass", "k": 5})
                except httpx.HTTPError as exc:
                    failures.append(f"client {number}: {exc!r}")
                    continue
                body = health.json()
                seen.append((health.status_code, body.get("version"), body.get("papers")))
                if found.status_code != 200 or len(found.json()["hits"]) != 5:
                    failures.append(f"client {number}: search {found.status_code} {found.text[:200]}")

    with server_process(index) as base:
        before = httpx.get(f"{base}/api/health").json()
        clients = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for thread in clients:
            thread.start()
        try:
            added = subprocess.run(
                [sys.executable, "-m", "engine.cli", "add", str(GA_DIGEST_2), "--index", str(index), "--json"],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert added.returncode == 0, added.stderr
            deadline = time.monotonic() + 20
            while httpx.get(f"{base}/api/health").json()["version"] == before["version"]:
                assert time.monotonic() < deadline, "the server never moved to the new version"
                time.sleep(0.2)
            # Keep the load on across the switch until enough answers came from both sides
            # (a count, not a sleep: on a busy machine one second may hold only a few).
            settle = time.monotonic() + 60
            while time.monotonic() < settle and not (
                len(seen) > 20 and sum(1 for _, version, _ in seen if version != before["version"]) >= 4
            ):
                time.sleep(0.2)
        finally:
            stop.set()
            for thread in clients:
                thread.join()
        after = httpx.get(f"{base}/api/health").json()
        assert after["version"] != before["version"] and after["papers"] > before["papers"]
        paper = httpx.get(f"{base}/api/papers/{newcomer.id}")
        assert paper.status_code == 200 and paper.json()["title"] == newcomer.title

    assert not failures, failures[:5]
    assert all(status == 200 for status, _, _ in seen) and len(seen) > 20
    versions = {version: papers for _, version, papers in seen}
    assert versions == {before["version"]: before["papers"], after["version"]: after["papers"]}
