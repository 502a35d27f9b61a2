"""Build, add and query real indexes: real model, real FAISS, real SQLite."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.artifact import integrity, store, version_writer
from engine.errors import BuildError, IndexBusy, IndexNotFound, QueryError, UnknownPaper
from engine.ingest.sources import read_papers
from engine.pipeline.build import Options, add, build, refit
from engine.query.facade import open_index
from tests.conftest import GA_DIGEST_1, GA_DIGEST_2


def _options(embedder, **kw) -> Options:
    return Options(embedder=embedder, progress=False, **kw)


def _vectors_by_id(index: Path) -> dict[str, np.ndarray]:
    artifact = store.Artifact.open(index)
    try:
        return {paper.id: np.array(artifact.vectors[row]) for row, paper, _ in artifact.all_papers()}
    finally:
        artifact.close()


def test_nas_query_ranks_both_nas_papers_in_top_3(demo_index: Path, embedder) -> None:
    with open_index(demo_index, embedder) as ix:
        hits = ix.search("neural architecture search", k=5)
    top3 = {hit.paper.id for hit in hits[:3]}
    assert {"2011.09300", "2011.09011"} <= top3
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    topic = hits[0].to_dict()["topic"]
    assert topic["id"] >= 0 and "architecture search" in topic["label"]


def test_related_excludes_the_paper_itself_and_finds_its_neighbour(demo_index: Path) -> None:
    with open_index(demo_index) as ix:
        hits = ix.related("2011.09300v1", k=5)  # a versioned id is normalized
        assert len(hits) == 5
        assert "2011.09300" not in {h.paper.id for h in hits}
        assert hits[0].paper.id == "2011.09011"  # the other NAS paper
        with pytest.raises(UnknownPaper, match="not in the index"):
            ix.related("1234.56789")
        with pytest.raises(QueryError, match="empty"):
            ix.search("   ")
        with pytest.raises(QueryError, match="k must be"):
            ix.related("2011.09300", k=0)


def test_k_larger_than_the_index_returns_everything(demo_index: Path) -> None:
    with open_index(demo_index) as ix:
        assert len(ix.related("2011.09300", k=500)) == 62


def test_artifact_contents(demo_index: Path) -> None:
    version = store.resolve_version(demo_index)
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["schema_version"] == store.SCHEMA_VERSION
    assert manifest["counts"]["papers"] == 63
    assert manifest["model"]["name"] == "all-MiniLM-L6-v2" and manifest["model"]["dimension"] == 384
    assert manifest["model"]["bundled"] is True
    assert {"numpy", "faiss-cpu", "torch", "sentence-transformers"} <= set(manifest["libraries"])
    assert set(manifest["files"]) == {"papers.sqlite", "vectors.npy", "faiss.index"}
    for name, entry in manifest["files"].items():
        assert integrity.file_sha256(version / name) == entry["sha256"]
    vectors = np.load(version / "vectors.npy", allow_pickle=False)
    assert vectors.shape == (63, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not any(p.name.startswith(".tmp-") for p in demo_index.iterdir())


def test_add_embeds_only_new_papers_and_keeps_old_ones(tmp_path: Path, embedder) -> None:
    index = tmp_path / "ga"
    first = build([GA_DIGEST_1], index, _options(embedder, use_cache=False))
    n1 = len(read_papers(GA_DIGEST_1).papers)
    assert first.embedded == n1 and first.papers == n1
    before = _vectors_by_id(index)

    second = add([GA_DIGEST_1, GA_DIGEST_2], index, _options(embedder, use_cache=False))
    n2 = len(read_papers(GA_DIGEST_2).papers)
    assert second.papers == n1 + n2
    assert (second.new_papers, second.embedded, second.reused) == (n2, n2, n1)
    with open_index(index, embedder) as ix:
        assert len(ix) == n1 + n2
        assert all(p.id in ix for p in read_papers(GA_DIGEST_2).papers)
    after = _vectors_by_id(index)
    for pid, vector in before.items():  # old papers keep their exact vectors (reused, not re-embedded)
        np.testing.assert_array_equal(after[pid], vector)
    # the previous version stays on disk for readers still holding it
    assert sorted(p.name for p in index.iterdir() if p.name.startswith("v")) == ["v000001", "v000002"]


def test_add_replaces_a_paper_with_its_newer_version(tmp_path: Path, embedder) -> None:
    index = tmp_path / "versions"
    record = {
        "id": "2101.00001v1",
        "title": "Galaxy rotation curves",
        "abstract": "We measure rotation curves.",
        "categories": ["astro-ph.GA"],
        "date": "2021-01-01",
    }
    (tmp_path / "v1.jsonl").write_text(json.dumps(record) + "\n")
    build([tmp_path / "v1.jsonl"], index, _options(embedder))
    newer = dict(record, id="2101.00001v2", updated="2021-02-01", abstract="We measure rotation curves of dwarfs.")
    (tmp_path / "v2.jsonl").write_text(json.dumps(newer) + "\n")
    report = add([tmp_path / "v2.jsonl"], index, _options(embedder))
    assert (report.papers, report.new_papers, report.embedded) == (1, 0, 1)
    with open_index(index) as ix:
        paper = ix.paper("2101.00001")
        assert (paper.version, paper.abstract) == (2, "We measure rotation curves of dwarfs.")
    stale = add([tmp_path / "v1.jsonl"], index, _options(embedder))  # an older copy does not win
    assert stale.embedded == 0
    with open_index(index) as ix:
        assert ix.paper("2101.00001").version == 2


def test_rebuild_with_a_warm_cache_embeds_nothing(tmp_path: Path, embedder, demo_digest: Path) -> None:
    build([demo_digest], tmp_path / "a", _options(embedder))  # fills the (session) cache
    again = build([demo_digest], tmp_path / "b", _options(embedder))
    assert (again.embedded, again.cached) == (0, 63)
    nocache = build([demo_digest], tmp_path / "c", _options(embedder, use_cache=False))
    assert nocache.embedded == 63
    a = np.load(store.resolve_version(tmp_path / "a") / "vectors.npy")
    b = np.load(store.resolve_version(tmp_path / "b") / "vectors.npy")
    np.testing.assert_array_equal(a, b)


def test_build_with_only_bad_records_fails_and_leaves_no_index(tmp_path: Path, embedder) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "title": "t"}\nnot json\n')
    with pytest.raises(BuildError, match="no valid papers"):
        build([bad], tmp_path / "idx", _options(embedder))
    with pytest.raises(IndexNotFound):
        open_index(tmp_path / "idx")


def test_add_to_a_missing_index_is_an_error(tmp_path: Path, embedder) -> None:
    with pytest.raises(IndexNotFound, match="paperscope build"):
        add([GA_DIGEST_1], tmp_path / "nothing", _options(embedder))


def test_a_second_writer_is_refused(tmp_path: Path, embedder, demo_digest: Path) -> None:
    index = tmp_path / "locked"
    with version_writer.writer_lock(index), pytest.raises(IndexBusy, match=f"pid {os.getpid()}"):
        build([demo_digest], index, _options(embedder))


def test_leftovers_of_a_dead_writer_are_cleaned_and_the_live_version_survives(
    tmp_path: Path, demo_index: Path, embedder, demo_digest: Path
) -> None:
    index = tmp_path / "crashy"
    shutil.copytree(demo_index, index, symlinks=True)
    live = os.readlink(index / "CURRENT")
    (index / ".tmp-v000099-4242").mkdir()  # a writer killed mid-write
    (index / ".tmp-v000099-4242" / "vectors.npy").write_bytes(b"half")
    shutil.copytree(index / live, index / "v000050")  # renamed into place, never published
    with open_index(index) as ix:
        assert ix.manifest["version"] == live  # readers ignore the leftovers
    build([demo_digest], index, _options(embedder))
    names = sorted(p.name for p in index.iterdir())
    assert ".tmp-v000099-4242" not in names and "v000050" not in names
    assert os.readlink(index / "CURRENT") == "v000002"


def test_readers_keep_their_version_while_a_writer_publishes(tmp_path: Path, embedder) -> None:
    index = tmp_path / "live"
    build([GA_DIGEST_1], index, _options(embedder))
    with open_index(index, embedder) as before:
        add([GA_DIGEST_2], index, _options(embedder))
        refit(index, _options(embedder))  # v3: v1 is pruned from disk
        assert not (index / "v000001").exists()
        # the open reader still answers from its own (now deleted) version
        assert len(before) == len(read_papers(GA_DIGEST_1).papers)
        assert before.search("galaxy", k=3)
    with open_index(index) as after:
        assert after.manifest["version"] == "v000003"
