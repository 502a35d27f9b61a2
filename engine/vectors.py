"""FAISS index build, save, load and search: plain functions, numpy in and out.

Rows of the FAISS index are the rows of ``vectors.npy`` and the ``row`` column of the
papers table, so no id map is needed. Vectors are unit norm, so inner product is
cosine similarity.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from engine.errors import IndexCorrupt


def index_spec(kind: str = "flat") -> dict:
    """How the index was built, for the manifest."""
    if kind != "flat":
        raise ValueError(f"unknown index type {kind!r}")
    return {"type": "flat", "metric": "inner_product", "faiss": "IndexFlatIP"}


def build_index(vectors: np.ndarray, spec: dict | None = None) -> faiss.Index:
    """An exact inner-product index over ``vectors`` (float32 ``[n, d]``)."""
    spec = spec or index_spec()
    if spec["type"] != "flat":
        raise ValueError(f"unknown index type {spec['type']!r}")
    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def save_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_index(path: Path, expected_rows: int | None = None) -> faiss.Index:
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:  # FAISS reports a damaged file as a RuntimeError
        raise IndexCorrupt(f"{path}: unreadable FAISS index ({str(exc).splitlines()[0]})") from exc
    if expected_rows is not None and index.ntotal != expected_rows:
        raise IndexCorrupt(f"{path}: {index.ntotal} vectors, the manifest says {expected_rows}")
    return index


def search(
    index: faiss.Index, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` rows per query: (scores ``[q, k]``, rows ``[q, k]``; -1 marks no hit).

    ``allowed`` restricts the answer to those rows inside FAISS (an ID selector), so a
    selective filter still yields k results when k exist."""
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    k = max(1, min(k, index.ntotal)) if index.ntotal else 1
    if allowed is None:
        return index.search(queries, k)
    allowed = np.ascontiguousarray(allowed, dtype=np.int64)
    selector = faiss.IDSelectorBatch(len(allowed), faiss.swig_ptr(allowed))
    return index.search(queries, k, params=faiss.SearchParameters(sel=selector))
