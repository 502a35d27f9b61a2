"""The IVF index of a ``build --ray``, built by Ray tasks: each embedding shard is
added to its own copy of the trained index on whichever node has room, and the driver
merges the copies on disk (:meth:`engine.artifact.vectors.IVFIndex.from_shards`). Runs
inside the Ray session the embedding stage started (:func:`engine.embedding.ray_embed.session`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.artifact import shards

if TYPE_CHECKING:
    import faiss


def build_ivf_parts(trained: faiss.Index, paths: Sequence[Path], folder: Path, in_flight: int = 4) -> list[Path]:
    """Per-shard IVF indexes built by Ray tasks, on whichever nodes have room: each
    task gets the empty trained index and one shard's rows and vectors through the
    object store and returns its index serialized (FAISS's file format), which the
    driver writes for the on-disk merge. At most ``in_flight`` shards are out at a
    time, so the object store never holds the whole collection."""
    import faiss
    import ray

    trained_ref = ray.put(faiss.serialize_index(trained))
    build_part = ray.remote(num_cpus=0.5)(_ivf_part)
    targets = [folder / f"{p.stem}.ivf" for p in paths]
    pending: dict = {}
    for path, target in zip(paths, targets, strict=True):
        if len(pending) >= in_flight:
            _write_finished(pending, ray)
        rows, vectors = shards.read_shard(path)
        pending[build_part.remote(trained_ref, rows, vectors)] = target
    while pending:
        _write_finished(pending, ray)
    return targets


def _ivf_part(trained_bytes: np.ndarray, rows: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    import faiss

    return faiss.serialize_index(shards.filled_copy(faiss.deserialize_index(trained_bytes), rows, vectors))


def _write_finished(pending: dict, ray) -> None:
    done, _ = ray.wait(list(pending), num_returns=1)
    for ref in done:
        pending.pop(ref).write_bytes(ray.get(ref).tobytes())
