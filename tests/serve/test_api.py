"""The HTTP API against a real ``paperscope serve`` process on loopback (300-paper
astro-ph.GA + cs.CL index with topics): shapes shared with the CLI's ``--json``, clear
4xx errors, bounds, the token, concurrency, and schema-driven fuzzing."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from engine.ingest.sources import read_papers
from engine.serve.server import server_process
from tests.conftest import CORPUS_SAMPLE

PAPERS = read_papers(CORPUS_SAMPLE).papers
TOKEN = "correct-horse-battery-staple"


def _cli_json(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", *args, "--json"], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_answers_have_the_cli_shapes(served_corpus: str, corpus_index: Path) -> None:
    paper = PAPERS[3]
    searched = httpx.get(f"{served_corpus}/api/search", params={"q": "dark matter halo", "k": 5}).json()
    assert set(searched) == {"query", "mode", "sort", "score", "relevance", "filters", "hits", "elapsed_ms"}
    assert searched["score"] == "rrf"
    cli = _cli_json("search", "dark matter halo", "-k", "5", "--index", str(corpus_index))
    assert searched["hits"] == cli["hits"] and searched["mode"] == cli["mode"] == "hybrid"
    hit = searched["hits"][0]
    assert {"rank", "id", "score", "title", "authors", "date", "categories", "topic"} <= set(hit)
    assert hit["topic"] and hit["topic"]["label"]

    related = httpx.get(f"{served_corpus}/api/papers/{paper.id}/related", params={"k": 4}).json()
    assert related == _cli_json("related", paper.id, "-k", "4", "--index", str(corpus_index))
    assert paper.id not in [h["id"] for h in related["hits"]] and len(related["hits"]) == 4
    assert related["score"] == "fused"
    assert all(h["because"]["words"] is not None and h["because"]["sentences"]["hit"] for h in related["hits"])

    body = {"like": [PAPERS[0].id, PAPERS[1].id], "unlike": [PAPERS[2].id], "k": 5}
    recommended = httpx.post(f"{served_corpus}/api/recommend", json=body).json()
    cli_args = ["recommend", "--like", PAPERS[0].id, "--like", PAPERS[1].id, "--unlike", PAPERS[2].id]
    assert recommended == _cli_json(*cli_args, "-k", "5", "--index", str(corpus_index))
    assert not {h["id"] for h in recommended["hits"]} & {p.id for p in PAPERS[:3]}
    titles = {p.id: p.title for p in PAPERS}
    assert all(titles[h["because"]["like"]] == h["because"]["title"] for h in recommended["hits"])
    assert recommended["method"] == "fused" and recommended["score"] == "fused"

    topics = httpx.get(f"{served_corpus}/api/topics").json()
    assert topics == _cli_json("topics", "--index", str(corpus_index))
    assert sum(t["size"] for t in topics["topics"]) + topics["outliers"] == len(PAPERS)
    light = httpx.get(f"{served_corpus}/api/topics", params={"papers": "false"}).json()
    assert light["topics"] == [{k: v for k, v in t.items() if k != "papers"} for t in topics["topics"]]
    first = topics["topics"][0]
    topic = httpx.get(f"{served_corpus}/api/topics/{first['id']}", params={"k": 3}).json()
    assert topic == _cli_json("topic", str(first["id"]), "-k", "3", "--index", str(corpus_index))
    assert {h["id"] for h in topic["hits"]} <= set(first["papers"])


def test_paper_map_and_health(served_corpus: str) -> None:
    paper = PAPERS[5]
    got = httpx.get(f"{served_corpus}/api/papers/{paper.id}").json()
    assert (got["id"], got["title"], got["abstract"]) == (paper.id, paper.title, paper.abstract)
    assert got["authors"] == list(paper.authors) and got["topic"] is not None
    health = httpx.get(f"{served_corpus}/api/health").json()
    assert health["status"] == "ok" and health["papers"] == len(PAPERS) and health["topics"] is True
    assert health["fine_topics"] == len(httpx.get(f"{served_corpus}/api/topics").json()["topics"]) > 0
    mapped = httpx.get(f"{served_corpus}/api/map", headers={"Accept-Encoding": "gzip"})
    assert mapped.headers.get("content-encoding") == "gzip"  # the biggest answer travels compressed
    points = mapped.json()
    assert points["papers"] == len(points["ids"]) == len(points["x"]) == len(points["fine"]) == len(PAPERS)
    assert {t["id"] for t in points["fine_topics"]} >= set(points["fine"]) - {-1}
    schema = httpx.get(f"{served_corpus}/openapi.json").json()
    assert {"/api/search", "/api/recommend", "/api/map", "/api/health", "/api/topics/{topic_id}"} <= set(
        schema["paths"]
    )
    page = httpx.get(f"{served_corpus}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "path", "params", "status", "words"),
    [
        ("GET", "/api/search", {"q": "x", "k": 0}, 422, "k:"),
        ("GET", "/api/search", {"q": "x", "k": 101}, 422, "k:"),
        ("GET", "/api/search", {"q": "x" * 2001}, 422, "q:"),
        ("GET", "/api/search", {"q": ""}, 422, "q:"),
        ("GET", "/api/search", {}, 422, "q:"),
        ("GET", "/api/search", {"q": "x", "mode": "fuzzy"}, 422, "mode:"),
        ("GET", "/api/search", {"q": "x", "since": "2020-13"}, 400, "2020-13"),
        ("GET", "/api/search", {"q": "x", "k": "ten"}, 422, "k:"),
        ("GET", "/api/papers/9999.99999", {}, 404, "9999.99999"),
        ("GET", "/api/papers/9999.99999/related", {}, 404, "9999.99999"),
        ("GET", "/api/papers/" + "1" * 80, {}, 400, "paper id"),
        ("GET", "/api/topics/99999", {}, 404, "99999"),
        ("GET", "/api/topics/abc", {}, 422, "topic_id:"),
        ("GET", "/api/topics", {"level": "tiny"}, 422, "level:"),
        ("GET", "/api/nowhere", {}, 404, "Not Found"),
        ("DELETE", "/api/search", {}, 405, "Method Not Allowed"),
    ],
)
def test_bad_requests_get_clear_json_errors(
    served_corpus: str, method: str, path: str, params: dict, status: int, words: str
) -> None:
    answer = httpx.request(method, served_corpus + path, params=params)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"like": []}, 422, "like:"),
        ({"unlike": ["2301.00001"]}, 422, "like:"),
        ({"like": ["9999.99999"]}, 404, "9999.99999"),
        ({"like": [PAPERS[0].id], "unlike": [PAPERS[0].id]}, 400, "both liked and unliked"),
        ({"like": [PAPERS[0].id], "k": 500}, 422, "k:"),
        ({"like": [PAPERS[0].id], "method": "magic"}, 422, "method:"),
        ({"like": [PAPERS[0].id], "surprise": 1}, 422, "surprise:"),
        ({"like": [PAPERS[0].id] * 101}, 422, "like:"),
        ({"like": "not a list"}, 422, "like:"),
    ],
)
def test_bad_recommend_bodies(served_corpus: str, body: dict, status: int, words: str) -> None:
    answer = httpx.post(f"{served_corpus}/api/recommend", json=body)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]


def test_malformed_and_oversized_bodies(served_corpus: str) -> None:
    broken = httpx.post(
        f"{served_corpus}/api/recommend", content=b'{"like": [', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422 and "error" in broken.json()
    huge = json.dumps({"like": ["x" * 100_000]}).encode()
    declared = httpx.post(f"{served_corpus}/api/recommend", content=huge, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "bytes" in declared.json()["error"]

    def chunks():  # no Content-Length: the guard counts what arrives
        for _ in range(20):
            yield b" " * 8192

    streamed = httpx.post(
        f"{served_corpus}/api/recommend", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert httpx.get(f"{served_corpus}/api/health").status_code == 200  # still serving


def test_concurrent_requests_get_the_same_answers(served_corpus: str) -> None:
    """8 clients at once, mixed endpoints: every answer equals the one given alone."""
    calls = [("/api/search", {"q": p.title, "k": 5}) for p in PAPERS[:12]]
    calls += [(f"/api/papers/{p.id}/related", {"k": 5}) for p in PAPERS[12:24]]
    alone = [httpx.get(served_corpus + path, params=params).json()["hits"] for path, params in calls]
    with httpx.Client(base_url=served_corpus) as client, ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda c: client.get(c[0], params=c[1]), calls * 3))
    assert all(answer.status_code == 200 for answer in together)
    assert [answer.json()["hits"] for answer in together] == alone * 3


def test_token_guards_the_api(corpus_index: Path) -> None:
    with server_process(corpus_index, token=TOKEN) as base:
        assert httpx.get(f"{base}/api/health").json()["token_required"] is True
        refused = httpx.get(f"{base}/api/search", params={"q": "galaxy"})
        assert refused.status_code == 401 and "token" in refused.json()["error"]
        wrong = httpx.get(f"{base}/api/search", params={"q": "galaxy"}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        good = httpx.get(f"{base}/api/search", params={"q": "galaxy"}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert good.status_code == 200 and good.json()["hits"]


def test_other_binds_need_a_token(corpus_index: Path) -> None:
    """Without a token the server refuses to listen beyond loopback, before loading anything."""
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "serve", "--index", str(corpus_index), "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in __import__("os").environ.items() if k != "PAPERSCOPE_TOKEN"},
    )
    assert done.returncode == 2 and "token" in done.stderr and "0.0.0.0" in done.stderr


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_fuzzed_requests_never_break_the_server(served_corpus: str, mode: str) -> None:
    """Requests generated from the served OpenAPI schema by schemathesis, conforming
    (positive) and violating it (negative), 25 per operation: never a 5xx, and every
    refusal is JSON with an error message."""
    schema = schemathesis.openapi.from_url(f"{served_corpus}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    # health, search, recommend, related, paper, topics, trends, topic, map (JSON,
    # points, titles); the libraries: list, one, export, mark, unmark, delete; the feed, read marks, follow,
    # unfollow; exports; the Atom feeds of a library and of a topic
    assert len(operations) == 24
    seen: list[int] = []
    unsatisfiable: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def never_a_server_error(case) -> None:
            response = case.call(base_url=served_corpus, timeout=30)
            seen.append(response.status_code)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
            if response.status_code >= 400:
                assert response.json()["error"]

        try:
            never_a_server_error()
        except Unsatisfiable:
            # Only in negative mode: an operation without inputs, or whose only input is
            # a free string (a paper id), has no request that violates the schema.
            assert mode == "negative", operation.label
            unsatisfiable.append(operation.label)
    assert len(unsatisfiable) <= 7, unsatisfiable  # health, a paper, the map's three forms, libraries, …
    assert len(seen) >= 4 * 10
