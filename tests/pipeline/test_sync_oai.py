"""``paperscope sync --oai-pmh SET``: real harvests against a real HTTP server on loopback
that answers like arXiv's OAI-PMH interface from recorded records (tests/fixtures/oai/)
and injects faults, into real indexes (the real model, FAISS, SQLite)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

import engine
from engine.artifact.verify import verify_index
from engine.errors import IndexNotFound, OaiPmhError, SyncError
from engine.pipeline.build import Options
from engine.pipeline.oai_sync import HarvestOptions, harvest, staging_folder
from engine.pipeline.staging import STATE
from engine.pipeline.sync import staging_folder as api_staging_folder
from tests.arxiv_replay import assert_polite, killed_when, serve
from tests.conftest import FIXTURES
from tests.oai_replay import OaiReplay, datestamp, expected_records, in_set, recorded_records

RECORDS = recorded_records(FIXTURES / "oai" / "records.xml")  # 36, by datestamp
DELAY = 0.2
SET = "cs"
CS = [r for r in RECORDS if in_set(r, SET)]  # 30: 28 cs.CL, 1 cross-listed, 1 deleted


@pytest.fixture
def replay():
    with serve(OaiReplay(list(RECORDS), page_size=8, today="2025-03-28")) as running:
        yield running


def options(replay: OaiReplay, embedder, **overrides) -> HarvestOptions:
    settings = {"oai_url": replay.url, "delay": DELAY, "backoff": 0.05, "timeout": 5.0}
    settings.update(overrides)
    return HarvestOptions(**settings, build=Options(embedder=embedder, progress=False, topics=False))


def papers_of(records: list[str]) -> list[dict]:
    """The records that are papers (not deleted, not malformed), by the oracle."""
    return [r for r in expected_records(records) if not r["deleted"] and r["title"]]


def indexed(index: Path) -> dict:
    with engine.open(index) as ix:
        return {pid: ix.paper(pid) for pid in ix.ids()}


def record_line(body: bytes, needle: str) -> int:
    lines = body.decode().splitlines()
    hit = next(i for i, line in enumerate(lines) if needle in line)
    return next(i for i in range(hit, -1, -1) if lines[i] == "<record>") + 1


def test_full_harvest_over_pages_builds_the_index(replay: OaiReplay, sync_embedder, tmp_path) -> None:
    index = tmp_path / "ix"
    report = harvest(SET, index, options(replay, sync_embedder))
    assert replay.log[0].params == {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": SET}
    assert replay.log[0].agent.startswith("paperscope/")
    tokens = replay.tokens_asked()
    assert tokens[0] is None and all(tokens[1:]) and len(tokens) == 4  # 30 records, 8 a page
    assert all(set(r.params) == {"verb", "resumptionToken"} for r in replay.log[1:])
    want = papers_of(CS)
    assert len(want) == 28 and (report.pages_fetched, report.records, report.deleted) == (4, 30, 1)
    assert report.new_papers == len(want) and report.build["papers"] == len(want)
    assert report.complete_list_size == 30 and report.retries == 0 and report.high_water == "2025-03-28"
    papers = indexed(index)
    assert sorted(papers) == sorted(w["id"] for w in want)
    for w in want:
        got = papers[w["id"]]
        assert (got.title, list(got.authors), list(got.categories)) == (w["title"], w["authors"], w["categories"])
        assert (got.date, got.updated) == (w["created"], w["updated"] or w["created"])
    assert "2503.15321" in papers  # astro-ph.GA, cross-listed in cs.CV: in set cs too
    [untitled] = [w for w in expected_records(CS) if not w["deleted"] and not w["title"]]
    [problem] = report.problems
    page = next(r for r in replay.log if untitled["identifier"].encode() in r.body)
    assert problem.source == replay.base + page.path and "field 'title' is missing" in problem.message
    assert problem.line == record_line(page.body, untitled["identifier"] + "<")
    folder = staging_folder(index, SET, replay.url)
    state = json.loads((folder / STATE).read_text())
    assert not list(folder.glob("page-*")) and state["high_water"] == "2025-03-28" and state["pages"] == []
    assert [r.problems for r in verify_index(index, True)] == [[]]
    assert_polite(replay, DELAY)


def test_daily_harvests_start_at_the_high_water_mark(replay: OaiReplay, sync_embedder, tmp_path) -> None:
    """A harvest up to a day, then the daily one without --from: it asks from that day
    (records are stamped in days: the overlap comes again, unchanged) and adds only the
    papers stamped later; through the real CLI, with --json."""
    index = tmp_path / "ix"
    first = harvest(SET, index, options(replay, sync_embedder, until="2025-03-21"))
    assert replay.log[0].params["until"] == "2025-03-21" and "from" not in replay.log[0].params
    early = [r for r in CS if datestamp(r) <= "2025-03-21"]
    assert (first.records, first.new_papers, first.high_water) == (len(early), len(papers_of(early)), "2025-03-21")
    seen = len(replay.log)
    args = ["sync", "--oai-pmh", SET, "-i", str(index), "--oai-url", replay.url, "--delay", str(DELAY), "--json"]
    done = CliRunner().invoke(cli(), args)
    assert done.exit_code == 0, done.output
    second = json.loads(done.stdout)
    assert replay.log[seen].params == {
        "verb": "ListRecords",
        "metadataPrefix": "arXiv",
        "set": SET,
        "from": "2025-03-21",
    }
    again = [r for r in CS if datestamp(r) >= "2025-03-21"]
    later = [r for r in CS if datestamp(r) > "2025-03-21"]
    assert (second["records"], second["new_papers"]) == (len(again), len(papers_of(later)))
    assert (second["from_date"], second["until"], second["high_water"]) == ("2025-03-21", None, "2025-03-28")
    assert second["build"]["papers"] == len(papers_of(CS)) and len(second["problems"]) == 1
    assert sorted(indexed(index)) == sorted(w["id"] for w in papers_of(CS))
    seen = len(replay.log)
    third = harvest(SET, index, options(replay, sync_embedder))
    assert replay.log[seen].params["from"] == "2025-03-28" and third.new_papers == 0
    assert third.build["version"] == second["build"]["version"]  # nothing new: no new version
    assert_polite(replay, DELAY)


def test_killed_harvest_resumes_at_the_staged_token(replay: OaiReplay, sync_embedder, tmp_path) -> None:
    """A harvest killed (SIGKILL) while waiting for page 3 leaves pages 1 and 2 staged with
    the token of page 3; the next run asks for that token first, refetching nothing."""
    index = tmp_path / "ix"
    replay.failing_pages[2] = ("hang",)
    code = (
        "from engine.pipeline.oai_sync import HarvestOptions, harvest\n"
        f"harvest({SET!r}, {str(index)!r}, HarvestOptions(oai_url={replay.url!r}, delay={DELAY}))"
    )
    returncode = killed_when(code, lambda: len(replay.log) >= 3)
    assert len(replay.log) == 3 and returncode == -signal.SIGKILL
    folder = staging_folder(index, SET, replay.url)
    state = json.loads((folder / STATE).read_text())
    third = replay.tokens_asked()[2]
    assert (state["token"], len(state["pages"]), state["fetched"], state["records"]) == (third, 2, False, 16)
    assert (folder / "page-000001.xml").read_bytes() == replay.log[1].body
    replay.failing_pages.clear()
    replay.release.set()

    resumed = harvest(SET, index, options(replay, sync_embedder))
    assert replay.tokens_asked(3)[0] == third and len(replay.log) == 5
    assert (resumed.pages_resumed, resumed.pages_fetched, resumed.records) == (2, 2, 30)
    assert sorted(indexed(index)) == sorted(w["id"] for w in papers_of(CS))
    assert_polite(replay, DELAY)  # the rerun kept the spacing after the killed process's request


def test_503_retry_after_and_a_dropped_connection_are_retried(replay: OaiReplay, sync_embedder, tmp_path) -> None:
    replay.faults.extend([("status", 503, "1"), ("drop",)])
    replay.records = [r for r in CS if datestamp(r) <= "2025-03-20"]
    index = tmp_path / "ix"
    report = harvest(SET, index, options(replay, sync_embedder))
    assert [r.answer for r in replay.log] == ["503", "drop", "200"]
    assert replay.log[1].at - replay.log[0].at >= 1.0 - 0.02 and report.backoff_wait >= 1.0
    assert (report.retries, report.requests, report.new_papers) == (2, 3, len(papers_of(replay.records)))
    assert_polite(replay, DELAY)


def test_expired_token_is_a_clear_error_and_the_staging_stays(replay: OaiReplay, sync_embedder, tmp_path) -> None:
    index = tmp_path / "ix"
    folder = staging_folder(index, SET, replay.url)
    replay.failing_pages[1] = ("status", 500)
    with pytest.raises(Exception, match="gave up after 1 attempts; last: HTTP 500"):
        harvest(SET, index, options(replay, sync_embedder, retries=0))
    token = replay.tokens_asked()[1]
    with pytest.raises(SyncError, match="half done"):
        harvest(SET, index, options(replay, sync_embedder, from_date="2025-03-01"))  # another window: refused
    replay.failing_pages.clear()
    replay.expire_tokens()  # as a server does after a while
    with pytest.raises(OaiPmhError) as failure:
        harvest(SET, index, options(replay, sync_embedder))
    message = str(failure.value)
    assert failure.value.code == "badResumptionToken" and f"Invalid or expired resumptionToken {token}" in message
    assert "error badResumptionToken" in message and f"1 harvested page(s) stay in {folder}" in message
    assert "the next run harvests 'cs' from the start until now again from its first page" in message
    state = json.loads((folder / STATE).read_text())
    assert (state["token"], state["expired"]) == (token, True) and (folder / "page-000000.xml").exists()
    with pytest.raises(IndexNotFound):
        engine.open(index)
    seen = len(replay.log)
    done = harvest(SET, index, options(replay, sync_embedder))  # the same command again
    assert replay.tokens_asked(seen)[0] is None and (done.pages_resumed, done.pages_fetched, done.records) == (0, 4, 30)
    assert sorted(indexed(index)) == sorted(w["id"] for w in papers_of(CS))
    assert_polite(replay, DELAY)


def test_empty_harvest_and_refused_requests(replay: OaiReplay, tmp_path) -> None:
    index = tmp_path / "ix"
    empty = harvest("math", index, options(replay, None))
    assert (empty.records, empty.pages_fetched, empty.build, empty.high_water) == (0, 1, None, "2025-03-28")
    with pytest.raises(IndexNotFound):
        engine.open(index)  # nothing to build
    replay.faults.append(("oai-error", "noSetHierarchy", "This repository does not support sets"))
    with pytest.raises(OaiPmhError, match="answered error noSetHierarchy: This repository does not support sets"):
        harvest(SET, index, options(replay, None))
    assert not list(staging_folder(index, SET, replay.url).glob("page-*"))
    for bad, words in (
        (dict(until="2025-3-1"), "--until must be a date YYYY-MM-DD"),
        (dict(from_date="2025-03-10", until="2025-03-01"), "is after --until"),
        (dict(oai_url=replay.url + "?verb=Identify"), r"--oai-url must be an http\(s\) URL"),
    ):
        with pytest.raises(SyncError, match=words):
            harvest(SET, index, options(replay, None, **bad))
    with pytest.raises(SyncError, match="not an OAI-PMH set"):
        harvest("cs cl", index, options(replay, None))
    keys = {
        staging_folder(index, "cs", replay.url),
        staging_folder(index, "math", replay.url),
        staging_folder(index, "cs", "https://oaipmh.arxiv.org/oai"),
        api_staging_folder(index, "cs", replay.url),
    }
    assert len(keys) == 4


def cli():
    from engine.cli.main import app

    return app


def test_cli_wants_exactly_one_source_and_its_own_options(tmp_path) -> None:
    def error(*args: str) -> str:
        done = CliRunner().invoke(cli(), ["sync", "-i", str(tmp_path / "ix"), *args])
        lines = done.stderr.strip().splitlines()
        assert done.exit_code == 2 and len(lines) == 1 and lines[0].startswith("paperscope: error: "), done.output
        return lines[0]

    assert "exactly one of --arxiv-api QUERY or --oai-pmh SET" in error()
    assert "exactly one" in error("--arxiv-api", "cat:cs.CL", "--oai-pmh", "cs")
    assert "--from, --until only applies with --oai-pmh" in error(
        "--arxiv-api", "cat:cs.CL", "--from", "2025-01-01", "--until", "2025-02-01"
    )
    assert "--page-size only applies with --arxiv-api" in error("--oai-pmh", "cs", "--page-size", "5")
    assert "--from must be a date" in error("--oai-pmh", "cs", "--from", "yesterday")
