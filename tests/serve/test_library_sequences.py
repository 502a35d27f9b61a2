"""Random sequences of library calls against a real server, checked step by step against
a model of what the library must hold (hypothesis' stateful testing): marks, unmarks,
read marks, follows, deletes, the feed and exports in any order never give a 5xx, and
the server's library is always exactly the model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import bibtexparser
import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from engine.pipeline.build import Options, build
from engine.serve.server import server_process
from tests.conftest import GA_DIGEST_1

PAPERS = ["2606.14671", "2606.14643", "2606.14477", "2606.13761"]  # in GA_DIGEST_1
LIBRARIES = ["likes", "dark matter"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    index: Path = tmp_path_factory.mktemp("sequences") / "ga"
    build([GA_DIGEST_1], index, Options(backend="static", progress=False))
    with server_process(index) as url:
        yield url


def test_library_call_sequences_keep_the_model(base: str) -> None:
    http = httpx.Client(base_url=base, timeout=60)

    class Library(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            for name in LIBRARIES:  # each sequence starts from nothing
                http.delete(f"/api/libraries/{name}")
            self.entries: dict[str, dict[str, str]] = {}  # library -> paper -> verdict
            self.read: dict[str, set[str]] = {}

        def _ok(self, response: httpx.Response) -> httpx.Response:
            assert response.status_code < 500, response.text
            return response

        @rule(
            name=st.sampled_from(LIBRARIES), paper=st.sampled_from(PAPERS), verdict=st.sampled_from(["like", "unlike"])
        )
        def mark(self, name: str, paper: str, verdict: str) -> None:
            self._ok(http.put(f"/api/libraries/{name}/papers/{paper}", json={"verdict": verdict})).raise_for_status()
            self.entries.setdefault(name, {})[paper] = verdict
            self.read.setdefault(name, set())

        @rule(name=st.sampled_from(LIBRARIES), paper=st.sampled_from(PAPERS))
        def unmark(self, name: str, paper: str) -> None:
            answer = self._ok(http.delete(f"/api/libraries/{name}/papers/{paper}"))
            assert answer.status_code == (200 if name in self.entries else 404)
            self.entries.get(name, {}).pop(paper, None)

        @rule(name=st.sampled_from(LIBRARIES), papers=st.lists(st.sampled_from(PAPERS), max_size=3), read=st.booleans())
        def mark_read(self, name: str, papers: list[str], read: bool) -> None:
            answer = self._ok(http.post(f"/api/libraries/{name}/read", json={"ids": papers, "read": read}))
            assert answer.status_code == (200 if name in self.entries else 404)
            if name in self.entries:
                self.read[name] = (self.read[name] | set(papers)) if read else (self.read[name] - set(papers))

        @rule(name=st.sampled_from(LIBRARIES), category=st.sampled_from(["astro-ph.GA", "cs."]))
        def follow(self, name: str, category: str) -> None:
            self._ok(http.put(f"/api/libraries/{name}/follows/category/{category}")).raise_for_status()
            self.entries.setdefault(name, {})
            self.read.setdefault(name, set())

        @rule(name=st.sampled_from(LIBRARIES))
        def delete(self, name: str) -> None:
            answer = self._ok(http.delete(f"/api/libraries/{name}"))
            assert answer.status_code == (200 if name in self.entries else 404)
            self.entries.pop(name, None)
            self.read.pop(name, None)

        @rule(name=st.sampled_from(LIBRARIES))
        def feed_and_export(self, name: str) -> None:
            feed = self._ok(http.get("/api/feed", params={"library": name, "since": "7d"}))
            if name not in self.entries:
                assert feed.status_code == 404
                return
            shown = {item["id"] for item in feed.json()["items"]}
            assert not shown & (self.read[name] | set(self.entries[name]))
            bib = self._ok(http.get("/api/export", params={"library": name}))
            liked = {p for p, v in self.entries[name].items() if v == "like"}
            assert {e["eprint"] for e in bibtexparser.loads(bib.text).entries} == liked

        @invariant()
        def the_server_holds_the_model(self) -> None:
            listed = {s["name"]: (s["likes"], s["unlikes"]) for s in http.get("/api/libraries").json()["libraries"]}
            expected = {
                name: (sum(v == "like" for v in e.values()), sum(v == "unlike" for v in e.values()))
                for name, e in self.entries.items()
            }
            assert listed == expected
            for name, entries in self.entries.items():
                shown = http.get(f"/api/libraries/{name}").json()["entries"]
                assert {e["paper_id"]: e["verdict"] for e in shown} == entries

    Library.TestCase.settings = settings(
        max_examples=12, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    try:
        Library.TestCase().runTest()
    finally:
        http.close()
