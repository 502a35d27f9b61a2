"""House rules checked on the source itself."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = re.compile(r"^\s*(import pickle|from pickle )|allow_pickle\s*=\s*True|joblib\.(load|dump)|torch\.load\(")


def _sources() -> list[Path]:
    folders = ("engine", "scripts", "benchmarks")
    files = [p for f in folders for p in (ROOT / f).rglob("*") if p.is_file() and p.suffix in {".py", ""}]
    return [p for p in files if "__pycache__" not in p.parts]


def test_no_pickle_anywhere() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if FORBIDDEN.search(line)
    ]
    assert offenders == []


def test_the_rule_itself_catches_pickle() -> None:
    assert FORBIDDEN.search("import pickle")
    assert FORBIDDEN.search("np.load(f, allow_pickle=True)")
    assert not FORBIDDEN.search("np.load(f, allow_pickle=False)")
