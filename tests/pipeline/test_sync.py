"""``paperscope sync --arxiv-api``: real syncs against a real HTTP server on loopback that
replays recorded arXiv API responses (tests/fixtures/atom/) and injects the API's faults,
into real indexes (the real model, FAISS, SQLite)."""

from __future__ import annotations

import fcntl
import json
import re
import signal
import socket
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import engine
from engine.artifact import version_writer
from engine.artifact.verify import verify_index
from engine.errors import ArxivRefused, ArxivUnavailable, IndexBusy, IndexNotFound
from engine.ingest.arxiv_client import ArxivClient
from engine.pipeline.build import Options, build
from engine.pipeline.sync import STATE, SyncOptions, staging_folder, sync
from tests.arxiv_replay import Replay, assert_polite, expected_papers, killed_when, recorded_entries, serve
from tests.conftest import FIXTURES

ATOM = FIXTURES / "atom"
QUERY = "cat:cs.CL"
OLDER = recorded_entries(*(ATOM / f"cat-cs.CL-start-{s}.atom" for s in (0, 8, 16)))  # 24, newest first
NEWER = recorded_entries(ATOM / "cat-cs.CL-newer.atom")  # 6 announced after them
DELAY = 0.2


@pytest.fixture
def replay():
    with serve(Replay(list(OLDER), error_feed=(ATOM / "error.atom").read_text())) as running:
        yield running


def options(replay: Replay, embedder, **overrides) -> SyncOptions:
    settings = {"api_url": replay.url, "page_size": 8, "delay": DELAY, "backoff": 0.05, "timeout": 5.0}
    settings.update(overrides)
    return SyncOptions(**settings, build=Options(embedder=embedder, progress=False, topics=False))


def indexed(index: Path) -> dict:
    """The papers of the index's live version, in row order, by id."""
    with engine.open(index) as ix:
        return {pid: ix.paper(pid) for pid in ix.ids()}


def test_first_sync_builds_then_later_syncs_fetch_only_new_pages(replay: Replay, sync_embedder, tmp_path) -> None:
    index = tmp_path / "ix"
    first = sync(QUERY, index, options(replay, sync_embedder))
    assert replay.starts() == [0, 8, 16] and first.stopped == "end of results"
    request = replay.log[0]
    assert request.params == {
        "search_query": QUERY,
        "start": "0",
        "max_results": "8",
        "sortBy": "submittedDate",
        "sortOrder": "descending",
    }
    assert request.agent.startswith("paperscope/")
    assert (first.pages_fetched, first.entries_seen, first.new_papers, first.retries) == (3, 24, 24, 0)
    served = expected_papers(OLDER)
    papers = indexed(index)
    assert list(papers) == [p["id"] for p in served]
    for want in served:
        got = papers[want["id"]]
        assert (got.title, list(got.authors), got.date, got.version) == (
            want["title"],
            want["authors"],
            want["date"],
            want["version"],
        )
        assert got.categories[0] == want["primary"]
    assert first.high_water == served[0]["published"]
    folder = staging_folder(index, QUERY, replay.url)
    assert (
        not list(folder.glob("page-*")) and json.loads((folder / STATE).read_text())["high_water"] == first.high_water
    )
    assert_polite(replay, DELAY)

    replay.entries = NEWER + OLDER  # the next announcement
    seen = len(replay.log)
    second = sync(QUERY, index, options(replay, sync_embedder, page_size=4))
    assert replay.starts(seen) == [0, 4]  # 4 new; 2 new + 2 known: stop
    assert second.stopped == "reached the previous sync"
    assert (second.new_entries, second.new_papers, second.build["embedded"]) == (6, 6, 6)
    after = indexed(index)
    assert len(after) == 30 and {p["id"] for p in expected_papers(NEWER)} <= after.keys()
    assert second.high_water == expected_papers(NEWER)[0]["published"]

    seen = len(replay.log)
    third = sync(QUERY, index, options(replay, sync_embedder))
    assert replay.starts(seen) == [0] and third.build is None and third.new_papers == 0
    assert_polite(replay, DELAY)
    assert [r.problems for r in verify_index(index, True)] == [[], []]  # .sync sits beside the versions


def test_transient_faults_are_retried_with_growing_backoff(replay: Replay, sync_embedder, tmp_path) -> None:
    replay.faults.extend([("status", 503), ("drop",), ("empty",), ("slow", 1.5)])
    index = tmp_path / "ix"
    report = sync(QUERY, index, options(replay, sync_embedder, backoff=0.2, timeout=0.5))
    assert [r.answer for r in replay.log[:5]] == ["503", "drop", "200", "200", "200"]  # empty, too slow, good
    assert replay.starts() == [0, 0, 0, 0, 0, 8, 16]
    assert report.retries == 4 and report.requests == 7 and report.new_papers == 24
    assert len(indexed(index)) == 24
    # Retry n waits at least half of backoff * 2**(n-1) after the failure (plus the
    # 0.5 s timeout for the slow answer), and never less than the rate limit.
    gaps = [b.at - a.at for a, b in zip(replay.log, replay.log[1:5], strict=False)]
    floors = [max(DELAY, 0.1), max(DELAY, 0.2), max(DELAY, 0.4), 0.5 + 0.8]
    assert all(gap >= floor - 0.02 for gap, floor in zip(gaps, floors, strict=True)), gaps
    assert report.backoff_wait >= 0.1 + 0.2 + 0.4 + 0.8
    assert_polite(replay, DELAY)


def test_retry_after_is_honoured_and_a_long_one_gives_up(replay: Replay) -> None:
    client = ArxivClient(replay.url, delay=DELAY, retries=3, backoff=0.01)
    replay.faults.append(("status", 429, "1"))
    page = client.fetch_page(QUERY, 0, 8)
    assert len(page.feed.papers) == 8 and [r.answer for r in replay.log] == ["429", "200"]
    assert replay.log[1].at - replay.log[0].at >= 1.0 - 0.02 and client.backoff_wait >= 1.0
    replay.faults.append(("status", 503, "3600"))
    with pytest.raises(ArxivUnavailable, match=r"HTTP 503, and the server asks to wait 3600 s"):
        client.fetch_page(QUERY, 0, 8)
    assert len(replay.log) == 3  # no pointless retries against an hour's wait
    replay.faults.append(("error-feed",))
    with pytest.raises(ArxivRefused, match=r"HTTP 400: incorrect id format for 1234\.12345"):
        client.fetch_page(QUERY, 0, 8)
    assert len(replay.log) == 4  # a 4xx other than 429 is not retried
    assert_polite(replay, DELAY)


def test_interrupted_sync_resumes_without_refetching(replay: Replay, sync_embedder, tmp_path) -> None:
    index = tmp_path / "ix"
    folder = staging_folder(index, QUERY, replay.url)
    replay.failing_starts[8] = ("status", 503)
    with pytest.raises(ArxivUnavailable) as failure:
        sync(QUERY, index, options(replay, sync_embedder, retries=2))
    message = str(failure.value)
    assert f"{replay.url}?search_query=cat%3ACS.CL".lower() in message.lower() and "start=8" in message
    assert "gave up after 3 attempts; last: HTTP 503" in message
    assert replay.starts() == [0, 8, 8, 8]
    assert [p.name for p in folder.glob("page-*")] == ["page-000000.atom"]
    assert json.loads((folder / STATE).read_text())["next_start"] == 8
    with pytest.raises(IndexNotFound):
        engine.open(index)
    # A writer of the index clears its own leftovers (.tmp-*, unpublished vNNNNNN): never .sync.
    with version_writer.writer_lock(index):
        version_writer.VersionWriter(index).abandon()
    assert (folder / "page-000000.atom").exists()

    replay.failing_starts.clear()
    seen = len(replay.log)
    with version_writer.writer_lock(index), pytest.raises(IndexBusy, match=r"stay in .*without refetching"):
        sync(QUERY, index, options(replay, sync_embedder))  # fetching ends; the merge cannot start
    assert replay.starts(seen) == [8, 16]  # resumed at the next page
    assert len(list(folder.glob("page-*"))) == 3 and json.loads((folder / STATE).read_text())["fetched"]

    seen = len(replay.log)
    done = sync(QUERY, index, options(replay, sync_embedder))
    assert replay.starts(seen) == [] and done.pages_resumed == 3 and done.pages_fetched == 0
    assert list(indexed(index)) == [p["id"] for p in expected_papers(OLDER)]
    assert not list(folder.glob("page-*"))
    assert_polite(replay, DELAY)


def test_killed_sync_resumes_at_the_next_page(replay: Replay, sync_embedder, tmp_path) -> None:
    """A sync process killed (SIGKILL) while waiting for page 2 leaves page 1 staged and
    its lock free; the next run asks for page 2 first."""
    index = tmp_path / "ix"
    replay.failing_starts[8] = ("hang",)
    code = (
        "from engine.pipeline.sync import SyncOptions, sync\n"
        f"sync({QUERY!r}, {str(index)!r}, SyncOptions(api_url={replay.url!r}, page_size=8, delay={DELAY}))"
    )
    returncode = killed_when(code, lambda: replay.starts() == [0, 8])
    assert replay.starts() == [0, 8] and returncode == -signal.SIGKILL
    folder = staging_folder(index, QUERY, replay.url)
    state = json.loads((folder / STATE).read_text())
    assert (state["next_start"], state["pages"], state["fetched"]) == (8, [replay.base + replay.log[0].path], False)
    assert (folder / "page-000000.atom").read_bytes() == replay.log[0].body
    replay.failing_starts.clear()
    replay.release.set()

    resumed = sync(QUERY, index, options(replay, sync_embedder))
    assert replay.starts()[2:] == [8, 16] and (resumed.pages_resumed, resumed.pages_fetched) == (1, 2)
    assert list(indexed(index)) == [p["id"] for p in expected_papers(OLDER)]
    assert_polite(replay, DELAY)


def test_malformed_entry_is_skipped_and_named(replay: Replay, sync_embedder, tmp_path) -> None:
    replay.entries = recorded_entries(ATOM / "malformed.atom")
    index = tmp_path / "ix"
    report = sync(QUERY, index, options(replay, sync_embedder))
    recorded = expected_papers(replay.entries)
    assert list(indexed(index)) == [recorded[i]["id"] for i in (0, 2, 4, 5)]  # its neighbours
    url = ArxivClient(replay.url).page_url(QUERY, 0, 8)
    body = replay.log[0].body.decode().splitlines()
    lines = {
        needle: next(i for i in range(hit, -1, -1) if body[i].strip() == "<entry>") + 1
        for needle in (recorded[1]["id"], "2026-13-45")
        for hit in [next(i for i, line in enumerate(body) if needle in line)]
    }
    assert [(p.source, p.line) for p in report.problems] == [
        (url, lines[recorded[1]["id"]]),
        (url, lines["2026-13-45"]),
    ]
    assert "field 'title' is missing" in report.problems[0].message
    assert "field 'published'" in report.problems[1].message


def cli() -> typer.Typer:
    """The real ``paperscope`` app (its sync command among the others)."""
    from engine.cli.main import app

    return app


def test_cli_adds_to_an_index_and_reports_json(replay: Replay, sync_embedder, tmp_path) -> None:
    index = tmp_path / "ix"
    build([ATOM / "cat-cs.CL-start-0.atom"], index, Options(embedder=sync_embedder, progress=False, topics=False))
    args = ["sync", "--arxiv-api", QUERY, "-i", str(index), "--api-url", replay.url, "--page-size", "10"]
    done = CliRunner().invoke(cli(), [*args, "--delay", str(DELAY), "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert (report["pages_fetched"], report["entries_seen"], report["new_papers"]) == (3, 24, 16)
    assert report["build"]["papers"] == 24 and report["stopped"] == "end of results"
    again = CliRunner().invoke(cli(), [*args, "--delay", str(DELAY)])
    assert again.exit_code == 0 and "0 new papers; stopped: reached the previous sync" in again.stdout


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_cli_errors_are_one_line_and_exit_2(replay: Replay, tmp_path) -> None:
    index = tmp_path / "ix"
    base = ["sync", "--arxiv-api", QUERY, "-i", str(index), "--delay", "0", "--retries", "1"]

    def run(*extra: str):
        done = CliRunner().invoke(cli(), [*base, *extra])
        lines = done.stderr.strip().splitlines()
        assert done.exit_code == 2 and len(lines) == 1 and lines[0].startswith("paperscope: error: "), done.output
        return lines[0]

    replay.faults.append(("error-feed",))
    assert "HTTP 400: incorrect id format for 1234.12345" in run("--api-url", replay.url)
    down = f"http://127.0.0.1:{_closed_port()}/api/query"
    assert "gave up after 2 attempts; last: URLError" in run("--api-url", down)
    folder = staging_folder(index, QUERY, replay.url)
    with open(folder / "lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running sync holds it
        assert "already running" in run("--api-url", replay.url)
    assert "empty" in run("--api-url", replay.url, "--arxiv-api", "  ")
    assert CliRunner().invoke(cli(), [*base, "--page-size", "5000"]).exit_code == 2


def _updated(entry: str) -> str:
    return re.search(r"<updated>([^<]+)</updated>", entry).group(1)


def test_order_updated_brings_new_versions_of_known_papers(replay: Replay, sync_embedder, tmp_path) -> None:
    """``--order updated`` pages by last update: a new version of a paper indexed long
    ago comes back on the next sync and replaces it (same row, new text)."""
    by_update = sorted(OLDER, key=_updated, reverse=True)  # the API's lastUpdatedDate order
    replay.entries = list(by_update)
    index = tmp_path / "ix"
    first = sync(QUERY, index, options(replay, sync_embedder, order="updated"))
    assert replay.log[0].params["sortBy"] == "lastUpdatedDate" and first.new_papers == 24
    assert first.high_water == max(_updated(e) for e in OLDER)  # the newest update, not the newest submission
    old = expected_papers([by_update[-1]])[0]  # the paper least recently updated
    revised = re.sub(r"v\d+</id>", "v3</id>", by_update[-1], count=1)
    revised = re.sub(r"<updated>[^<]+</updated>", "<updated>2026-08-01T12:00:00Z</updated>", revised, count=1)
    revised = re.sub(
        r"<summary>.*?</summary>", "<summary>A revised abstract about grammar.</summary>", revised, flags=re.S
    )
    replay.entries = [revised, *by_update[:-1]]  # the revision is now the most recent update
    with engine.open(index) as ix:
        row = ix.ids().index(old["id"])
    seen = len(replay.log)
    second = sync(QUERY, index, options(replay, sync_embedder, order="updated"))
    assert replay.starts(seen) == [0] and second.stopped == "reached the previous sync"
    assert (second.new_entries, second.new_papers, second.build["embedded"]) == (1, 0, 1)
    with engine.open(index) as ix:
        paper = ix.paper(old["id"])
        assert (paper.version, paper.abstract) == (3, "A revised abstract about grammar.")
        assert ix.ids().index(old["id"]) == row and len(ix) == 24
    # the default order keeps its own staging and high-water mark
    assert staging_folder(index, QUERY, replay.url) != staging_folder(index, QUERY, replay.url, "updated")
