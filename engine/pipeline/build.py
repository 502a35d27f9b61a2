"""Build, grow and re-cluster indexes; each writes a new published version.

* ``build``: a fresh index from inputs (topics fitted; ids kept where they match the
  live version's topics).
* ``add``: new inputs merged into the live version; only new or changed texts are
  embedded, and they get topics and map positions without a refit.
* ``refit``: the same papers and vectors, topics fitted anew (``topics --refit``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from engine.artifact import sentences as sentence_store
from engine.artifact import shards, store, vectors, version_writer
from engine.embedding.embedder import Embedder, describe, embedder_like, load_embedder
from engine.errors import BuildError, IndexCorrupt, IndexNotFound
from engine.fsutil import abandoned_on_error
from engine.ingest.sources import read_papers
from engine.papers import Paper
from engine.pipeline import update
from engine.pipeline.report import BuildReport, Options, library_versions, now
from engine.pipeline.vectorize import EMBED_CHUNK, Vectorized, reusable_vectors, sentence_vectors, vectorize
from engine.topics import stage

log = logging.getLogger(__name__)


def build(inputs: Sequence[str | Path], index_dir: str | Path, options: Options | None = None) -> BuildReport:
    """Build a new version of ``index_dir`` holding exactly the papers in ``inputs``."""
    options = options or Options()
    report, papers = _parse(inputs, Path(index_dir))
    if not papers:
        raise BuildError(f"no valid papers in {', '.join(map(str, inputs))} ({len(report.problems)} records skipped)")
    report.new_papers = len(papers)
    with version_writer.writer_lock(report.index_dir), ExitStack() as scratch:
        previous = _open_live(report.index_dir)
        shard_dir = None
        if options.ray:
            from engine.embedding import ray_embed

            scratch.enter_context(ray_embed.session(options.ray))  # one Ray for embedding and index parts
            shard_dir = scratch.enter_context(version_writer.scratch_dir(report.index_dir, "shards"))
        try:
            embedder = options.embedder or load_embedder(options.model, options.backend)
            done = _vectorize(papers, embedder, previous, options, report, shard_dir)
            sentences = None
            if options.sentences:
                with report.stage("sentences"):
                    sentences = sentence_vectors(
                        papers, embedder, options.use_cache, options.progress, options.embed_chunk, options.ray
                    )
            result = None
            if options.topics:
                with report.stage("topics"):
                    before = stage.previous_topics(previous, papers) if previous else None
                    result = _fit_topics(papers, done.vectors, embedder, options, before)
            _publish(report, papers, done, sentences, embedder, result, inputs, options, shard_dir)
        finally:
            if previous is not None:
                previous.close()
    return report


def add(inputs: Sequence[str | Path], index_dir: str | Path, options: Options | None = None) -> BuildReport:
    """Merge ``inputs`` into the live version: new ids are appended, a newer copy of a
    known paper replaces it, and only new or changed texts are embedded. The live
    version's files are extended, not rebuilt (see :mod:`engine.pipeline.update`)."""
    options = options or Options()
    report, parsed = _parse(inputs, Path(index_dir))
    with version_writer.writer_lock(report.index_dir):
        previous = store.Artifact.open(report.index_dir)
        try:
            changes = update.plan(previous, parsed)
            report.new_papers, report.replaced = len(changes.appended), len(changes.rewritten)
            report.unchanged = report.read - report.new_papers - report.replaced
            if not changes.rewritten and not changes.appended:  # nothing new: no new version
                version_writer.remove_leftovers(report.index_dir)  # but tidy up as any writer does
                report.version, report.papers = previous.path.name, changes.existing
                report.reused = changes.existing
                return report.finish()
            embedder = options.embedder or _embedder_for(previous.manifest, options)
            writer, sections = update.grow(previous, changes, embedder, options, report)
            with abandoned_on_error(writer), report.stage("publish"):
                final = writer.publish(update.manifest_after(previous.manifest, sections, report, inputs))
        finally:
            previous.close()
    report.version = final.name
    report.topics = sections["topics"]
    return report.finish()


def refit(index_dir: str | Path, options: Options | None = None) -> BuildReport:
    """Fit topics anew over the live version's papers and vectors; topic ids are kept
    where topics match, and the manifest records what was split, merged, born or gone."""
    options = options or Options()
    report = BuildReport(Path(index_dir))
    with version_writer.writer_lock(report.index_dir):
        previous = store.Artifact.open(report.index_dir)
        try:
            papers = [paper for _, paper, _ in previous.all_papers()]
            matrix = np.asarray(previous.vectors, dtype=np.float32)
            embedder = options.embedder or _embedder_for(previous.manifest, options)
            with report.stage("topics"):
                before = stage.previous_topics(previous, papers)
                result = _fit_topics(papers, matrix, embedder, options, before)
            with abandoned_on_error(version_writer.VersionWriter(report.index_dir)) as writer, report.stage("write"):
                kept = [store.PAPERS_DB, store.VECTORS, store.FAISS_INDEX]
                writer.reuse_files(previous.path, kept + (list(sentence_store.FILES) if previous.sentences else []))
                writer.write_topics(result.topics, result.fine, result.coarse, result.xy)
                manifest = dict(previous.manifest, created=now(), topics=result.summary, libraries=library_versions())
                final = writer.publish(manifest)
        finally:
            previous.close()
    report.version, report.papers, report.topics = final.name, len(papers), result.summary
    return report.finish()


def _fit_topics(papers, matrix, embedder: Embedder, options: Options, before) -> stage.TopicResult:
    """The topic stage. With Ray, its kNN searches are Ray tasks in the build's Ray
    session (a refit opens one), and the summary counts them."""
    if not options.ray:
        return stage.fit_topics(papers, matrix, embedder.embed, options.topic_params, before, options.progress)
    from engine.embedding import ray_embed
    from engine.pipeline.ray_topics import RaySearcher

    searcher = RaySearcher()
    with ray_embed.session(options.ray):  # joins the build's session; stops only one it started
        result = stage.fit_topics(
            papers, matrix, embedder.embed, options.topic_params, before, options.progress, searcher
        )
    result.summary["ray"] = dict(searcher.stats)
    return result


def _parse(inputs: Sequence[str | Path], index_dir: Path) -> tuple[BuildReport, list[Paper]]:
    report = BuildReport(index_dir)
    with report.stage("parse"):
        parsed = read_papers(*inputs)
    report.read = len(parsed.papers)
    report.problems, report.duplicates = parsed.problems, parsed.duplicates
    return report, parsed.papers


def _open_live(index_dir: Path) -> store.Artifact | None:
    try:
        return store.Artifact.open(index_dir)
    except IndexNotFound:
        return None
    except IndexCorrupt as exc:
        log.warning("not reusing anything from the current version: %s", exc)
        return None


def _embedder_for(manifest: dict, options: Options) -> Embedder:
    """The embedder an existing index was built with; refuse a different model."""
    model = manifest["model"]
    embedder = embedder_like(model, options.model)
    if embedder.model.fingerprint != model["fingerprint"]:
        raise BuildError(
            f"the index was built with model {model['name']} ({model['fingerprint']}); "
            f"{embedder.model.path} differs: rebuild the index to change models"
        )
    return embedder


def _vectorize(papers, embedder, previous, options: Options, report: BuildReport, shard_dir: Path | None = None):
    """Vectors for every paper. With Ray, each embedded batch is also written as an
    embedding shard as it arrives, then the vectors that came from the live version
    or the cache, so the shards hold the whole collection for the index build."""
    with report.stage("embed"):
        known = reusable_vectors(previous, embedder)
        sink = _ShardSink(shard_dir) if shard_dir is not None else None
        done = vectorize(
            papers, embedder, known, options.use_cache, options.progress, options.embed_chunk, options.ray, sink
        )
    if sink is not None:
        sink.add_rest(done.vectors)
        report.ray = dict(options.ray.stats, shards=sink.count)
    report.reused, report.cached, report.embedded = done.reused, done.cached, done.embedded
    return done


class _ShardSink:
    """Numbers shards and remembers which rows they hold."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.count, self.rows = folder, 0, []

    def __call__(self, rows: np.ndarray, vecs: np.ndarray) -> None:
        shards.write_shard(self.folder, self.count, rows, vecs)
        self.rows.append(rows)
        self.count += 1

    def add_rest(self, matrix: np.ndarray, size: int = EMBED_CHUNK * 8) -> None:
        done = np.zeros(len(matrix), dtype=bool)
        for rows in self.rows:
            done[rows] = True
        rest = np.flatnonzero(~done)
        for start in range(0, len(rest), size):
            self(rest[start : start + size], matrix[rest[start : start + size]])


def _publish(
    report: BuildReport,
    papers: Sequence[Paper],
    done: Vectorized,
    sentences: tuple[np.ndarray, list[int]] | None,
    embedder: Embedder,
    result: stage.TopicResult | None,
    inputs: Sequence[str | Path],
    options: Options,
    shard_dir: Path | None = None,
) -> None:
    """Write every file of a new version and make it live."""
    matrix = done.vectors
    with abandoned_on_error(version_writer.VersionWriter(report.index_dir)) as writer:
        with report.stage("index"):
            spec = _write_index(writer, matrix, options, shard_dir)
        with report.stage("write"):
            writer.write_vectors(matrix)
            writer.write_papers(papers, done.hashes)
            if result is not None:
                writer.write_topics(result.topics, result.fine, result.coarse, result.xy)
            report.papers = len(papers)
            report.topics = result.summary if result is not None else None
            manifest = _manifest(describe(embedder, matrix.shape[1]), spec, report, inputs)
            if sentences is not None:
                stacked, counts = sentences
                sentence_store.write(writer.temp, stacked, sentence_store.offsets_for(counts))
                manifest["sentences"] = sentence_store.summary(len(stacked), len(papers))
            final = writer.publish(manifest)
    report.version = final.name
    report.finish()


def _write_index(
    writer: version_writer.VersionWriter, matrix: np.ndarray, options: Options, shard_dir: Path | None
) -> dict:
    """Build the FAISS index of a new version into ``writer``; returns its manifest spec."""
    kind = vectors.choose_type(len(matrix), options.index_type)
    seed = options.topic_params.seed
    if kind == "ivf" and shard_dir is not None:  # trained once, built per shard, merged on disk
        from engine.pipeline.ray_index import build_ivf_parts

        index = vectors.IVFIndex.from_shards(
            shard_dir, matrix, writer.file(store.FAISS_INDEX), seed, build_parts=build_ivf_parts
        )
    else:
        index = vectors.VectorIndex.build(matrix, kind, seed=seed)
        index.save(writer.file(store.FAISS_INDEX))
    spec = {**index.spec, "requested": options.index_type}
    del index  # an on-disk merged index holds its lists file open
    return spec


def _manifest(model_info: dict, spec: dict, report: BuildReport, inputs: Sequence[str | Path]) -> dict:
    return {
        "created": now(),
        "model": model_info,
        "counts": {"papers": report.papers},
        "index": spec,
        "inputs": [str(Path(p)) for p in inputs],
        "build": report.manifest_section(),
        "topics": report.topics,
        "libraries": library_versions(),
    }
