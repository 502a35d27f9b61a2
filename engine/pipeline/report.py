"""What a pipeline run is asked to do (:class:`Options`) and what it tells afterwards
(:class:`BuildReport`, written into the manifest and printed by the CLI)."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from engine.papers import Problem
from engine.pipeline.vectorize import EMBED_CHUNK
from engine.progress import timed
from engine.topics.fit import TopicParams

if TYPE_CHECKING:
    from engine.embedding.embedder import Embedder
    from engine.embedding.ray_embed import RayPlan

# The libraries whose versions every manifest records (what built the index).
RECORDED_LIBRARIES = (
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
)


@dataclass
class BuildReport:
    """What a run did. The counts add up: of the ``read`` papers (after duplicates in
    the inputs were merged), ``new_papers + replaced + unchanged == read``; and every
    paper of the version got its vector one way, ``embedded + cached + reused == papers``."""

    index_dir: Path
    version: str = ""
    papers: int = 0  # in the version written (or kept)
    read: int = 0  # distinct papers read from the inputs
    new_papers: int = 0  # read, and not in the live version before
    replaced: int = 0  # read, and written over an indexed copy (a newer version of it)
    unchanged: int = 0  # read, and already indexed as they are (or an older copy)
    embedded: int = 0  # vectors computed by the model
    reused: int = 0  # vectors kept from the live version
    cached: int = 0  # vectors from the embedding cache
    duplicates: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    topics: dict | None = None
    ray: dict | None = None  # the Ray pipeline's figures, when it ran
    started: float = field(default_factory=time.perf_counter, repr=False)

    def stage(self, name: str):
        """Time a stage of this run into ``seconds[name]`` (see :func:`engine.progress.timed`)."""
        return timed(self.seconds, name)

    def finish(self) -> BuildReport:
        """Record the run's total wall time; returns the report."""
        self.seconds["total"] = time.perf_counter() - self.started
        return self

    def manifest_section(self) -> dict:
        """The manifest's ``build`` figures."""
        return {
            "read": self.read,
            "new_papers": self.new_papers,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
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
    backend: str = "auto"  # see engine.embedding.embedder.BACKENDS
    embed_chunk: int = EMBED_CHUNK  # texts embedded (and committed to the cache) at a time
    index_type: str = "auto"  # flat, hnsw or ivf; auto: by size (see vectors.choose_type)
    use_cache: bool = True
    progress: bool = True
    topics: bool = True
    sentences: bool = False  # also embed each sentence, for late-interaction related papers
    topic_params: TopicParams = field(default_factory=TopicParams)
    embedder: Embedder | None = None  # an already loaded embedder (tests, long-lived processes)
    ray: RayPlan | None = None  # embed in a Ray actor pool and build the index from shards


def now() -> str:
    """The time a manifest records (UTC, to the second)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in RECORDED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
