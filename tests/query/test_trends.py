"""Topics over time: papers per month per topic, and the emerging topics.

The fixture: the 300 astro-ph.GA + cs.CL papers with their dates rewritten so every
monthly count is known: astronomy spread evenly over 2025, language papers mostly in
its last three months. Built with topics (static backend), then every count is checked
against the dates written, and the language topics must be the ones that emerge.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

import engine
from engine.errors import QueryError
from engine.pipeline.build import Options, build
from engine.query import trends
from tests.conftest import CORPUS_SAMPLE

ROOT = Path(__file__).resolve().parents[2]
MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]


def _dated_records() -> list[dict]:
    with gzip.open(CORPUS_SAMPLE, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    astro = [r for r in records if r["primary_category"] == "astro-ph.GA"]
    language = [r for r in records if r["primary_category"] == "cs.CL"]
    for i, r in enumerate(astro):  # evenly over the year
        r["date"] = f"{MONTHS[i % 12]}-15"
    for i, r in enumerate(language):  # a third over January-September, the rest in its last quarter
        r["date"] = f"{MONTHS[i % 9]}-10" if i < len(language) // 3 else f"{MONTHS[9 + i % 3]}-20"
    return astro + language


@pytest.fixture(scope="module")
def dated_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    records = _dated_records()
    folder = tmp_path_factory.mktemp("trends")
    corpus = folder / "dated.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records))
    build([corpus], folder / "ix", Options(backend="static", progress=False))
    return folder / "ix", records


@pytest.mark.parametrize("level", ["fine", "coarse"])
def test_monthly_counts_are_the_dates_written(dated_index: tuple[Path, list[dict]], level: str) -> None:
    index, records = dated_index
    month_of = {r["id"]: r["date"][:7] for r in records}
    with engine.open(index) as ix:
        found = ix.topic_trends(level)
        members = {t.id: ix.topic_members(t.id, level) for t in ix.topics(level)}
        outliers = set(ix.ids()) - {pid for ids in members.values() for pid in ids}
    assert found.months == MONTHS and found.undated == 0
    assert found.totals == [Counter(month_of.values())[m] for m in MONTHS]
    if outliers:
        members[-1] = sorted(outliers)
    assert set(found.topics) == set(members)
    for topic, ids in members.items():
        expected = Counter(month_of[pid] for pid in ids)
        assert found.topics[topic].counts == [expected[m] for m in MONTHS]


def test_the_topics_that_grew_are_the_ones_that_emerge(dated_index: tuple[Path, list[dict]]) -> None:
    index, records = dated_index
    category = {r["id"]: r["primary_category"] for r in records}
    with engine.open(index) as ix:
        found = ix.topic_trends("fine")
        rising = found.emerging()
        members = {t.id: ix.topic_members(t.id, "fine") for t in ix.topics("fine")}
    assert rising, "language papers tripled their share: some language topic must emerge"
    for trend in rising:
        share = sum(category[pid] == "cs.CL" for pid in members[trend.topic]) / len(members[trend.topic])
        assert share > 0.5 and trend.z >= trends.Z_FLOOR and trend.recent >= trends.MIN_RECENT
    assert [t.growth for t in rising] == sorted((t.growth for t in rising), reverse=True)
    astro = [t for t in found.topics.values() if t.topic >= 0 and t.topic not in {r.topic for r in rising}]
    assert astro and all(not t.emerging for t in astro)


def test_since_keeps_later_months_only(dated_index: tuple[Path, list[dict]]) -> None:
    index, records = dated_index
    with engine.open(index) as ix:
        later = ix.topic_trends("fine", since="2025-07")
        with pytest.raises(QueryError, match="calendar date"):
            ix.topic_trends("fine", since="2025-13")
        with pytest.raises(QueryError, match="recent"):
            ix.topic_trends("fine", recent=0)
    assert later.months == MONTHS[6:]
    assert later.totals == [sum(r["date"].startswith(m) for r in records) for m in MONTHS[6:]]


def test_a_handful_of_papers_never_counts_as_emerging() -> None:
    # three papers in the recent window and none before: a big ratio, no evidence
    few = trends.TopicTrend(
        1, [0, 0, 0, 3], recent=3, earlier=0, growth=trends.rise(3, 100, 0, 300), z=trends.rise_z(3, 100, 0, 300)
    )
    assert few.growth > 5 and not few.emerging
    # 60 of 200 recent papers against 30 of 600 before: share x6, z far above the floor
    many = trends.TopicTrend(
        2, [], recent=60, earlier=30, growth=trends.rise(60, 200, 30, 600), z=trends.rise_z(60, 200, 30, 600)
    )
    assert many.emerging and many.z > 8
    # a topic that shrank never emerges
    assert trends.rise_z(10, 200, 90, 600) < 0 and trends.rise(10, 200, 90, 600) < 1


def test_a_half_collected_last_month_is_shown_but_not_compared() -> None:
    assert trends.complete_months([500, 480, 520, 510, 40]) == 4
    assert trends.complete_months([500, 480, 520, 510, 400]) == 5
    assert trends.complete_months([]) == 0
    assert trends.month_range("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]


def test_the_command_line_and_the_api_agree(dated_index: tuple[Path, list[dict]]) -> None:
    from engine.serve.server import server_process

    index, _ = dated_index
    run = subprocess.run(
        [sys.executable, "-m", "engine.cli", "topics", "--trends", "--json", "--index", str(index)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)
    with server_process(index) as base:
        served = httpx.get(f"{base}/api/topics/trends").json()
        assert httpx.get(f"{base}/api/topics/trends", params={"recent": 0}).status_code == 422
    assert printed == served and served["months"] == MONTHS
    assert [t["id"] for t in served["emerging"]] and all(t["emerging"] for t in served["emerging"])
    table = subprocess.run(
        [sys.executable, "-m", "engine.cli", "topics", "--trends", "--index", str(index)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    ).stdout
    assert "emerging over the last 3 complete months:" in table and "▲ emerging" in table
