"""The server is ready when it says so: ``paperscope serve`` warms the model and every
cache the page's first requests use before it opens its socket, and prints that it is
serving only once the socket listens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from engine.serve.server import free_port, stop_group

WARMED = {"hybrid search (loads the model)", "lexical search", "related papers", "fine topics", "map"}


def test_the_server_answers_everything_at_once_when_it_says_it_is_serving(corpus_index: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "engine.cli", "serve", "--index", str(corpus_index), "--port", str(port)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("paperscope: serving"):
                break
        assert lines and lines[-1].startswith("paperscope: serving"), "".join(lines)
        assert "warmed up in" in lines[-1]
        # no retry, no wait: the message means the socket listens and the caches are full
        with httpx.Client(base_url=base, timeout=30) as http:
            search = http.get("/api/search", params={"q": "dark matter in dwarf galaxies", "k": 5})
            assert search.status_code == 200 and search.json()["hits"]
            health = http.get("/api/health").json()
            assert set(health["warm_up_ms"]) >= WARMED, health["warm_up_ms"]
            assert all(ms >= 0 for ms in health["warm_up_ms"].values())
            assert http.get("/api/map").json()["papers"] == health["papers"]
    finally:
        stop_group(process)
