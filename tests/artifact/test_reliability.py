"""Never lose an index: kill -9 at any moment of build, add and refit; readers during
writes; damaged files caught by name. Real processes, real signals, real files.

The static backend keeps embedding instant so kill points spread over every stage
(parse, embed, topics, write, publish); the other backends share the same store code.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import engine
from engine.artifact import store
from engine.artifact.verify import verify_index
from engine.errors import IndexCorrupt
from engine.pipeline.build import Options, add, build, refit
from tests.conftest import CORPUS_SAMPLE, GA_DIGEST_1, GA_DIGEST_2

ROOT = Path(__file__).resolve().parents[2]
RANDOM_KILLS = int(os.environ.get("PAPERSCOPE_RANDOM_KILLS", "2"))  # per scenario; the slow run uses more

WRITERS = {
    "build": f"build([{str(CORPUS_SAMPLE)!r}], INDEX, OPTIONS)",
    "add": f"add([{str(GA_DIGEST_2)!r}], INDEX, OPTIONS)",
    "refit": "refit(INDEX, OPTIONS)",
}


def _options(**extra) -> Options:
    return Options(backend="static", progress=False, **extra)


@pytest.fixture(scope="module")
def base_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("reliable") / "base"
    build([GA_DIGEST_1], index, _options())
    return index


def _copy(index: Path, to: Path) -> Path:
    shutil.copytree(index, to, symlinks=True)
    return to


def _answers(index: Path) -> tuple[str, list[str]]:
    with engine.open(index) as ix:
        return ix.manifest["version"], [hit.paper.id for hit in ix.search("galaxy rotation curves", k=5)]


def _writer(kind: str, index: Path, env: dict | None = None) -> subprocess.Popen:
    code = (
        "import sys; from engine.pipeline.build import Options, build, add, refit; "
        "INDEX = sys.argv[1]; OPTIONS = Options(backend='static', progress=False); " + WRITERS[kind]
    )
    return subprocess.Popen([sys.executable, "-c", code, str(index)], cwd=ROOT, env=env or dict(os.environ))


def _assert_intact(index: Path, before: tuple[str, list[str]]) -> str:
    """The index opens, verifies, and answers: the old version exactly as before, or a
    complete new one. Returns the live version."""
    version, hits = _answers(index)
    if version == before[0]:
        assert hits == before[1]
    else:
        assert int(version[1:]) == int(before[0][1:]) + 1 and hits
    assert all(not report.problems for report in verify_index(index, all_versions=True))
    return version


@pytest.mark.parametrize(
    "point", ["before-rename", "before-pointer", "before-pointer-swap", "after-publish", "mid-prune"]
)
def test_kill_at_each_step_of_publishing(base_index: Path, tmp_path: Path, point: str) -> None:
    index = _copy(base_index, tmp_path / "ix")
    before = _answers(index)
    if point == "mid-prune":  # pruning starts once two versions exist before the new one
        refit(index, _options())
        before = _answers(index)
    child = _writer("add", index, dict(os.environ, PAPERSCOPE_CRASH_AT=point))
    assert child.wait(timeout=300) == -signal.SIGKILL
    live = _assert_intact(index, before)
    assert live == before[0] if point.startswith("before") else live != before[0]
    # The next writer cleans up whatever the dead one left and publishes normally.
    add([GA_DIGEST_2], index, _options())
    leftovers = [p.name for p in index.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []
    _assert_intact(index, _answers(index))


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_kill_9_at_random_moments(base_index: Path, tmp_path: Path, kind: str) -> None:
    # How long an undisturbed run takes, so kill moments spread over all of it.
    timing = _copy(base_index, tmp_path / "timing")
    tick = time.monotonic()
    assert _writer(kind, timing).wait(timeout=300) == 0
    duration = time.monotonic() - tick
    rng = random.Random(f"{kind}-{RANDOM_KILLS}")
    for attempt in range(RANDOM_KILLS):
        index = _copy(base_index, tmp_path / f"ix{attempt}")
        before = _answers(index)
        child = _writer(kind, index)
        time.sleep(rng.uniform(0.05, 0.95) * duration)
        child.send_signal(signal.SIGKILL)
        child.wait()
        _assert_intact(index, before)
        add([GA_DIGEST_2], index, _options())  # and the index stays writable
        assert not [p for p in index.iterdir() if p.name.startswith(".tmp-")]


def test_a_live_index_keeps_answering_and_switches_versions_atomically(base_index: Path, tmp_path: Path) -> None:
    """What the server does: one long-lived process, one LiveIndex, queries in a loop
    while writers publish three times in another process."""
    index = _copy(base_index, tmp_path / "busy")
    stop = tmp_path / "stop"
    reader_code = """
import json, sys, pathlib
from engine.query.live import LiveIndex
index, stop = sys.argv[1], pathlib.Path(sys.argv[2])
seen, errors, answers = [], [], 0
with LiveIndex(index, check_every=0.05) as live:
    while not stop.exists():
        try:
            ix = live.current()
            hits = ix.search("galaxy rotation curves", k=5)
            assert len(hits) == 5 and all(ix.paper(h.paper.id) for h in hits)
            seen.append(ix.manifest["version"]); answers += 1
            stop.with_name("ready").touch()
        except Exception as exc:
            errors.append(repr(exc))
print(json.dumps({"seen": seen, "errors": errors, "answers": answers}))
"""
    reader = subprocess.Popen(
        [sys.executable, "-c", reader_code, str(index), str(stop)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "ready").exists():  # the reader is loaded and answering (however busy the machine)
        assert time.monotonic() < deadline and reader.poll() is None, "the reader never answered"
        time.sleep(0.1)
    add([GA_DIGEST_2], index, _options())
    build([GA_DIGEST_1, GA_DIGEST_2], index, _options())
    refit(index, _options())
    time.sleep(1)
    stop.touch()
    out, _ = reader.communicate(timeout=120)
    result = json.loads(out)
    assert result["errors"] == []
    numbers = [int(v[1:]) for v in result["seen"]]
    assert numbers == sorted(numbers)  # never back to an older version
    assert result["seen"][-1] == _answers(index)[0]  # and it ends on the newest
    assert len(set(numbers)) >= 3 and result["answers"] >= 20


def test_a_live_index_refuses_a_damaged_new_version(base_index: Path, tmp_path: Path) -> None:
    from engine.query.live import LiveIndex

    index = _copy(base_index, tmp_path / "guarded")
    with LiveIndex(index, check_every=0) as live:
        before = live.version
        add([GA_DIGEST_2], index, _options())
        newest = store.resolve_version(index)
        (newest / store.FAISS_INDEX).chmod(0o644)
        os.truncate(newest / store.FAISS_INDEX, 64)
        assert live.current().manifest["version"] == before  # still answering from the sound one
        assert live.current().search("galaxy", k=3)
        assert newest.name in live.rejected and store.FAISS_INDEX in live.rejected[newest.name]


DAMAGES = {
    "truncated vectors": (store.VECTORS, lambda p: os.truncate(p, p.stat().st_size // 2)),
    "altered vectors": (store.VECTORS, lambda p: _flip_byte(p, -100)),
    "altered database": (store.PAPERS_DB, lambda p: _flip_byte(p, 5000)),
    "truncated faiss": (store.FAISS_INDEX, lambda p: os.truncate(p, 100)),
    "deleted faiss": (store.FAISS_INDEX, lambda p: p.unlink()),
}


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_files_are_named_by_open_and_verify(base_index: Path, tmp_path: Path, damage: str) -> None:
    index = _copy(base_index, tmp_path / "damaged")
    _answers(index)  # opened (and stamped) once while sound
    name, harm = DAMAGES[damage]
    target = store.resolve_version(index) / name
    if target.exists():
        target.chmod(0o644)
    harm(target)
    with pytest.raises(IndexCorrupt, match=name.replace(".", r"\.")):
        _answers(index)
    run = subprocess.run(
        [sys.executable, "-m", "engine.cli", "verify", "--index", str(index)], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 1 and name in run.stderr
    search = subprocess.run(
        [sys.executable, "-m", "engine.cli", "search", "galaxy", "--index", str(index)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert search.returncode == 2 and name in search.stderr and "Traceback" not in search.stderr


def test_verify_passes_a_sound_index_and_flags_strays(base_index: Path, tmp_path: Path) -> None:
    index = _copy(base_index, tmp_path / "sound")
    ok = subprocess.run(
        [sys.executable, "-m", "engine.cli", "verify", "--index", str(index), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["sound"] is True
    (store.resolve_version(index) / "stray.bin").write_bytes(b"?")
    reports = verify_index(index)
    assert any("stray.bin: not listed" in p for p in reports[0].problems)


def test_published_files_are_read_only(base_index: Path) -> None:
    version = store.resolve_version(base_index)
    for path in version.iterdir():
        assert path.stat().st_mode & 0o222 == 0, path


def test_a_current_pointer_replaced_by_a_file_is_named_and_loses_nothing(base_index: Path, tmp_path: Path) -> None:
    """``CURRENT`` turned into a regular file: every command says so in one line (no
    OSError traceback), and a writer refuses rather than tidying every version away as
    unpublished."""
    index = _copy(base_index, tmp_path / "pointer")
    versions = sorted(p.name for p in index.iterdir() if p.name.startswith("v"))
    (index / "CURRENT").unlink()
    (index / "CURRENT").write_text("v000001\n")
    for command in (["verify"], ["search", "galaxy"], ["info"], ["add", str(GA_DIGEST_2)]):
        done = subprocess.run(
            [sys.executable, "-m", "engine.cli", *command, "--index", str(index)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2, (command, done.stderr)
        assert "CURRENT: not a link to a version" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in index.iterdir() if p.name.startswith("v")) == versions
