"""Model-based fuzzing of the readers: hypothesis writes whole files mixing valid
records with every kind of damage, and we check the exact outcome, not just "no
crash": every valid record kept (newest version of a duplicated id), every bad one
reported once with its file and line, nothing else."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.ingest.sources import read_papers
from engine.papers import MAX_ABSTRACT_CHARS

EXAMPLES = 120
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text that stays non-empty after cleanup: letters first, then LaTeX, entities, tags, accents, emoji.
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzαβγéü", min_size=1, max_size=12)
decor = st.sampled_from(["", " $x^2 + \\alpha$", " &amp; more", " <b>bold</b>", " H$_2$O", " \\textit{in vivo}", " 🚀"])
text = st.builds(lambda w, d, tail: f"{w}{d} {tail}", words, decor, st.text(max_size=60))

GOOD, DAMAGED = "good", "damaged"
DAMAGE_KINDS = [
    "broken json",
    "not an object",
    "title not a string",
    "authors not a list",
    "categories not a list",
    "abstract missing",
    "abstract empty",
    "abstract huge",
    "invalid utf-8",
]


@st.composite
def corpus_lines(draw) -> tuple[list[bytes], dict[str, int | None], set[int]]:
    """Lines of a corpus file, the ids (and versions) that must survive, and the
    line numbers that must be reported."""
    lines: list[bytes] = []
    expected: dict[str, tuple[int, int | None]] = {}  # id -> (version, ...)
    bad: set[int] = set()
    for serial in range(draw(st.integers(1, 12))):
        pid = f"2501.{serial:05d}"
        for version in range(1, draw(st.integers(1, 3)) + 1):  # duplicate ids with versions
            record = {
                "id": f"{pid}v{version}",
                "title": draw(text),
                "abstract": draw(text),
                "authors": draw(st.lists(words, max_size=3)),
                "categories": ["cs.LG"],
                "date": f"2025-0{version}-01",
            }
            kind = draw(st.sampled_from([GOOD, GOOD, DAMAGED]))
            if kind == GOOD:
                lines.append(json.dumps(record, ensure_ascii=draw(st.booleans())).encode())
                if expected.get(pid, 0) < version:
                    expected[pid] = version
                continue
            damage = draw(st.sampled_from(DAMAGE_KINDS))
            if damage == "broken json":
                raw = json.dumps(record).encode()
                lines.append(raw[: draw(st.integers(1, len(raw) - 1))])
            elif damage == "not an object":
                lines.append(json.dumps([record["id"], record["title"]]).encode())
            elif damage == "title not a string":
                lines.append(json.dumps(dict(record, title=draw(st.integers()))).encode())
            elif damage == "authors not a list":
                lines.append(json.dumps(dict(record, authors=draw(st.integers()))).encode())
            elif damage == "categories not a list":
                lines.append(json.dumps(dict(record, categories={"a": 1})).encode())
            elif damage == "abstract missing":
                lines.append(json.dumps({k: v for k, v in record.items() if k != "abstract"}).encode())
            elif damage == "abstract empty":
                lines.append(json.dumps(dict(record, abstract=draw(st.sampled_from(["", "   ", "<p></p>"])))).encode())
            elif damage == "abstract huge":  # ~1 MB
                lines.append(json.dumps(dict(record, abstract="spectral " * (1_000_000 // 9))).encode())
            else:
                raw = json.dumps(record, ensure_ascii=False).encode()
                cut = draw(st.integers(1, len(raw) - 2))
                lines.append(raw[:cut] + b"\xff\xfe" + raw[cut:])
            bad.add(len(lines))
    return lines, expected, bad


@FUZZ
@given(corpus_lines(), st.booleans(), st.sampled_from([b"\n", b"\r\n"]))
def test_corpus_files_keep_every_valid_record_and_name_every_bad_line(
    tmp_path: Path, case: tuple, gzipped: bool, newline: bytes
) -> None:
    lines, expected, bad = case
    blob = newline.join(lines) + newline
    path = tmp_path / ("corpus.jsonl.gz" if gzipped else "corpus.jsonl")
    path.write_bytes(gzip.compress(blob) if gzipped else blob)
    result = read_papers(path)
    assert {p.id: p.version for p in result.papers} == expected
    assert sorted(p.line for p in result.problems) == sorted(bad)
    assert all(str(p).startswith(f"{path}:{p.line}: ") for p in result.problems)
    for paper in result.papers:
        assert paper.title.strip() and paper.abstract.strip()
        assert len(paper.abstract) <= MAX_ABSTRACT_CHARS
        assert "&amp;" not in paper.abstract and "<b>" not in paper.abstract  # entities and tags decoded


@st.composite
def digests(draw) -> tuple[str, list[str], set[int]]:
    lines = ["# ArXiv cs.CV --Thu, 19 Nov 2020"]
    kept: list[str] = []
    bad: set[int] = set()
    for n in range(1, draw(st.integers(1, 10)) + 1):
        pid = f"2011.{n:05d}"
        title = draw(text).replace("\n", " ").replace("\r", " ").replace("[", "(").strip() or "t"
        link = f"  [ :arrow_down: ](https://arxiv.org/pdf/{pid}.pdf)"
        kind = draw(st.sampled_from(["good", "good", "no link", "no abstract"]))
        header = f"### {n}.{title}" + ("" if kind == "no link" else link)
        lines.append(header)
        if kind != "good":
            bad.add(len(lines))
        if kind != "no abstract":
            abstract = draw(text).replace("\n", " ").replace("\r", " ").strip() or "x"
            lines.append(f">  {abstract}")
        if kind == "good":
            kept.append(pid)
    return "\n".join(lines) + "\n", kept, bad


@FUZZ
@given(digests())
def test_digests_keep_every_valid_entry_and_name_every_bad_one(tmp_path: Path, case: tuple) -> None:
    content, kept, bad = case
    path = tmp_path / "listing.md"
    path.write_text(content, encoding="utf-8")
    result = read_papers(path)
    assert [p.id for p in result.papers] == kept
    assert sorted(p.line for p in result.problems) == sorted(bad)
    assert all(p.categories == ("cs.CV",) and p.date == "2020-11-19" for p in result.papers)
