"""``add``: merge new papers into the live version, touching only what changed.

Known papers keep their rows; a newer copy of a known paper is written over its row;
new papers are appended. Only new texts are embedded. The live version's vectors,
FAISS index, papers database (with its FTS index and document counts), topic
tables and sentence vectors (if the index has them) are copied and extended rather
than rebuilt, and new papers get a topic and a map position from their nearest
indexed papers, without a refit. The result is published atomically like any other
version, so readers see the old version or the new one, never a mix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.artifact import sentences as sentence_store
from engine.artifact import store, topic_store, vectors, version_writer
from engine.embedding.embedder import Embedder, text_hash
from engine.fsutil import abandoned_on_error
from engine.papers import Paper
from engine.pipeline.report import BuildReport, Options, library_versions, now
from engine.pipeline.vectorize import sentence_vectors, vectorize
from engine.topics import fit, stage


@dataclass
class Changes:
    """What an ``add`` does to the live version's rows."""

    rewritten: list[tuple[int, Paper]]  # (row, newer copy) of known papers
    appended: list[Paper]  # new papers, in input order, from row ``existing`` on
    existing: int  # rows in the live version
    text_changed: set[int]  # rows whose embedded text changed (a new vector)

    @property
    def records(self) -> list[tuple[int, Paper]]:
        return self.rewritten + [(self.existing + i, p) for i, p in enumerate(self.appended)]


def plan(previous: store.Artifact, parsed: Sequence[Paper]) -> Changes:
    """Which parsed papers are new, which replace a known paper (the newer copy wins; on
    a tie the added one does), and which can be ignored (older or identical copies)."""
    known = previous.records_for_ids([p.id for p in parsed])
    rewritten, appended, text_changed = [], [], set()
    for paper in parsed:
        found = known.get(paper.id)
        if found is None:
            appended.append(paper)
            continue
        row, old, old_hash = found
        if paper.freshness < old.freshness or dataclasses.replace(paper, source=old.source) == old:
            continue
        rewritten.append((row, paper))
        if text_hash(paper.text) != old_hash:
            text_changed.add(row)
    return Changes(rewritten, appended, previous.manifest["counts"]["papers"], text_changed)


def grow(
    previous: store.Artifact, changes: Changes, embedder: Embedder, options: Options, report: BuildReport
) -> tuple[version_writer.VersionWriter, dict]:
    """Write every file of the next version into a new writer; returns it with the
    manifest sections that changed. The caller publishes it (or abandons it)."""
    records = changes.records
    rows = np.array([row for row, _ in records], dtype=np.int64)
    needs_vector = [i for i, (row, _) in enumerate(records) if row >= changes.existing or row in changes.text_changed]
    writer = version_writer.VersionWriter(report.index_dir)
    with abandoned_on_error(writer), ThreadPoolExecutor(max_workers=1) as copier:
        # The papers database is the biggest file a version rewrites (3 GB at 1M papers,
        # ~8 s on this disk): the kernel copies it while the new papers are embedded and
        # indexed. The pool waits for the copy before the writer can be abandoned.
        copied = copier.submit(writer.reuse_files, previous.path, [store.PAPERS_DB])
        fresh, fresh_sentences = _embed_changes(previous, records, needs_vector, embedder, options, report)
        report.reused = changes.existing - len(changes.text_changed)  # rows whose text, so vector, stays
        with report.stage("index"):
            rewrites = [i for i in needs_vector if rows[i] < changes.existing]
            replaced = rows[rewrites]
            matrix = writer.extend_vectors(previous.path, replaced, fresh[rewrites], fresh[rows >= changes.existing])
            spec = previous.manifest["index"]
            index = vectors.VectorIndex.load(previous.faiss_path, changes.existing, spec, writable=True)
            neighbours = _neighbours_for(index, previous, fresh[needs_vector], set(replaced.tolist()))
            index = index.extend(matrix, replaced, options.index_type, options.topic_params.seed)
            index.save(writer.file(store.FAISS_INDEX))
            spec = index.spec
        with report.stage("papers"):
            copied.result()
            writer.update_papers([(row, p, text_hash(p.text)) for row, p in records])
        sentence_summary = previous.manifest.get("sentences")
        if previous.sentences is not None:
            with report.stage("sentences"):
                total = sentence_store.extend(previous.sentences, writer.temp, len(matrix), fresh_sentences)
            sentence_summary = sentence_store.summary(total, len(matrix))
        topic_summary = previous.manifest.get("topics")
        if topic_summary is not None and topic_store.has_topics(previous.db):
            with report.stage("topics"):
                topic_summary = _assign_topics(writer, rows[needs_vector], neighbours, len(matrix), topic_summary)
        report.papers = len(matrix)
    return writer, {"index": spec, "topics": topic_summary, "sentences": sentence_summary}


def _embed_changes(
    previous: store.Artifact,
    records: list[tuple[int, Paper]],
    needs_vector: list[int],
    embedder: Embedder,
    options: Options,
    report: BuildReport,
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Vectors for ``records`` (zero where the text, so the vector, stays) and, if the
    index keeps sentence vectors, those of each row that needs them."""
    with report.stage("embed"):
        done = (
            vectorize([records[i][1] for i in needs_vector], embedder, {}, options.use_cache, options.progress)
            if needs_vector
            else None
        )
    report.embedded, report.cached = (done.embedded, done.cached) if done else (0, 0)
    fresh_sentences = {}
    if previous.sentences is not None and needs_vector:  # the index has them: keep them complete
        with report.stage("sentences"):
            stacked, counts = sentence_vectors(
                [records[i][1] for i in needs_vector], embedder, options.use_cache, options.progress
            )
        ends = np.cumsum(counts)
        fresh_sentences = {
            int(records[i][0]): stacked[end - n : end] for i, n, end in zip(needs_vector, counts, ends, strict=True)
        }
    fresh = np.zeros((len(records), previous.vectors.shape[1]), dtype=np.float32)
    if done is not None:
        fresh[needs_vector] = done.vectors
    return fresh, fresh_sentences


def _neighbours_for(
    index: vectors.VectorIndex, previous: store.Artifact, queries: np.ndarray, stale: set[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest indexed papers of the papers that need a topic, searched in the live
    index before it grows; rows being rewritten are skipped (their vectors are stale)."""
    if not len(queries):
        return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.int64)
    depth = 2 * fit.VOTE_NEIGHBOURS + min(len(stale), 50)
    sims, rows = index.search(queries, depth, rerank_with=previous.row_reader)
    keep = (rows >= 0) & ~np.isin(rows, list(stale))
    width = 2 * fit.VOTE_NEIGHBOURS
    out_sims = np.full((len(rows), width), -np.inf, dtype=np.float32)
    out_rows = np.full((len(rows), width), -1, dtype=np.int64)
    for i in range(len(rows)):
        picked = np.flatnonzero(keep[i])[:width]
        out_sims[i, : len(picked)], out_rows[i, : len(picked)] = sims[i, picked], rows[i, picked]
    return out_sims, out_rows


def _assign_topics(
    writer: version_writer.VersionWriter, rows: np.ndarray, neighbours, total: int, summary: dict
) -> dict:
    """Topics and map positions for ``rows`` from their nearest indexed papers (no refit)."""
    with writer.database() as db:
        if len(rows):
            fine, coarse, xy = stage.assign_new(db, *neighbours)
            topic_store.update_rows(db, rows, fine, coarse, xy)
        outliers = topic_store.outlier_count(db)
    return stage.extended_summary(summary, len(rows), outliers / max(total, 1))


def manifest_after(previous: dict, sections: dict, report: BuildReport, inputs: Sequence[str | Path]) -> dict:
    """The live manifest with what an ``add`` changed."""
    earlier = previous.get("inputs", [])
    return {
        **previous,
        **sections,
        "created": now(),
        "counts": {"papers": report.papers},
        "inputs": earlier + [str(Path(p)) for p in inputs if str(Path(p)) not in earlier],
        "build": {**report.manifest_section(), "incremental": True},
        "libraries": library_versions(),
    }
