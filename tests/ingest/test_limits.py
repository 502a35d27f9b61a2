"""Size and nesting are bounded before anything is parsed: one hostile line is a
``file:line:`` problem like any other bad record, and the valid records around it are
kept, in the readers, under hypothesis, and in a real ``paperscope build``."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine.ingest import atom
from engine.ingest.sources import MAX_JSON_DEPTH, MAX_LINE_BYTES, json_depth, read_papers
from tests.conftest import CORPUS_SAMPLE

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def corpus_records(count: int) -> list[str]:
    with gzip.open(CORPUS_SAMPLE, "rt", encoding="utf-8") as handle:
        return [next(handle).rstrip("\n") for _ in range(count)]


def nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    return '{"id": "2101.00001", "title": ' + opener * depth + closer * depth + "}"


def test_a_deeply_nested_line_is_a_problem_and_the_run_goes_on(tmp_path: Path) -> None:
    good = corpus_records(3)
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join([good[0], nested(3000), good[1], nested(3000, '{"a":', "}"), good[2]]) + "\n")
    parsed = read_papers(path)
    assert len(parsed.papers) == 3
    assert [(p.line, "nested deeper" in p.message) for p in parsed.problems] == [(2, True), (4, True)]
    assert all(str(p).startswith(f"{path}:") for p in parsed.problems)


def test_an_overlong_line_is_skipped_without_being_held(tmp_path: Path) -> None:
    good = corpus_records(2)
    path = tmp_path / "corpus.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(good[0] + "\n" + '{"title": "' + "x" * (3 * MAX_LINE_BYTES) + '"}\n' + good[1] + "\n")
    parsed = read_papers(path)
    assert len(parsed.papers) == 2 and [p.line for p in parsed.problems] == [2]
    assert f"over {MAX_LINE_BYTES:,} bytes" in parsed.problems[0].message


@FUZZ
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
        max_leaves=40,
    )
)
def test_json_depth_agrees_with_the_structure(value: object) -> None:
    def depth(v: object) -> int:
        if isinstance(v, list):
            return 1 + max(map(depth, v), default=0)
        if isinstance(v, dict):
            return 1 + max(map(depth, v.values()), default=0)
        return 0

    assert json_depth(json.dumps(value)) == depth(value)


@FUZZ
@given(st.integers(0, 20_000), st.sampled_from(["[", '{"k":']), st.integers(0, 2))
def test_any_nesting_in_a_corpus_line_is_kept_or_named(tmp_path: Path, depth: int, opener: str, where: int) -> None:
    good = corpus_records(2)
    closer = "]" if opener == "[" else "}"
    lines = [good[0], good[1]]
    lines.insert(where, '{"authors": ' + opener * depth + "1" + closer * depth + "}")
    path = tmp_path / f"c-{depth}-{where}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    parsed = read_papers(path)  # never raises, whatever the depth
    assert len(parsed.papers) == 2 and [p.line for p in parsed.problems] == [where + 1]
    assert ("nested deeper" in parsed.problems[0].message) == (depth + 1 > MAX_JSON_DEPTH)


def test_an_atom_feed_nested_too_deep_or_too_large_is_refused() -> None:
    head = b'<feed xmlns="http://www.w3.org/2005/Atom">'
    deep = atom.parse_feed(head + b"<x>" * 100_000 + b"</x>" * 100_000 + b"</feed>", "deep.atom")
    assert deep.broken is not None and "nested deeper" in deep.broken.message
    big = atom.parse_feed(head + b"<title>" + b"x" * (atom.MAX_TEXT_CHARS + 10) + b"</title></feed>", "big.atom")
    assert big.broken is not None and "characters of text" in big.broken.message


def test_a_cli_build_with_a_hostile_line_keeps_the_valid_papers(tmp_path: Path) -> None:
    good = corpus_records(12)
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join([*good[:6], nested(3000), *good[6:]]) + "\n")
    index = tmp_path / "ix"
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "build", str(path), "--index", str(index), "--backend", "static"],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr
    assert f"{path}:7: JSON nested deeper than {MAX_JSON_DEPTH} levels" in done.stderr
    assert "Traceback" not in done.stderr
    with engine.open(index) as ix:
        assert len(ix) == 12
