"""Sentence vectors (opt-in, ``build --sentences``): one vector per sentence of every
paper (its title, then each sentence of its abstract, split by ``engine.text.sentences``),
stored beside the paper vectors for late-interaction related papers.

Two files in a version folder, both listed (and checksummed) in its manifest:

    sentences.npy          float16 [m, d], unit norm, memory-mapped on read
    sentence-offsets.npy   int64 [n + 1]: paper ``row``'s sentences are rows
                           offsets[row] .. offsets[row + 1] of sentences.npy

float16 halves the disk (6 KB a paper at 7.8 sentences and 384 dimensions; a cosine
of unit vectors moves by well under 0.01, far below the gaps late interaction ranks
by). Every paper has at least one sentence (its title), so a slice is never empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import IndexCorrupt

SENTENCE_VECTORS = "sentences.npy"
SENTENCE_OFFSETS = "sentence-offsets.npy"
FILES = (SENTENCE_VECTORS, SENTENCE_OFFSETS)
DTYPE = np.float16
COPY_ROWS = 262_144  # sentence vectors copied per block when a version extends another


@dataclass
class SentenceVectors:
    matrix: np.ndarray  # float16 [m, d], memory-mapped
    offsets: np.ndarray  # int64 [n + 1]

    @classmethod
    def open(cls, version: Path, papers: int, dimension: int) -> SentenceVectors:
        try:
            matrix = np.load(version / SENTENCE_VECTORS, mmap_mode="r", allow_pickle=False)
            offsets = np.load(version / SENTENCE_OFFSETS, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"{version / SENTENCE_VECTORS}: unreadable ({exc})") from exc
        problem = shape_problem(matrix, offsets, papers, dimension)
        if problem:
            raise IndexCorrupt(f"{version / SENTENCE_VECTORS}: {problem}")
        return cls(matrix, offsets)

    def of_rows(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The sentence vectors of ``rows`` (float32, stacked in order) and where each
        paper's block starts in them."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, stops = self.offsets[rows], self.offsets[rows + 1]
        blocks = [np.asarray(self.matrix[a:b], dtype=np.float32) for a, b in zip(starts, stops, strict=True)]
        if not blocks:
            return np.zeros((0, self.matrix.shape[1]), np.float32), np.zeros(0, np.int64)
        counts = stops - starts
        return np.concatenate(blocks), np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def shape_problem(matrix: np.ndarray, offsets: np.ndarray, papers: int, dimension: int) -> str | None:
    """What is wrong with a pair of sentence arrays for an index of ``papers`` rows (None: nothing)."""
    if offsets.dtype != np.int64 or offsets.shape != (papers + 1,):
        return f"offsets are {offsets.dtype} {offsets.shape}, expected int64 ({papers + 1},)"
    if matrix.dtype != DTYPE or matrix.ndim != 2 or matrix.shape[1] != dimension:
        return f"vectors are {matrix.dtype} {matrix.shape}, expected float16 (m, {dimension})"
    if offsets[0] != 0 or offsets[-1] != len(matrix):
        return f"offsets run {offsets[0]}..{offsets[-1]}, expected 0..{len(matrix)}"
    if papers and np.any(np.diff(offsets) < 1):
        return f"paper row {int(np.argmax(np.diff(offsets) < 1))} has no sentence"
    return None


def summary(count: int, papers: int) -> dict:
    """The manifest's ``sentences`` section (its presence says the files exist)."""
    return {"count": int(count), "per_paper": round(count / max(papers, 1), 2), "dtype": "float16"}


def offsets_for(counts: Sequence[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))]).astype(np.int64)


def write(folder: Path, matrix: np.ndarray, offsets: np.ndarray) -> None:
    np.save(folder / SENTENCE_VECTORS, np.ascontiguousarray(matrix, dtype=DTYPE), allow_pickle=False)
    np.save(folder / SENTENCE_OFFSETS, np.asarray(offsets, dtype=np.int64), allow_pickle=False)


def extend(old: SentenceVectors, folder: Path, total: int, fresh: dict[int, np.ndarray]) -> int:
    """Write into ``folder`` the sentence vectors of an index grown to ``total`` rows:
    ``old``'s blocks, except rows in ``fresh`` (row -> its new block), which are
    rewritten or appended. Copied through a memory map in blocks (bounded memory).
    Returns how many sentence vectors it wrote."""
    old_rows = len(old.offsets) - 1
    counts = np.zeros(total, dtype=np.int64)
    counts[:old_rows] = np.diff(old.offsets)
    for row, block in fresh.items():
        counts[row] = len(block)
    offsets = offsets_for(counts)
    out = np.lib.format.open_memmap(
        folder / SENTENCE_VECTORS, mode="w+", dtype=DTYPE, shape=(int(offsets[-1]), old.matrix.shape[1])
    )
    start = 0
    for row in sorted(set(fresh) | {old_rows}):  # each run of unchanged rows, then a fresh block
        stop = min(row, old_rows)
        if stop > start:
            _copy(old.matrix[old.offsets[start] : old.offsets[stop]], out, offsets[start])
        if row in fresh:
            out[offsets[row] : offsets[row + 1]] = fresh[row]
        start = max(start, row + 1)
    out.flush()
    del out
    np.save(folder / SENTENCE_OFFSETS, offsets, allow_pickle=False)
    return int(offsets[-1])


def _copy(source: np.ndarray, out: np.ndarray, at: int) -> None:
    for begin in range(0, len(source), COPY_ROWS):
        block = source[begin : begin + COPY_ROWS]
        out[at + begin : at + begin + len(block)] = block


def check(version: Path, papers: int, dimension: int) -> list[str]:
    """``verify``'s reading of the sentence files: shapes, offsets, finite unit vectors."""
    try:
        found = SentenceVectors.open(version, papers, dimension)
    except IndexCorrupt as exc:
        return [str(exc)]
    for start in range(0, len(found.matrix), COPY_ROWS):
        block = np.asarray(found.matrix[start : start + COPY_ROWS], dtype=np.float32)
        if not np.isfinite(block).all():
            return [f"{version / SENTENCE_VECTORS}: non-finite values near row {start}"]
        norms = np.linalg.norm(block, axis=1)
        bad = ~((np.abs(norms - 1) < 1e-2) | (norms == 0))  # float16: ~3 significant digits
        if bad.any():
            return [f"{version / SENTENCE_VECTORS}: row {start + int(np.argmax(bad))} is not unit length"]
    return []
