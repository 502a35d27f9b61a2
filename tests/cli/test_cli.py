"""The ``paperscope`` console script, run as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GA_DIGEST_1, GA_DIGEST_2

EXE = shutil.which("paperscope") or str(Path(sys.executable).with_name("paperscope"))


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=os.environ.copy())


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("cli") / "ga"
    done = run("build", str(GA_DIGEST_1), "--index", str(index), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["papers"] == report["embedded"] + report["from_cache"] > 0  # other tests may fill the cache
    return index


def test_search_json_shape(cli_index: Path) -> None:
    done = run("search", "star formation in dwarf galaxies", "--index", str(cli_index), "-k", "3", "--json")
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)["hits"]
    assert len(hits) == 3
    assert set(hits[0]) >= {"id", "score", "title", "topic"}
    assert set(hits[0]["topic"]) == {"id", "label", "parent"} and hits[0]["topic"]["label"]
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]


def test_topics_topic_and_map_commands(cli_index: Path, tmp_path: Path) -> None:
    listing = json.loads(run("topics", "--index", str(cli_index), "--json").stdout)
    assert listing["level"] == "fine" and listing["topics"]
    first = listing["topics"][0]
    assert {"id", "label", "size", "keywords", "representatives", "papers", "parent"} <= set(first)
    assert len(first["papers"]) == first["size"]
    assert (
        sum(t["size"] for t in listing["topics"]) + listing["outliers"]
        == len({pid for t in listing["topics"] for pid in t["papers"]}) + listing["outliers"]
    )
    table = run("topics", "--index", str(cli_index), "--level", "coarse")
    assert table.returncode == 0 and "coarse topics" in table.stdout
    one = json.loads(run("topic", str(first["id"]), "--index", str(cli_index), "--json").stdout)
    assert one["label"] == first["label"] and {h["id"] for h in one["hits"]} == set(first["papers"])
    inside = json.loads(
        run("search", "galaxy", "--index", str(cli_index), "--topic", str(first["id"]), "--json").stdout
    )
    assert {h["topic"]["id"] for h in inside["hits"]} == {first["id"]}
    for name in ("map.html", "map.png"):
        done = run("map", "--index", str(cli_index), "--out", str(tmp_path / name))
        assert done.returncode == 0 and (tmp_path / name).stat().st_size > 10_000
    bad = run("topic", "999", "--index", str(cli_index))
    assert bad.returncode == 2 and "no fine topic 999" in bad.stderr


def test_build_without_topics_gives_null_topics(tmp_path: Path) -> None:
    index = tmp_path / "plain"
    assert run("build", str(GA_DIGEST_1), "--index", str(index), "--no-topics").returncode == 0
    hits = json.loads(run("search", "galaxy", "--index", str(index), "--json").stdout)["hits"]
    assert all(hit["topic"] is None for hit in hits)
    done = run("topics", "--index", str(index))
    assert done.returncode == 2 and "has no topics" in done.stderr


def test_related_table_and_json(cli_index: Path) -> None:
    first = json.loads(run("search", "galaxy", "--index", str(cli_index), "-k", "1", "--json").stdout)["hits"][0]
    table = run("related", first["id"], "--index", str(cli_index), "-k", "2")
    assert (
        table.returncode == 0 and first["id"] in table.stdout and "match" in table.stdout
    )  # the relevance, as on the page
    data = json.loads(run("related", first["id"], "--index", str(cli_index), "--json").stdout)
    assert data["paper"] == first["id"] and len(data["hits"]) == 10
    assert first["id"] not in {hit["id"] for hit in data["hits"]}


def test_add_then_info(cli_index: Path) -> None:
    done = run("add", str(GA_DIGEST_2), "--index", str(cli_index), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["embedded"] + report["from_cache"] == report["new_papers"] > 0  # only new papers are embedded
    info = run("info", "--index", str(cli_index))
    assert info.returncode == 0 and "all-MiniLM-L6-v2" in info.stdout
    assert f"papers     {report['papers']}" in info.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", "", "--index", "{index}"), "the query is empty"),
        (("related", "9999.99999", "--index", "{index}"), "is not in the index"),
        (("search", "galaxies", "--index", "{missing}"), "no index at"),
        (("build", "{missing}", "--index", "{missing}"), "no such file or folder"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(cli_index: Path, tmp_path: Path, args: tuple, message: str) -> None:
    filled = [a.format(index=cli_index, missing=tmp_path / "missing") for a in args]
    done = run(*filled)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("paperscope: error:") and message in lines[0]


def test_bad_records_are_listed_and_valid_ones_indexed(tmp_path: Path) -> None:
    path = tmp_path / "some-bad.jsonl"
    good = {
        "id": "2101.00009",
        "title": "Dark matter halos",
        "abstract": "We simulate halos.",
        "categories": ["astro-ph.GA"],
    }
    path.write_text(json.dumps(good) + "\n{broken\n")
    done = run("build", str(path), "--index", str(tmp_path / "idx"))
    assert done.returncode == 0
    assert f"skipped {path}:2: invalid JSON" in done.stderr
    assert "1 papers" in done.stdout and "1 records skipped" in done.stdout


def test_demo_runs_from_the_installed_package(tmp_path: Path) -> None:
    done = run("demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "AttentiveNAS" in done.stdout and "related to 2011.09473" in done.stdout
    assert (tmp_path / "indexes" / "demo" / "CURRENT").is_symlink()


def test_help_lists_every_command() -> None:
    done = run("--help")
    assert done.returncode == 0
    for command in ("build", "add", "search", "related", "info", "demo"):
        assert command in done.stdout


def test_add_counts_add_up(tmp_path: Path) -> None:
    """Adding a listing whose papers are partly indexed already says so: read = new +
    replaced + already indexed, and every paper's vector is accounted for."""
    index = tmp_path / "ix"
    assert run("build", str(GA_DIGEST_1), "--index", str(index), "--no-topics").returncode == 0
    both = tmp_path / "both"
    both.mkdir()
    shutil.copy(GA_DIGEST_1, both / "a.md")
    shutil.copy(GA_DIGEST_2, both / "b.md")
    done = run("add", str(both), "--index", str(index), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["unchanged"] > 0 and report["new_papers"] > 0
    assert report["read"] == report["new_papers"] + report["replaced"] + report["unchanged"]
    assert report["papers"] == report["embedded"] + report["from_cache"] + report["reused_from_index"]
    text = run("add", str(both), "--index", str(index))
    assert text.returncode == 0 and f"read {report['read']:,}: 0 new, 0 replaced" in text.stdout
    assert f"{report['read']:,} already indexed" in text.stdout
