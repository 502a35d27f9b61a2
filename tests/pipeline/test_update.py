"""``add`` extends the live version instead of rebuilding it: every index type grows
in place, rewritten papers take their new vectors and text, the FTS index and its
document counts stay exact, new papers get topics without a refit, and the result
answers like a fresh build of the same papers. Real model (static backend, instant),
real FAISS, real SQLite."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import engine
from engine.artifact import lexical, store, vectors
from engine.embedding.embedder import bundled_model, make_embedder
from engine.ingest.sources import read_papers
from engine.pipeline.build import Options, add, build
from tests.conftest import CORPUS_SAMPLE, GA_DIGEST_1, GA_DIGEST_2

TYPES = ("flat", "hnsw", "ivf")


def _options(**extra) -> Options:
    return Options(backend="static", progress=False, **extra)


@pytest.fixture(scope="module")
def corpus_records() -> list[dict]:
    with gzip.open(CORPUS_SAMPLE, "rt") as handle:
        return [json.loads(line) for line in handle]


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _rewrite(record: dict, abstract: str | None = None) -> dict:
    """A newer version of a paper (a v2 replacement): by default its abstract gains a
    sentence, as revisions usually do; or it is rewritten whole."""
    added = " We revise the analysis: strong gravitational lensing of quasars by dwarf galaxies."
    return dict(
        record,
        id=record["id"].split("v")[0] + "v9",
        updated="2026-12-01",
        abstract=abstract or record["abstract"] + added,
    )


@pytest.mark.parametrize("kind", TYPES)
def test_add_grows_each_index_type_like_a_fresh_build(tmp_path: Path, corpus_records: list[dict], kind: str) -> None:
    first, later = corpus_records[:240], corpus_records[240:]
    index = tmp_path / kind
    build([_write(tmp_path / "first.jsonl", first)], index, _options(index_type=kind))
    replaced = _rewrite(first[5])
    report = add([_write(tmp_path / "day.jsonl", [*later, replaced])], index, _options())
    vectors_made = report.embedded + report.cached  # the session's cache may hold them already
    assert (report.new_papers, vectors_made, report.papers) == (len(later), len(later) + 1, len(corpus_records))
    assert report.reused == len(first) - 1

    pid = replaced["id"].split("v")[0]
    artifact = store.Artifact.open(index)
    try:
        spec = artifact.manifest["index"]
        assert spec["type"] == kind and spec["built_rows"] == len(first)  # extended, not rebuilt
        assert artifact.manifest["build"]["incremental"] is True
        row = artifact.row_of(pid)
        assert row == 5  # a replacement keeps its row
        paper = artifact.papers_by_rows([row])[row]
        assert paper.abstract == replaced["abstract"]
        new_vector = make_embedder(bundled_model(), "static").embed([paper.text])[0]
        np.testing.assert_allclose(artifact.vectors[row], new_vector, atol=1e-6)
        # every paper, old, new or rewritten, is its own nearest neighbour in the grown index
        faiss_index = vectors.VectorIndex.load(artifact.faiss_path, len(artifact.vectors), spec)
        probe = np.r_[0:10, 5, 240 : len(corpus_records)]
        _, found = faiss_index.search(artifact.vectors[probe], 1, rerank_with=artifact.row_reader)
        assert (found[:, 0] == probe).mean() >= 0.95
        assert found[probe == 5][0, 0] == 5
    finally:
        artifact.close()

    fresh = tmp_path / f"{kind}-fresh"
    build([tmp_path / "first.jsonl", tmp_path / "day.jsonl"], fresh, _options(index_type=kind, topics=False))
    with engine.open(index) as grown, engine.open(fresh) as rebuilt:
        assert grown.ids() == rebuilt.ids() or sorted(grown.ids()) == sorted(rebuilt.ids())
        for query in ("galaxy rotation curves", "machine translation of low-resource languages"):
            a = [h.paper.id for h in grown.search(query, k=10, mode="dense")]
            b = [h.paper.id for h in rebuilt.search(query, k=10, mode="dense")]
            assert len(set(a) & set(b)) >= (10 if kind == "flat" else 8)


def test_add_keeps_the_lexical_index_and_document_counts_exact(tmp_path: Path, corpus_records: list[dict]) -> None:
    index = tmp_path / "lex"
    build([_write(tmp_path / "first.jsonl", corpus_records[:200])], index, _options(topics=False))
    replaced = _rewrite(corpus_records[3], "Strong gravitational lensing of quasars by dwarf galaxies, measured anew.")
    add([_write(tmp_path / "day.jsonl", [*corpus_records[200:], replaced])], index, _options())
    copy = tmp_path / "check.sqlite"  # published files are read-only; the check writes
    shutil.copyfile(store.resolve_version(index) / store.PAPERS_DB, copy)
    db = sqlite3.connect(copy)
    try:
        db.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('integrity-check', 1)")  # raises if out of step
        counts = dict(db.execute("SELECT term, docs FROM papers_df"))
        db.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, papers_fts, row)")
        recount = dict(db.execute("SELECT term, doc FROM temp.v"))
    finally:
        db.close()
    assert counts == recount
    with engine.open(index) as ix:
        title = corpus_records[250]["title"]
        assert ix.search(title, k=1, mode="lexical")[0].paper.id == corpus_records[250]["id"].split("v")[0]
        hits = ix.search('"strong gravitational lensing of quasars"', k=3, mode="lexical")
        assert hits[0].paper.id == replaced["id"].split("v")[0]
        old_words = corpus_records[3]["abstract"].split()[:12]
        assert all(h.paper.id != hits[0].paper.id for h in ix.search(" ".join(old_words), k=3, mode="lexical"))
    assert lexical.COMMON_SHARE  # the fill steps read these counts


def test_add_assigns_topics_and_map_positions_without_a_refit(tmp_path: Path) -> None:
    index = tmp_path / "topics"
    build([CORPUS_SAMPLE], index, _options())
    with engine.open(index) as before:
        old_topics = {t.id: (t.label, t.parent) for t in before.topics("fine")}
        old = {pid: (before.topic_of(pid), tuple(before.map_data().xy[i])) for i, pid in enumerate(before.ids())}
    report = add([GA_DIGEST_1], index, _options())
    with engine.open(index) as after:
        assert {t.id: (t.label, t.parent) for t in after.topics("fine")} == old_topics
        data = after.map_data()
        for i, pid in enumerate(after.ids()):
            if pid in old:
                assert (after.topic_of(pid), tuple(data.xy[i])) == old[pid]
        new_ids = [p.id for p in read_papers(GA_DIGEST_1).papers if p.id not in old]
        assert len(new_ids) == report.new_papers > 0
        # a galaxy digest lands in the astro-ph topics, placed inside the map's extent
        labels = [after.topic_of(pid) for pid in new_ids]
        assert all(t is not None and t["id"] >= 0 for t in labels)
        astro = {
            t.id
            for t in after.topics("fine")
            if any(after.paper(r).primary_category == "astro-ph.GA" for r in t.representatives)
        }
        assert np.mean([t["id"] in astro for t in labels]) >= 0.8
        lo, hi = np.min(data.xy, axis=0), np.max(data.xy, axis=0)
        assert all((lo <= data.xy[i]).all() and (data.xy[i] <= hi).all() for i in range(len(old), len(data.xy)))
        assert sum(t.size for t in after.topics("fine")) + sum(
            1 for pid in after.ids() if (after.topic_of(pid) or {}).get("id") == -1
        ) == len(after)
        assert after.manifest["topics"]["assigned_without_refit"] == report.new_papers


def test_adding_nothing_new_publishes_no_version(tmp_path: Path) -> None:
    index = tmp_path / "same"
    first = build([GA_DIGEST_1], index, _options())
    again = add([GA_DIGEST_1], index, _options())
    assert again.version == first.version and again.embedded == 0 and again.new_papers == 0
    assert sorted(p.name for p in index.iterdir() if p.name.startswith("v")) == ["v000001"]
    more = add([GA_DIGEST_2], index, _options())
    assert more.version == "v000002"


def test_extend_index_rebuilds_when_extending_would_degrade_it() -> None:
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3000, 32)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    none = np.array([], dtype=np.int64)

    def hnsw_over(rows: int) -> vectors.VectorIndex:
        index = vectors.VectorIndex.build(data[:rows], "hnsw")
        index.spec["requested"] = "hnsw"  # as a build with --index-type hnsw records it (auto: flat here)
        return index

    grown = hnsw_over(1000).extend(data[:1500], none)
    assert len(grown) == 1500 and grown.spec["built_rows"] == 1000  # extended
    doubled = hnsw_over(1000).extend(data[:1500], none).extend(data, none)
    assert len(doubled) == 3000 and doubled.spec["built_rows"] == 3000  # past 2x: rebuilt and re-tuned
    moved = data[:1500].copy()
    moved[:200] = data[2000:2200]  # 13% of the graph's vectors rewritten: links would mislead
    again = hnsw_over(1000).extend(data[:1500], none).extend(moved, np.arange(200))
    assert again.spec["built_rows"] == 1500 and again.spec.get("rewritten_in_place", 0) == 0
    nudged = data[:1500].copy()
    nudged[:10] = data[:10] + 0.05 * data[10:20]  # small edits: overwritten in place, links still fit
    nudged[:10] /= np.linalg.norm(nudged[:10], axis=1, keepdims=True)
    kept = hnsw_over(1000).extend(data[:1500], none).extend(nudged, np.arange(10))
    assert kept.spec["built_rows"] == 1000 and kept.spec["rewritten_in_place"] == 10
    assert (kept.search(nudged[:10], 1)[1][:, 0] == np.arange(10)).all()
    far = data[:1500].copy()
    far[7] = data[2500]  # one paper rewritten beyond recognition: rebuilt
    assert kept.extend(far, np.array([7])).spec["built_rows"] == 1500
    flat = vectors.VectorIndex.build(data[:100], "flat")
    flat.spec["requested"] = "hnsw"
    switched = flat.extend(data[:200], none)
    assert switched.spec["type"] == "hnsw" and len(switched) == 200
