"""Embedding shards: the unit in which vectors travel from embedding workers to the
index build, and the per-shard IVF indexes that machines build and one merges.

A shard is one ``.npz`` file (``rows``: int64 row numbers of the collection,
``vectors``: float32 ``[n, d]``), written atomically (temporary name, fsync, rename)
so a reader never sees half of one; read with ``allow_pickle=False``.

IVF indexes build in parallel from shards: one machine trains the coarse quantizer
once on a sample, every worker adds its shards to a copy of that empty trained
index, and the per-shard indexes are merged with FAISS's on-disk merge into one
index whose inverted lists live in a ``.ivfdata`` file beside it, so the merge never
holds all codes in RAM.
"""

from __future__ import annotations

import ctypes
import os
import sys
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from engine.errors import IndexCorrupt
from engine.fsutil import atomic_file

SHARD_GLOB = "shard-*.npz"
IVF_DATA = "faiss.ivfdata"  # the merged inverted lists, beside faiss.index


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """FAISS reports on-disk list files with printf (on stdout: "resizing ...",
    "updating ondisk filename ..."); keep that out of ``--json`` output by pointing
    file descriptor 1 elsewhere meanwhile."""
    sys.stdout.flush()
    saved, sink = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(sink, 1)
    try:
        yield
    finally:
        ctypes.CDLL(None).fflush(None)  # C stdio's buffer goes to /dev/null, not to the restored stdout
        os.dup2(saved, 1)
        os.close(saved)
        os.close(sink)


def write_shard(folder: Path, number: int, rows: np.ndarray, vectors: np.ndarray) -> Path:
    """Write shard ``number`` of ``folder`` atomically; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"shard-{number:06d}.npz"
    with atomic_file(path) as handle:
        np.savez(handle, rows=np.asarray(rows, dtype=np.int64), vectors=np.asarray(vectors, dtype=np.float32))
    return path


def read_shard(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(rows, vectors) of one shard, checked for shape and type."""
    try:
        with np.load(path, allow_pickle=False) as data:
            rows, vectors = data["rows"], data["vectors"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise IndexCorrupt(f"{path}: unreadable embedding shard ({exc})") from exc
    if rows.dtype != np.int64 or vectors.dtype != np.float32 or vectors.ndim != 2 or len(rows) != len(vectors):
        raise IndexCorrupt(
            f"{path}: malformed shard (rows {rows.dtype}{rows.shape}, vectors {vectors.dtype}{vectors.shape})"
        )
    return rows, vectors


def shard_paths(folder: Path) -> list[Path]:
    return sorted(folder.glob(SHARD_GLOB))


def shard_length(path: Path) -> int:
    """Vectors in a shard, read from its row numbers only (the vectors stay on disk)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return len(data["rows"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise IndexCorrupt(f"{path}: unreadable embedding shard ({exc})") from exc


def sample_rows(paths: Sequence[Path], size: int, seed: int) -> np.ndarray:
    """About ``size`` vectors drawn uniformly from all shards (each shard contributes
    in proportion to its length), for training: one shard in memory at a time."""
    counts = [shard_length(p) for p in paths]
    total = sum(counts)
    rng = np.random.default_rng(seed)
    picked = []
    for path, count in zip(paths, counts, strict=True):
        take = round(size * count / max(total, 1))
        if take:
            _, vectors = read_shard(path)
            picked.append(vectors[rng.choice(count, size=min(take, count), replace=False)])
    return np.concatenate(picked) if picked else np.zeros((0, 0), np.float32)


def ivf_for_shard(trained: faiss.Index, shard: Path, out: Path) -> Path:
    """What one worker does: its shard's vectors added, under their collection rows,
    to a copy of the empty trained IVF index, written to ``out``."""
    faiss.write_index(filled_copy(trained, *read_shard(shard)), str(out))
    return out


def filled_copy(trained: faiss.Index, rows: np.ndarray, vectors: np.ndarray) -> faiss.Index:
    """A copy of the empty trained index holding ``vectors`` under ids ``rows``."""
    index = faiss.clone_index(trained)
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(rows, dtype=np.int64))
    return index


def merge_ivf(trained: faiss.Index, shard_indexes: Sequence[Path], index_path: Path) -> faiss.Index:
    """Merge per-shard IVF indexes (all copies of ``trained``) on disk: the inverted
    lists go to ``faiss.ivfdata`` beside ``index_path`` and are read with mmap, so
    the codes never all sit in RAM. Readers open it with ``IO_FLAG_ONDISK_SAME_DIR``."""
    from faiss.contrib.ondisk import merge_ondisk

    if trained.ntotal:
        raise ValueError("merge_ivf needs the empty trained index")
    merged = faiss.clone_index(trained)
    with quiet_stdout():
        merge_ondisk(merged, [str(p) for p in shard_indexes], str(index_path.parent / IVF_DATA))
    faiss.write_index(merged, str(index_path))
    return merged
