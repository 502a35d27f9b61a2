"""The feed, read marks, follows, exports and Atom feeds through a real server that wants
a token: what the CLI wrote the API serves, every export parses back, and the Atom
feeds read in a real feed parser (the token may come in the feed's URL, never in it)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import bibtexparser
import feedparser
import httpx
import pytest

from engine.pipeline.build import Options, build
from engine.serve.server import server_process
from tests.conftest import GA_DIGEST_1, GA_DIGEST_2

TOKEN = "feed-api-token-0123456789"
LIKED = ["2606.14671", "2606.14643", "2606.14477"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Path]]:
    index = tmp_path_factory.mktemp("feed-api") / "ga"
    build([GA_DIGEST_1, GA_DIGEST_2], index, Options(backend="static", progress=False))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with server_process(index, token=TOKEN) as base, httpx.Client(base_url=base, timeout=60, headers=headers) as http:
        for pid in LIKED:
            http.put(f"/api/libraries/likes/papers/{pid}", json={"verdict": "like"}).raise_for_status()
        yield http, index


def test_the_feed_read_marks_and_follows(served: tuple[httpx.Client, Path]) -> None:
    http, index = served
    feed = http.get("/api/feed", params={"since": "1d"}).json()
    assert feed["newest"] == "2026-06-19" and feed["since"] == "2026-06-19" and feed["items"]
    assert all(item["date"] == "2026-06-19" and item["why"] and item["snippet"] for item in feed["items"])
    first = feed["items"][0]["id"]
    assert http.post("/api/libraries/likes/read", json={"ids": [first]}).json()["changed"] == 1
    after = http.get("/api/feed", params={"since": "1d"}).json()
    assert first not in [i["id"] for i in after["items"]] and after["unread"] == feed["unread"] - 1
    http.post("/api/libraries/likes/read", json={"ids": [first], "read": False}).raise_for_status()

    # the CLI sees the API's read mark, and the API the CLI's
    cli = [sys.executable, "-m", "engine.cli", "library", "read", LIKED[0], "--index", str(index)]
    subprocess.run(cli, check=True, capture_output=True, timeout=120)
    exported = http.get("/api/libraries/likes/export").json()
    assert exported["libraries"][0]["read"] == [LIKED[0]]

    topic = feed["items"][0]["topic"]
    follows = http.put(f"/api/libraries/likes/follows/topic/fine:{topic['id']}").json()["follows"]
    assert follows == [{"kind": "topic", "value": f"fine:{topic['id']}", "label": topic["label"]}]
    followed = http.get("/api/feed", params={"since": "7d"}).json()
    assert {i["topic"]["id"] for i in followed["items"]} == {topic["id"]}
    assert http.delete(f"/api/libraries/likes/follows/topic/fine:{topic['id']}").json()["follows"] == []
    assert http.put("/api/libraries/likes/follows/topic/fine:999").status_code == 404
    assert http.put("/api/libraries/likes/follows/category/not a category").status_code == 400
    assert http.get("/api/feed", params={"library": "nobody"}).status_code == 404
    assert http.get("/api/feed", params={"since": "soon"}).status_code == 400
    assert http.get("/api/feed").status_code == 200
    assert httpx.get(f"{http.base_url}/api/feed").status_code == 401  # no token


def test_exports_parse_back(served: tuple[httpx.Client, Path]) -> None:
    http, _ = served
    bib = http.get("/api/export", params={"library": "likes"})
    assert bib.headers["content-type"].startswith("application/x-bibtex")
    assert "attachment" in bib.headers["content-disposition"] and "paperscope-likes.bib" in bib.headers["content-disposition"]
    entries = bibtexparser.loads(bib.text).entries
    assert sorted(e["eprint"] for e in entries) == sorted(LIKED)
    assert all(e["archiveprefix"] == "arXiv" and e["primaryclass"] == "astro-ph.GA" for e in entries)

    hits = http.get("/api/search", params={"q": "galaxy clusters", "k": 5}).json()["hits"]
    ids = [h["id"] for h in hits]
    table = http.get("/api/export", params={"ids": ",".join(ids), "format": "csv"}).text
    assert [row["id"] for row in csv.DictReader(io.StringIO(table))] == ids
    topic = hits[0]["topic"]["id"]
    members = http.get(f"/api/topics/{topic}", params={"k": 1000}).json()
    csl = json.loads(http.get("/api/export", params={"topic": topic, "format": "csl-json"}).text)
    assert {c["id"] for c in csl} == {h["id"] for h in members["hits"]}
    assert all(c["URL"] == f"https://arxiv.org/abs/{c['id']}" for c in csl)
    searched = http.get("/api/export", params={"q": "galaxy clusters", "k": 3}).text
    assert len(bibtexparser.loads(searched).entries) == 3
    assert http.get("/api/export").status_code == 400  # no source
    assert http.get("/api/export", params={"ids": "x", "topic": 0}).status_code == 400
    assert http.get("/api/export", params={"ids": "2606.14671", "format": "ris"}).status_code == 422


def test_atom_feeds_read_in_a_feed_parser(served: tuple[httpx.Client, Path]) -> None:
    http, _ = served
    atom = http.get("/feeds/library/likes.atom", params={"since": "7d"})
    assert atom.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(atom.content)
    assert parsed.bozo == 0 and parsed.feed.title == "paperscope: likes"
    api = http.get("/api/feed", params={"since": "7d"}).json()
    assert [e.id for e in parsed.entries] == [f"https://arxiv.org/abs/{i['id']}" for i in api["items"]]
    assert [e.title for e in parsed.entries] == [i["title"] for i in api["items"]]
    assert all(e.link.startswith("https://arxiv.org/abs/") and e.tags for e in parsed.entries)

    # a feed reader keeps a URL: the token may ride in it, and is not written into the feed
    reader = httpx.get(f"{http.base_url}/feeds/library/likes.atom", params={"token": TOKEN})
    assert reader.status_code == 200 and TOKEN not in reader.text
    assert httpx.get(f"{http.base_url}/feeds/library/likes.atom", params={"token": "wrong"}).status_code == 401
    assert httpx.get(f"{http.base_url}/feeds/library/likes.atom").status_code == 401

    topic = api["items"][0]["topic"]
    topic_feed = feedparser.parse(http.get(f"/feeds/topic/fine/{topic['id']}.atom", params={"since": "30d"}).content)
    assert topic_feed.bozo == 0 and topic["label"] in topic_feed.feed.title and topic_feed.entries
    dates = [e.published_parsed for e in topic_feed.entries]
    assert dates == sorted(dates, reverse=True)  # a topic's feed is newest first
    assert http.get("/feeds/topic/fine/999.atom").status_code == 404
    assert http.get("/feeds/library/nobody.atom").status_code == 404
