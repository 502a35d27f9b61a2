"""Build, grow and re-cluster indexes; each writes a new published version.

* ``build``: a fresh index from inputs (topics fitted; ids kept where they match the
  live version's topics).
* ``add``: new inputs merged into the live version; only new or changed texts are
  embedded, and they get topics and map positions without a refit.
* ``refit``: the same papers and vectors, topics fitted anew (``topics --refit``).
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine import shards, store, topic_stage, vectors
from engine.embed import Embedder, describe, embedder_like, load_embedder
from engine.errors import BuildError, IndexCorrupt, IndexNotFound
from engine.papers import Paper, Problem
from engine.sources import read_papers
from engine.topics import TopicParams
from engine.vectorize import EMBED_CHUNK, reusable_vectors, vectorize

if TYPE_CHECKING:
    from engine.ray_embed import RayPlan

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    index_dir: Path
    version: str = ""
    papers: int = 0
    new_papers: int = 0
    embedded: int = 0
    reused: int = 0
    cached: int = 0
    duplicates: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    topics: dict | None = None
    ray: dict | None = None  # the Ray pipeline's figures, when it ran
    started: float = field(default_factory=time.perf_counter, repr=False)

    def manifest_section(self) -> dict:
        """The manifest's ``build`` figures."""
        return {
            "new_papers": self.new_papers,
            "embedded": self.embedded,
            "reused_from_index": self.reused,
            "from_cache": self.cached,
            "skipped_records": len(self.problems),
            **({"ray": self.ray} if self.ray else {}),
        }

    def to_dict(self) -> dict:
        return {
            "index": str(self.index_dir),
            "version": self.version,
            "papers": self.papers,
            **self.manifest_section(),
            "duplicates": self.duplicates,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "topics": self.topics,
        }


@dataclass
class Options:
    model: str | Path | None = None
    backend: str = "auto"  # see engine.embed.BACKENDS
    embed_chunk: int = EMBED_CHUNK  # texts embedded (and committed to the cache) at a time
    index_type: str = "auto"  # flat, hnsw or ivf; auto: by size (see vectors.choose_type)
    use_cache: bool = True
    progress: bool = True
    topics: bool = True
    topic_params: TopicParams = field(default_factory=TopicParams)
    embedder: Embedder | None = None  # an already loaded embedder (tests, long-lived processes)
    ray: RayPlan | None = None  # embed in a Ray actor pool and build the index from shards


def build(inputs: Sequence[str | Path], index_dir: str | Path, options: Options | None = None) -> BuildReport:
    """Build a new version of ``index_dir`` holding exactly the papers in ``inputs``."""
    options = options or Options()
    report, papers = _parse(inputs, Path(index_dir))
    if not papers:
        raise BuildError(f"no valid papers in {', '.join(map(str, inputs))} ({len(report.problems)} records skipped)")
    report.new_papers = len(papers)
    with store.writer_lock(report.index_dir), ExitStack() as scratch:
        previous = _open_live(report.index_dir)
        shard_dir = None
        if options.ray:
            from engine import ray_embed

            scratch.enter_context(ray_embed.session(options.ray))  # one Ray for embedding and index parts
            shard_dir = scratch.enter_context(store.scratch_dir(report.index_dir, "shards"))
        try:
            embedder = options.embedder or load_embedder(options.model, options.backend)
            done = _vectorize(papers, embedder, previous, options, report, shard_dir)
            result = None
            if options.topics:
                tick = time.perf_counter()
                before = topic_stage.previous_topics(previous, papers) if previous else None
                result = topic_stage.fit_topics(papers, done.vectors, embedder.embed, options.topic_params, before)
                report.seconds["topics"] = time.perf_counter() - tick
            _publish(report, papers, done.vectors, done.hashes, embedder, result, inputs, options, shard_dir)
        finally:
            if previous is not None:
                previous.close()
    return report


def add(inputs: Sequence[str | Path], index_dir: str | Path, options: Options | None = None) -> BuildReport:
    """Merge ``inputs`` into the live version: new ids are appended, a newer copy of a
    known paper replaces it, and only new or changed texts are embedded. The live
    version's files are extended, not rebuilt (see :mod:`engine.update`)."""
    from engine import update

    options = options or Options()
    report, parsed = _parse(inputs, Path(index_dir))
    with store.writer_lock(report.index_dir):
        previous = store.Artifact.open(report.index_dir)
        try:
            changes = update.plan(previous, parsed)
            report.new_papers = len(changes.appended)
            if not changes.rewritten and not changes.appended:  # nothing new: no new version
                store.remove_leftovers(report.index_dir)  # but tidy up as any writer does
                report.version, report.papers = previous.path.name, changes.existing
                report.reused = changes.existing
                report.seconds["total"] = time.perf_counter() - report.started
                return report
            embedder = options.embedder or _embedder_for(previous.manifest, options)
            writer, sections = update.grow(previous, changes, embedder, options, report)
            try:
                tick = time.perf_counter()
                manifest = update.manifest_after(previous.manifest, sections, report, inputs, library_versions())
                final = writer.publish(manifest)
                report.seconds["publish"] = time.perf_counter() - tick
            except BaseException:
                writer.abandon()
                raise
        finally:
            previous.close()
    report.version = final.name
    report.topics = sections["topics"]
    report.seconds["total"] = time.perf_counter() - report.started
    return report


def refit(index_dir: str | Path, options: Options | None = None) -> BuildReport:
    """Fit topics anew over the live version's papers and vectors; topic ids are kept
    where topics match, and the manifest records what was split, merged, born or gone."""
    options = options or Options()
    report = BuildReport(Path(index_dir))
    with store.writer_lock(report.index_dir):
        previous = store.Artifact.open(report.index_dir)
        try:
            papers = [paper for _, paper, _ in previous.all_papers()]
            matrix = np.asarray(previous.vectors, dtype=np.float32)
            embedder = options.embedder or _embedder_for(previous.manifest, options)
            before = topic_stage.previous_topics(previous, papers)
            result = topic_stage.fit_topics(papers, matrix, embedder.embed, options.topic_params, before)
            report.seconds["topics"] = time.perf_counter() - report.started
            writer = store.VersionWriter(report.index_dir)
            try:
                writer.reuse_files(previous.path, [store.PAPERS_DB, store.VECTORS, store.FAISS_INDEX])
                writer.write_topics(result.topics, result.fine, result.coarse, result.xy)
                manifest = dict(previous.manifest, created=_now(), topics=result.summary, libraries=library_versions())
                final = writer.publish(manifest)
            except BaseException:
                writer.abandon()
                raise
        finally:
            previous.close()
    report.version, report.papers, report.topics = final.name, len(papers), result.summary
    report.seconds["total"] = time.perf_counter() - report.started
    return report


def _parse(inputs: Sequence[str | Path], index_dir: Path) -> tuple[BuildReport, list[Paper]]:
    report = BuildReport(index_dir)
    parsed = read_papers(*inputs)
    report.seconds["parse"] = time.perf_counter() - report.started
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
    tick = time.perf_counter()
    known = reusable_vectors(previous, embedder)
    sink = _ShardSink(shard_dir) if shard_dir is not None else None
    done = vectorize(
        papers, embedder, known, options.use_cache, options.progress, options.embed_chunk, options.ray, sink
    )
    report.seconds["embed"] = time.perf_counter() - tick
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
    matrix: np.ndarray,
    hashes: list[str],
    embedder: Embedder,
    result: topic_stage.TopicResult | None,
    inputs: Sequence[str | Path],
    options: Options,
    shard_dir: Path | None = None,
) -> None:
    """Write every file of a new version and make it live."""
    writer = store.VersionWriter(report.index_dir)
    try:
        tick = time.perf_counter()
        kind = vectors.choose_type(len(matrix), options.index_type)
        seed = options.topic_params.seed
        if kind == "ivf" and shard_dir is not None:  # trained once, built per shard, merged on disk
            from engine.ray_embed import build_ivf_parts

            index, spec = vectors.ivf_from_shards(
                shard_dir, matrix, writer.file(store.FAISS_INDEX), seed, build_parts=build_ivf_parts
            )
        else:
            index, spec = vectors.build_index(matrix, kind, seed=seed)
            vectors.save_index(index, writer.file(store.FAISS_INDEX))
        del index  # an on-disk merged index holds its lists file open
        spec["requested"] = options.index_type
        report.seconds["index"] = time.perf_counter() - tick
        tick = time.perf_counter()
        writer.write_vectors(matrix)
        writer.write_papers(papers, hashes)
        if result is not None:
            writer.write_topics(result.topics, result.fine, result.coarse, result.xy)
        report.papers = len(papers)
        report.topics = result.summary if result is not None else None
        final = writer.publish(_manifest(describe(embedder, matrix.shape[1]), spec, report, inputs))
        report.seconds["write"] = time.perf_counter() - tick
    except BaseException:
        writer.abandon()
        raise
    report.version = final.name
    report.seconds["total"] = time.perf_counter() - report.started


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _manifest(model_info: dict, spec: dict, report: BuildReport, inputs: Sequence[str | Path]) -> dict:
    return {
        "created": _now(),
        "model": model_info,
        "counts": {"papers": report.papers},
        "index": spec,
        "inputs": [str(Path(p)) for p in inputs],
        "build": report.manifest_section(),
        "topics": report.topics,
        "libraries": library_versions(),
    }


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in (
        "paperscope",
        "numpy",
        "faiss-cpu",
        "torch",
        "sentence-transformers",
        "onnxruntime",
        "tokenizers",
        "model2vec",
        "umap-learn",
        "hdbscan",
        "igraph",
    ):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
