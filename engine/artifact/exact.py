"""Exact scores from the full vectors: the rows of ``vectors.npy`` read one by one
(:class:`RowReader`), candidates re-ranked exactly, and exact search within a few rows."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.errors import IndexCorrupt


class RowReader:
    """Rows of a float32 ``.npy`` file read with ``pread``: re-ranking touches a few dozen
    rows per query, and a memory map would fault in whole neighbourhoods of pages
    (kernel fault-around), growing RSS toward the file's size over many queries."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise IndexCorrupt(f"{path}: unsupported .npy format version {version}")
            self._offset = handle.tell()
        if dtype != np.float32 or fortran or len(shape) != 2:
            raise IndexCorrupt(f"{path}: expected a C-ordered float32 matrix, found {dtype} {shape}")
        self.shape = shape
        self._row_bytes = shape[1] * 4
        self._file = open(path, "rb")  # noqa: SIM115 - held for the reader's life; closed with it or by GC

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        for i, row in enumerate(rows):
            data = os.pread(self._file.fileno(), self._row_bytes, self._offset + int(row) * self._row_bytes)
            out[i] = np.frombuffer(data, dtype=np.float32)
        return out

    def close(self) -> None:
        self._file.close()


def rerank(matrix, queries: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of each query's candidate rows by exact inner product."""
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    rows = np.full((len(queries), k), -1, dtype=np.int64)
    for i, found in enumerate(candidates):
        found = found[found >= 0]
        exact = np.asarray(matrix[np.sort(found)], dtype=np.float32) @ queries[i]
        order = np.argsort(-exact, kind="stable")[:k]
        rows[i, : len(order)] = np.sort(found)[order]
        scores[i, : len(order)] = exact[order]
    return scores, rows


def exact_within(matrix: np.ndarray, queries: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact top ``k`` within the ``allowed`` rows."""
    allowed = np.sort(allowed)
    sims = queries @ np.asarray(matrix[allowed], dtype=np.float32).T
    k = min(k, len(allowed))
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, top, axis=1), allowed[top]
