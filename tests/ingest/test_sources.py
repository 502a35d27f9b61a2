"""Every input format, on real files, and bad input that must be reported, not fatal."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.ingest.sources import read_digest, read_jsonl, read_papers
from engine.papers import Paper, Problem
from tests.conftest import CORPUS_SAMPLE, GA_DIGEST_1, GA_DIGEST_2, SNAPSHOT_SAMPLE


def test_digest_canonical_example(demo_digest: Path) -> None:
    result = read_papers(demo_digest)
    assert result.problems == []
    assert len(result.papers) == 63
    first = result.papers[0]
    assert first.id == "2011.09473"
    assert first.title == "Adversarial collision attacks on image hashing functions"
    assert first.abstract.startswith("Hashing images with a perceptual algorithm")
    assert (first.categories, first.date) == (("cs.CV",), "2020-11-19")
    by_id = {p.id: p for p in result.papers}
    assert by_id["2011.09123"].title.startswith("Adversarial Profiles: Detecting Out-Distribution & Adversarial")
    assert {"2011.09300", "2011.09011"} <= by_id.keys()
    assert all("<br>" not in p.abstract and "&amp;" not in p.abstract for p in result.papers)
    assert "24.73°" in by_id["2011.09427"].abstract  # mojibake in the listing, repaired


def test_corpus_jsonl_gz() -> None:
    result = read_papers(CORPUS_SAMPLE)
    assert result.problems == [] and len(result.papers) == 300
    primaries = {p.primary_category for p in result.papers}
    assert primaries == {"astro-ph.GA", "cs.CL"}
    with gzip.open(CORPUS_SAMPLE, "rt") as handle:
        raw = json.loads(handle.readline())
    paper = result.papers[0]
    assert (paper.id, paper.title, paper.date) == (raw["id"], raw["title"], raw["date"])
    assert list(paper.authors) == raw["authors"]
    assert paper.categories[0] == raw["primary_category"]


def test_arxiv_metadata_snapshot() -> None:
    result = read_papers(SNAPSHOT_SAMPLE)
    assert result.problems == [] and len(result.papers) == 6
    lines = [json.loads(line) for line in SNAPSHOT_SAMPLE.read_text().splitlines()]
    paper, raw = result.papers[0], lines[0]
    assert paper.categories == tuple(raw["categories"].split())
    assert paper.version == 2 and paper.updated > paper.date  # two versions, a month apart
    assert paper.authors[0] == raw["submitter"]
    assert len(paper.authors) == len(raw["authors_parsed"])
    assert paper.abstract == paper.abstract.strip()


def test_folder_is_read_recursively_and_mixed_formats_merge(tmp_path: Path, demo_digest: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(demo_digest, tmp_path / "a" / "day.md")
    shutil.copy(SNAPSHOT_SAMPLE, tmp_path / "a" / "b" / "dump.json")
    shutil.copy(CORPUS_SAMPLE, tmp_path / "corpus.jsonl.gz")
    (tmp_path / "notes.txt").write_text("not papers\n")
    (tmp_path / ".hidden.md").write_text("# ArXiv cs.CV --Thu, 19 Nov 2020\n")
    result = read_papers(tmp_path)
    assert result.files == 3
    assert len(result.papers) == 63 + 6 + 300


def test_same_paper_twice_newest_wins(tmp_path: Path) -> None:
    base = {"title": "T", "abstract": "A", "categories": ["cs.CL"], "primary_category": "cs.CL"}
    lines = [
        dict(base, id="2101.00001v1", date="2021-01-01", title="Old"),
        dict(base, id="2101.00001v3", date="2021-01-01", updated="2021-03-01", title="Newest"),
        dict(base, id="2101.00001v2", date="2021-01-01", updated="2021-02-01", title="Middle"),
    ]
    path = tmp_path / "dups.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    result = read_papers(path)
    assert [(p.id, p.title, p.version) for p in result.papers] == [("2101.00001", "Newest", 3)]
    assert result.duplicates == 2


def test_bad_json_lines_are_reported_with_line_numbers_and_valid_ones_kept(tmp_path: Path) -> None:
    good = {"id": "2101.00002", "title": "Good", "abstract": "Fine.", "categories": ["cs.CL"]}
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                json.dumps(good).encode(),
                b'{"id": "x", "title": "broken',
                json.dumps({"id": "2101.00003", "title": 7, "abstract": "a"}).encode(),
                b"[1, 2]",
                json.dumps({"id": "2101.00004", "title": "No abstract"}).encode(),
                b'{"id": "2101.00005", "title": "Bad \xff byte", "abstract": "x"}',
                json.dumps(dict(good, id="2101.00006", categories=5)).encode(),
                json.dumps(dict(good, id="2101.00007")).encode(),
            ]
        )
        + b"\n"
    )
    result = read_papers(path)
    assert [p.id for p in result.papers] == ["2101.00002", "2101.00007"]
    messages = {problem.line: problem.message for problem in result.problems}
    assert set(messages) == {2, 3, 4, 5, 6, 7}
    assert "invalid JSON" in messages[2]
    assert "'title' must be a string, got int" in messages[3]
    assert "expected a JSON object" in messages[4]
    assert "'abstract' is missing" in messages[5]
    assert "invalid UTF-8" in messages[6]
    assert "'categories' must be a list of strings" in messages[7]
    assert all(str(p).startswith(f"{path}:{p.line}: ") for p in result.problems)
    assert "2 papers" in result.summary() and "6 records skipped" in result.summary()


def test_truncated_gzip_keeps_what_came_before(tmp_path: Path) -> None:
    data = CORPUS_SAMPLE.read_bytes()
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    result = read_papers(path)
    assert 50 < len(result.papers) < 300
    assert any("ends early or is corrupt" in p.message for p in result.problems)


def test_malformed_digest_entries_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_text(
        "# ArXiv cs.CV --Thu, 19 Nov 2020\n"
        "### 1.Good paper  [ :arrow_down: ](https://arxiv.org/pdf/2011.00001.pdf)\n"
        ">  A fine abstract.\n"
        "### 2.No link here\n"
        ">  Orphan abstract.\n"
        "### 3.No abstract  [ :arrow_down: ](https://arxiv.org/pdf/2011.00003.pdf)\n"
        "### 4.Last  [ :arrow_down: ](https://arxiv.org/pdf/2011.00004v2.pdf)\n"
        ">  Another &lt;fine&gt; abstract.\n"
    )
    result = read_papers(path)
    assert [(p.id, p.version) for p in result.papers] == [("2011.00001", None), ("2011.00004", 2)]
    assert result.papers[1].abstract == "Another <fine> abstract."
    assert [(p.line, p.message.split(":")[0]) for p in result.problems] == [
        (4, "malformed entry"),
        (6, "paper 2011.00003 has no abstract ('>' lines)"),
    ]


def test_digest_without_header_is_flagged_but_read(tmp_path: Path) -> None:
    path = tmp_path / "noheader.md"
    path.write_text("### 1.T  [ :arrow_down: ](https://arxiv.org/pdf/2011.00001.pdf)\n>  A.\n")
    result = read_papers(path)
    assert len(result.papers) == 1 and result.papers[0].categories == ()
    assert "missing digest header" in result.problems[0].message


def test_missing_path_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_papers(tmp_path / "nope.md")
    odd = tmp_path / "odd.txt"
    odd.write_text("hello\n")
    result = read_papers(odd)
    assert result.papers == [] and "unrecognized format" in result.problems[0].message


def test_other_digests_read_cleanly() -> None:
    for path in (GA_DIGEST_1, GA_DIGEST_2):
        result = read_papers(path)
        assert result.problems == [] and len(result.papers) >= 14
        assert all(p.categories == ("astro-ph.GA",) for p in result.papers)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000))
def test_parsers_never_crash_on_arbitrary_bytes(tmp_path: Path, blob: bytes) -> None:
    for prefix in (b"", b"# ArXiv cs.CV --Thu, 19 Nov 2020\n### 1.", b'{"id": '):
        path = tmp_path / "fuzz"
        path.write_bytes(prefix + blob)
        for reader in (read_digest, read_jsonl):
            for item in reader(path):
                assert isinstance(item, Paper | Problem)
