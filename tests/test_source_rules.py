"""House rules checked on the source itself."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = re.compile(r"^\s*(import pickle|from pickle )|allow_pickle\s*=\s*True|joblib\.(load|dump)|torch\.load\(")
# User data is never evaluated: no eval/exec, no shell strings, no unsafe YAML.
EVALUATES = re.compile(r"(?<![.\w])(eval|exec)\(|shell\s*=\s*True|yaml\.load\(|os\.system\(")


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


def test_nothing_evaluates_user_data() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if EVALUATES.search(line)
    ]
    assert offenders == []
    assert EVALUATES.search("eval(text)") and EVALUATES.search("run(cmd, shell=True)")
    assert not EVALUATES.search("model.eval()")  # torch's eval mode is not evaluation


def test_index_names_from_requests_cannot_leave_the_index_folder(tmp_path: Path) -> None:
    import pytest

    from engine.artifact.store import index_in
    from engine.errors import QueryError

    assert index_in(tmp_path, "arxiv-87k") == (tmp_path / "arxiv-87k").resolve()
    (tmp_path / "outside").mkdir()
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "sneaky").symlink_to(tmp_path / "outside")
    for name in ["../outside", "..", ".", "/etc", "a/b", "", ".hidden", "x" * 200, "sneaky", "nul\x00"]:
        with pytest.raises(QueryError):
            index_in(tmp_path / "root", name)
