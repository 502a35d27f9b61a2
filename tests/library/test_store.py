"""Libraries: the store on its own (marks, removal, export and import with errors that
name the field, all or nothing), writers in parallel processes, a writer killed in the
middle of an import, and libraries outliving rebuilds of their index through the real
CLI, where a paper that left the index keeps its entry and says so."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.errors import LibraryError, LibraryUnavailable, UnknownLibrary
from engine.library.store import LibraryStore
from engine.pipeline.build import Options, build
from tests.conftest import GA_DIGEST_1, GA_DIGEST_2

EXE = str(Path(sys.executable).with_name("paperscope"))
FIRST_DAY = ["2606.14671", "2606.14643", "2606.14477"]  # in GA_DIGEST_1 only


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=300, env=os.environ.copy())


def test_marks_verdicts_and_removal(tmp_path: Path) -> None:
    store = LibraryStore(tmp_path / "library.sqlite")
    assert store.libraries() == [] and not store.path.exists()  # reading creates nothing
    store.mark("dark matter", [("2606.14671v2", "Reionization"), ("arXiv:2606.14643", "AGN lines")], "like")
    store.mark("dark matter", [("2606.14671", "")], "unlike")  # a new verdict keeps the title
    likes, unlikes = store.verdicts("dark matter")
    assert likes == ["2606.14643"] and unlikes == ["2606.14671"]
    titles = {e.paper_id: e.title for e in store.entries("dark matter")}
    assert titles == {"2606.14671": "Reionization", "2606.14643": "AGN lines"}
    [summary] = store.libraries()
    assert (summary.name, summary.likes, summary.unlikes) == ("dark matter", 1, 1)
    assert store.remove("dark matter", ["2606.14671", "2606.99999"]) == 1
    with pytest.raises(UnknownLibrary, match="no library named 'nope'"):
        store.entries("nope")
    for bad in ("", "../x", "a/b", "x" * 65, "\x00"):
        with pytest.raises(LibraryError, match="not a library name"):
            store.mark(bad, [("2606.14671", "")], "like")
    with pytest.raises(LibraryError, match="'maybe' must be"):
        store.mark("ok", [("2606.14671", "")], "maybe")
    with pytest.raises(LibraryError, match="not a paper id"):
        store.mark("ok", [("2606 14671; drop table", "")], "like")
    assert [s.name for s in store.libraries()] == ["dark matter"]  # the refused marks wrote nothing


def test_a_store_that_cannot_be_written_says_which_file(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = LibraryStore(blocker / "library.sqlite")
    with pytest.raises(LibraryUnavailable, match=r"a-file/library\.sqlite: the library store cannot be opened"):
        store.mark("x", [("2606.14671", "")], "like")
    assert store.libraries() == []  # reading an absent store is no error


def test_export_and_import_round_trip_and_refuse_bad_fields(tmp_path: Path) -> None:
    source = LibraryStore(tmp_path / "a.sqlite")
    source.mark("reading", [("2606.14671", "Reionization")], "like")
    source.mark("reading", [("2606.14643", "AGN lines")], "unlike")
    source.mark("other", [("hep-th/9901001", "Old style")], "like")
    exported = json.loads(json.dumps(source.export()))
    target = LibraryStore(tmp_path / "b.sqlite")
    assert target.import_(exported) == {"other": 1, "reading": 2}
    assert target.export()["libraries"] == exported["libraries"]

    broken = json.loads(json.dumps(exported))
    broken["libraries"][1]["entries"][1]["verdict"] = "love"
    with pytest.raises(LibraryError, match=r"mine.json: libraries\[1\].entries\[1\].verdict: 'love'"):
        target.import_(broken, source="mine.json", replace=True)
    assert target.export()["libraries"] == exported["libraries"]  # all or nothing
    for data, message in (
        ([], "not a paperscope library export"),
        ({**exported, "version": 9}, "version: 9"),
        ({**exported, "libraries": [{"name": "x", "entries": [{"id": "", "verdict": "like"}]}]}, r"entries\[0\].id"),
    ):
        with pytest.raises(LibraryError, match=message):
            target.import_(data)


def test_parallel_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite"
    code = (
        "import sys; from engine.library.store import LibraryStore; s = LibraryStore(sys.argv[1]);"
        "[s.mark('shared', [(f'2601.{int(sys.argv[2]) * 1000 + i:05d}', 't')], 'like') for i in range(150)]"
    )
    writers = [subprocess.Popen([sys.executable, "-c", code, str(path), str(w)]) for w in range(3)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    assert len(LibraryStore(path).entries("shared")) == 450


def test_an_import_killed_midway_leaves_the_library_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite"
    store = LibraryStore(path)
    store.mark("kept", [("2606.14671", "Reionization")], "like")
    big = {
        "format": "paperscope-library",
        "version": 1,
        "libraries": [
            {"name": f"lib{j}", "entries": [{"id": f"2601.{i:05d}", "verdict": "like"} for i in range(20_000)]}
            for j in range(5)
        ],
    }
    export = tmp_path / "big.json"
    export.write_text(json.dumps(big))
    code = (
        "import json, sys; from engine.library.store import LibraryStore;"
        "LibraryStore(sys.argv[1]).import_(json.loads(open(sys.argv[2]).read()))"
    )
    writer = subprocess.Popen([sys.executable, "-c", code, str(path), str(export)])
    wal = path.with_name(path.name + "-wal")
    deadline = time.monotonic() + 60
    # kill it once the import's transaction is spilling pages into the journal
    while writer.poll() is None and time.monotonic() < deadline:
        if wal.exists() and wal.stat().st_size > 512 * 1024:
            writer.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    assert writer.wait(timeout=30) == -signal.SIGKILL, "the import ended before it could be killed mid-write"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    assert {s.name: s.likes for s in store.libraries()} == {"kept": 1}  # nothing of the import, all of before


def test_a_library_outlives_rebuilds_and_names_papers_that_left(tmp_path: Path) -> None:
    index = tmp_path / "ga"
    build([GA_DIGEST_1], index, Options(backend="static", progress=False, topics=False))
    done = run("library", "add", *FIRST_DAY[:2], "--library", "galaxies", "--index", str(index))
    assert done.returncode == 0, done.stderr
    assert run("library", "add", FIRST_DAY[2], "-l", "galaxies", "--unlike", "--index", str(index)).returncode == 0
    missing = run("library", "add", "2601.00001", "-l", "galaxies", "--index", str(index))
    assert missing.returncode == 2 and "2601.00001" in missing.stderr

    # a new build of the next day only: the first day's papers leave the index
    build([GA_DIGEST_2], index, Options(backend="static", progress=False, topics=False))
    shown = json.loads(run("library", "show", "galaxies", "--index", str(index), "--json").stdout)
    entries = {e["paper_id"]: e for e in shown["entries"]}
    assert set(entries) == set(FIRST_DAY)
    assert all(not e["in_index"] and e["title"] for e in entries.values())
    assert entries[FIRST_DAY[2]]["verdict"] == "unlike"
    listing = json.loads(run("library", "list", "--index", str(index), "--json").stdout)
    assert listing["libraries"][0] | {"created": None} == {
        "name": "galaxies", "likes": 2, "unlikes": 1, "created": None,
    }  # fmt: skip

    out = tmp_path / "export.json"
    assert run("library", "export", "--out", str(out), "--index", str(index)).returncode == 0
    (index / "library.sqlite").unlink()  # a fresh store (WAL files go with it)
    for leftover in index.glob("library.sqlite-*"):
        leftover.unlink()
    assert run("library", "import", str(out), "--index", str(index)).returncode == 0
    again = json.loads(run("library", "show", "galaxies", "--index", str(index), "--json").stdout)
    assert {e["paper_id"]: e["verdict"] for e in again["entries"]} == {
        e["paper_id"]: e["verdict"] for e in shown["entries"]
    }
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    refused = run("library", "import", str(bad), "--index", str(index))
    assert refused.returncode == 2 and str(bad) in refused.stderr


def test_read_marks_follows_visits_and_delete(tmp_path: Path) -> None:
    store = LibraryStore(tmp_path / "library.sqlite")
    with pytest.raises(UnknownLibrary):
        store.mark_read("likes", ["2606.14671"])
    with pytest.raises(UnknownLibrary):  # stopping a follow never creates a library
        store.follow("likes", "category", "cs.CL", on=False)
    store.mark("likes", [("2606.14671", "Reionization")], "like")
    assert store.mark_read("likes", ["2606.14643", "2606.14477v2"]) == 2
    assert store.mark_read("likes", ["2606.14643"]) == 0  # already read
    assert store.read_ids("likes") == {"2606.14643", "2606.14477"}
    assert store.mark_read("likes", ["2606.14643"], read=False) == 1
    follows = store.follow("likes", "topic", "fine:3", "galaxy mergers")
    follows = store.follow("likes", "category", "astro-ph.")
    assert [(f.kind, f.value, f.label) for f in follows] == [
        ("category", "astro-ph.", ""),
        ("topic", "fine:3", "galaxy mergers"),
    ]
    for kind, value in (("topic", "3"), ("topic", "broad:3"), ("category", "cs CV"), ("author", "x")):
        with pytest.raises(LibraryError, match="follow"):
            store.follow("likes", kind, value)
    assert store.last_visit("likes") is None
    store.record_visit("likes", "2026-06-19")
    assert store.last_visit("likes") == "2026-06-19"
    store.record_choice("likes", "key-1", "svm", "svm, measured")
    assert store.choice("likes", "key-1") == ("svm", "svm, measured") and store.choice("likes", "key-2") is None

    exported = store.export(["likes"])  # read marks and follows travel with the library
    other = LibraryStore(tmp_path / "other.sqlite")
    other.import_(json.loads(json.dumps(exported)))
    assert other.read_ids("likes") == {"2606.14477"} and len(other.follows("likes")) == 2
    bad = json.loads(json.dumps(exported))
    bad["libraries"][0]["follows"][0]["value"] = "not a category"
    with pytest.raises(LibraryError, match=r"libraries\[0\]\.follows\[0\]"):
        other.import_(bad, source="bad.json", replace=True)
    assert len(other.follows("likes")) == 2  # the refused import changed nothing

    store.delete("likes")
    assert store.libraries() == [] and store.last_visit("likes") is None
    with pytest.raises(UnknownLibrary):
        store.read_ids("likes")
