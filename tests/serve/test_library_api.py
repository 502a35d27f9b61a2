"""Libraries through the HTTP API of a real server, and the CLI seeing what the API
wrote (the page's like buttons go through these endpoints)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.pipeline.build import Options, build
from engine.serve.server import server_process
from tests.conftest import GA_DIGEST_1

PAPER = "2606.14671"
OTHER = "2606.14643"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    index = tmp_path_factory.mktemp("library-api") / "ga"
    build([GA_DIGEST_1], index, Options(backend="static", progress=False))
    with server_process(index) as base:
        yield base, index


def test_likes_through_the_api_are_the_cli_library(served: tuple[str, Path]) -> None:
    base, index = served
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/api/libraries").json() == {"libraries": []}
        liked = http.put(f"/api/libraries/likes/papers/{PAPER}", json={"verdict": "like"})
        assert liked.status_code == 200
        [entry] = liked.json()["entries"]
        assert entry["paper_id"] == PAPER and entry["verdict"] == "like" and entry["in_index"] and entry["title"]
        http.put(f"/api/libraries/likes/papers/{OTHER}v1", json={"verdict": "unlike"}).raise_for_status()
        listing = http.get("/api/libraries").json()["libraries"]
        assert [(s["name"], s["likes"], s["unlikes"]) for s in listing] == [("likes", 1, 1)]

        assert http.put("/api/libraries/likes/papers/2601.00001", json={"verdict": "like"}).status_code == 404
        assert http.put(f"/api/libraries/likes/papers/{PAPER}", json={"verdict": "love"}).status_code == 422
        refused = http.put(f"/api/libraries/{'..%20'}/papers/{PAPER}", json={"verdict": "like"})
        assert refused.status_code == 400 and "library name" in refused.json()["error"]
        assert http.get("/api/libraries/nothing-here").status_code == 404

        cli = subprocess.run(
            [sys.executable, "-m", "engine.cli", "library", "show", "likes", "--index", str(index), "--json"],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        assert {e["paper_id"]: e["verdict"] for e in json.loads(cli.stdout)["entries"]} == {
            PAPER: "like", OTHER: "unlike",
        }  # fmt: skip

        exported = http.get("/api/libraries/likes/export").json()
        assert exported["format"] == "paperscope-library" and len(exported["libraries"][0]["entries"]) == 2
        removed = http.delete(f"/api/libraries/likes/papers/{OTHER}")
        assert [e["paper_id"] for e in removed.json()["entries"]] == [PAPER]
