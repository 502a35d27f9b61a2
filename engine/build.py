"""Build and grow indexes: papers → vectors → a new published version.

``build`` writes a fresh index from inputs; ``add`` merges new inputs into the live
version. Both embed only what is new: vectors are reused from the live version (same
model and backend, same text) and from the embedding cache before the model runs.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from engine import store, vectors
from engine.cache import EmbeddingCache
from engine.embed import Embedder, describe, embedder_like, load_embedder, text_hash
from engine.errors import BuildError, IndexCorrupt, IndexNotFound
from engine.papers import Paper, Problem, deduplicate
from engine.progress import progress_bar
from engine.sources import read_papers

log = logging.getLogger(__name__)

EMBED_CHUNK = 512  # texts per model call: long enough to sort by length, short enough to show progress


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

    def to_dict(self) -> dict:
        return {
            "index": str(self.index_dir),
            "version": self.version,
            "papers": self.papers,
            "new_papers": self.new_papers,
            "embedded": self.embedded,
            "reused_from_index": self.reused,
            "from_cache": self.cached,
            "duplicates": self.duplicates,
            "skipped_records": len(self.problems),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


@dataclass
class Options:
    model: str | Path | None = None
    precision: str = "auto"
    use_cache: bool = True
    progress: bool = True
    embedder: Embedder | None = None  # an already loaded embedder (tests, long-lived processes)


def build(inputs: Sequence[str | Path], index_dir: str | Path, options: Options | None = None) -> BuildReport:
    """Build a new version of ``index_dir`` holding exactly the papers in ``inputs``."""
    options = options or Options()
    index_dir = Path(index_dir)
    report = BuildReport(index_dir)
    started = time.perf_counter()
    parsed = read_papers(*inputs)
    report.seconds["parse"] = time.perf_counter() - started
    report.problems, report.duplicates = parsed.problems, parsed.duplicates
    if not parsed.papers:
        raise BuildError(f"no valid papers in {', '.join(map(str, inputs))} ({parsed.summary()})")
    with store.writer_lock(index_dir):
        previous = _open_previous(index_dir)
        try:
            embedder = options.embedder or load_embedder(options.model, options.precision)
            known = _reusable_vectors(previous, embedder)
            report.new_papers = len(parsed.papers)
            _write_version(index_dir, parsed.papers, embedder, known, options, report, inputs)
        finally:
            if previous is not None:
                previous.close()
    report.seconds["total"] = time.perf_counter() - started
    return report


def add(inputs: Sequence[str | Path], index_dir: str | Path, options: Options | None = None) -> BuildReport:
    """Merge ``inputs`` into the live version: new ids are appended, a newer copy of a
    known paper replaces it, and only new or changed texts are embedded."""
    options = options or Options()
    index_dir = Path(index_dir)
    report = BuildReport(index_dir)
    started = time.perf_counter()
    parsed = read_papers(*inputs)
    report.seconds["parse"] = time.perf_counter() - started
    report.problems, report.duplicates = parsed.problems, parsed.duplicates
    with store.writer_lock(index_dir):
        previous = store.Artifact.open(index_dir)
        try:
            existing = [paper for _, paper, _ in previous.all_papers()]
            known_ids = {paper.id for paper in existing}
            merged = deduplicate([*existing, *parsed.papers])
            report.new_papers = sum(1 for paper in parsed.papers if paper.id not in known_ids)
            embedder = options.embedder or _embedder_for(previous.manifest, options)
            known = _reusable_vectors(previous, embedder)
            _write_version(index_dir, merged.papers, embedder, known, options, report, inputs)
        finally:
            previous.close()
    report.seconds["total"] = time.perf_counter() - started
    return report


def _open_previous(index_dir: Path) -> store.Artifact | None:
    try:
        return store.Artifact.open(index_dir)
    except IndexNotFound:
        return None
    except IndexCorrupt as exc:
        log.warning("not reusing vectors from the current version: %s", exc)
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


def _reusable_vectors(previous: store.Artifact | None, embedder: Embedder) -> dict[str, np.ndarray]:
    """Vectors of the live version by text hash, when made by the same model and backend."""
    if previous is None:
        return {}
    model = previous.manifest["model"]
    if model["fingerprint"] != embedder.model.fingerprint or model["backend"] != embedder.backend:
        return {}
    return {digest: previous.vectors[row] for row, _, digest in previous.all_papers()}


def embed_papers(
    papers: Sequence[Paper], embedder: Embedder, known: dict[str, np.ndarray], options: Options, report: BuildReport
) -> tuple[np.ndarray, list[str]]:
    """Vectors for ``papers`` in order, running the model only on texts not known
    from the index or the cache. Returns the vectors and the text hashes."""
    hashes = [text_hash(paper.text) for paper in papers]
    cache = EmbeddingCache(embedder.model.fingerprint, embedder.backend) if options.use_cache else None
    try:
        return _fill_vectors(papers, hashes, embedder, known, cache, options, report), hashes
    finally:
        if cache is not None:
            cache.close()


def _fill_vectors(
    papers: Sequence[Paper],
    hashes: list[str],
    embedder: Embedder,
    known: dict[str, np.ndarray],
    cache: EmbeddingCache | None,
    options: Options,
    report: BuildReport,
) -> np.ndarray:
    # Take the dimension from vectors we already have: when nothing needs embedding,
    # the model is never loaded.
    sample = next(iter(known.values()), None)
    dimension = (len(sample) if sample is not None else None) or (cache and cache.dimension()) or embedder.dimension
    out = np.empty((len(papers), dimension), dtype=np.float32)
    missing: list[int] = []
    for i, digest in enumerate(hashes):
        vector = known.get(digest)
        if vector is None:
            missing.append(i)
        else:
            out[i] = vector
    report.reused = len(papers) - len(missing)
    if cache is not None and missing:
        hits = cache.get_many([hashes[i] for i in missing], dimension)
        for i in missing:
            if hashes[i] in hits:
                out[i] = hits[hashes[i]]
        report.cached = len(hits)
        missing = [i for i in missing if hashes[i] not in hits]
    with progress_bar(len(missing), "embedding", enabled=options.progress) as advance:
        for start in range(0, len(missing), EMBED_CHUNK):
            chunk = missing[start : start + EMBED_CHUNK]
            vecs = embedder.embed([papers[i].text for i in chunk])
            out[chunk] = vecs
            if cache is not None:
                # Written chunk by chunk, so an interrupted build keeps what it paid for.
                cache.put_many(zip((hashes[i] for i in chunk), vecs, strict=True))
            advance(len(chunk))
    report.embedded = len(missing)
    return out


def _write_version(
    index_dir: Path,
    papers: Sequence[Paper],
    embedder: Embedder,
    known: dict[str, np.ndarray],
    options: Options,
    report: BuildReport,
    inputs: Sequence[str | Path],
) -> None:
    tick = time.perf_counter()
    matrix, hashes = embed_papers(papers, embedder, known, options, report)
    report.seconds["embed"] = time.perf_counter() - tick
    writer = store.VersionWriter(index_dir)
    try:
        tick = time.perf_counter()
        spec = vectors.index_spec("flat")
        vectors.save_index(vectors.build_index(matrix, spec), writer.file(store.FAISS_INDEX))
        report.seconds["index"] = time.perf_counter() - tick
        tick = time.perf_counter()
        writer.write_vectors(matrix)
        writer.write_papers(papers, hashes)
        manifest = _manifest(describe(embedder, matrix.shape[1]), spec, len(papers), report, inputs)
        final = writer.publish(manifest)
        report.seconds["write"] = time.perf_counter() - tick
    except BaseException:
        writer.abandon()
        raise
    report.version = final.name
    report.papers = len(papers)


def _manifest(model_info: dict, spec: dict, count: int, report: BuildReport, inputs: Sequence[str | Path]) -> dict:
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model_info,
        "counts": {"papers": count},
        "index": spec,
        "inputs": [str(Path(p)) for p in inputs],
        "build": {
            "new_papers": report.new_papers,
            "embedded": report.embedded,
            "reused_from_index": report.reused,
            "from_cache": report.cached,
            "skipped_records": len(report.problems),
        },
        "libraries": library_versions(),
    }


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("paperscope", "numpy", "faiss-cpu", "torch", "sentence-transformers", "transformers"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
