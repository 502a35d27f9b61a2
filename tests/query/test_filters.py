"""Filters (categories exact and prefix, date ranges, topics) and batch queries, on a
real index of 300 astro-ph.GA and cs.CL papers; expected sets come from the input
file itself, not from the index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import engine
from engine.errors import QueryError
from engine.ingest.sources import read_papers
from engine.query.filters import Filters
from tests.conftest import CORPUS_SAMPLE

ROOT = Path(__file__).resolve().parents[2]
PAPERS = read_papers(CORPUS_SAMPLE).papers


@pytest.fixture(scope="module")
def index(corpus_index: Path) -> Path:
    return corpus_index


def _matching(predicate) -> set[str]:
    return {p.id for p in PAPERS if predicate(p)}


@pytest.mark.parametrize(
    ("categories", "predicate"),
    [
        (("cs.CL",), lambda p: "cs.CL" in p.categories),
        (("cs.",), lambda p: any(c.startswith("cs.") for c in p.categories)),
        (("astro-ph",), lambda p: any(c == "astro-ph" or c.startswith("astro-ph.") for c in p.categories)),
        (("astro-ph.GA", "cs.CL"), lambda p: {"astro-ph.GA", "cs.CL"} & set(p.categories)),
    ],
)
def test_category_filters_exact_and_prefix(index: Path, categories: tuple, predicate) -> None:
    allowed = _matching(predicate)
    with engine.open(index) as ix:
        hits = ix.search("star formation in galaxies and language models", k=50, filters=Filters(categories=categories))
    assert len(hits) == min(50, len(allowed))  # k still comes back
    assert {h.paper.id for h in hits} <= allowed


def test_a_selective_filter_still_returns_k(index: Path) -> None:
    # The cs.CL papers least like an astronomy query: a post-filter on the top hits
    # would find none of them; the filter inside FAISS returns all k.
    with engine.open(index) as ix:
        hits = ix.search("dark matter halo of the Milky Way", k=20, filters=Filters(categories=("cs.CL",)))
        assert len(hits) == 20 and all("cs.CL" in h.paper.categories for h in hits)
        assert all("cs.CL" not in h.paper.categories for h in ix.search("dark matter halo of the Milky Way", k=20))


def test_date_ranges_are_inclusive_and_accept_months_and_years(index: Path) -> None:
    dates = sorted(p.date for p in PAPERS if p.date)
    month = dates[len(dates) // 2][:7]
    allowed = _matching(lambda p: p.date and p.date[:7] == month)
    with engine.open(index) as ix:
        hits = ix.search("galaxies", k=300, filters=Filters(since=month, until=month))
        assert {h.paper.id for h in hits} == allowed
        first_day = ix.search("galaxies", k=300, filters=Filters(since=dates[0], until=dates[0]))
        assert {h.paper.id for h in first_day} == _matching(lambda p: p.date == dates[0])
        year = ix.search("galaxies", k=300, filters=Filters(until=dates[0][:4]))
        assert {h.paper.id for h in year} == _matching(lambda p: p.date and p.date[:4] <= dates[0][:4])


def test_filters_combine_and_apply_to_related(index: Path) -> None:
    source = next(p for p in PAPERS if "astro-ph.GA" in p.categories)
    filters = Filters(categories=("cs.CL",), since="2025-01-01")
    allowed = _matching(lambda p: "cs.CL" in p.categories and p.date and p.date >= "2025-01-01")
    with engine.open(index) as ix:
        hits = ix.related(source.id, k=10, filters=filters)
        assert len(hits) == min(10, len(allowed)) and {h.paper.id for h in hits} <= allowed
        topic = ix.topics()[0]
        within = ix.search("galaxies", k=300, filters=Filters(topic=topic.id, categories=("astro-ph.GA",)))
        members = set(ix.topic_members(topic.id))
        assert {h.paper.id for h in within} == members & _matching(lambda p: "astro-ph.GA" in p.categories)


@pytest.mark.parametrize(
    "bad",
    [
        {"categories": ("cs CL",)},
        {"categories": ("",)},
        {"since": "yesterday"},
        {"since": "2025-13"},
        {"since": "2025-02-30"},  # the calendar, not a range check, decides
        {"until": "2023-02-29"},
        {"since": "0000"},
        {"since": "2025-06", "until": "2025-01"},
        {"level": "medium"},
    ],
)
def test_bad_filters_are_clear_errors(bad: dict) -> None:
    with pytest.raises(QueryError):
        Filters(**bad)


def test_batch_queries_python_and_cli(index: Path, tmp_path: Path) -> None:
    queries = ["galaxy mergers", "", "x" * 5000, "machine translation"]
    with engine.open(index) as ix:
        answers = list(ix.search_many(queries, k=3, filters=Filters(categories=("cs.CL",))))
    assert [a.line for a in answers] == [1, 2, 3, 4]
    assert [bool(a.error) for a in answers] == [False, True, True, False]
    assert all(len(a.hits) == 3 and all("cs.CL" in h.paper.categories for h in a.hits) for a in answers if not a.error)

    path = tmp_path / "queries.txt"
    path.write_text("galaxy mergers\n\n" + "x" * 5000 + "\nmachine translation\n")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine.cli",
            "search",
            "--queries",
            str(path),
            "--index",
            str(index),
            "-k",
            "2",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [line["line"] for line in lines] == [1, 3, 4]  # blank lines are not queries
    assert "error" in lines[1] and "5,000 characters" in lines[1]["error"]
    assert all(len(line["hits"]) == 2 and line["elapsed_ms"] >= 0 for line in (lines[0], lines[2]))
