"""FAISS: index choice, build with measured recall, save, load and search.

Rows of the FAISS index are the rows of ``vectors.npy`` and the ``row`` column of the
papers table, so no id map is needed. Vectors are unit norm, so inner product is
cosine similarity.

Up to ``FLAT_MAX`` papers the index is exact (Flat); up to ``HNSW_MAX`` an HNSW graph;
beyond, IVF with 8-bit codes. An ANN index is built and
its search parameter tuned on a held-out sample of the collection's own vectors until
recall@10 against exact search reaches ``TARGET_RECALL``; the recall measured goes
into the manifest. ``hnsw`` keeps full vectors in a graph; ``ivf`` stores 8-bit scalar
quantized codes (4x smaller) in 4*sqrt(n) lists and re-ranks its candidates exactly
from the memory-mapped ``vectors.npy``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from engine import shards
from engine.errors import IndexCorrupt, QueryError
from engine.shards import IVF_DATA, quiet_stdout

INDEX_TYPES = ("auto", "flat", "hnsw", "ivf")
# Measured by benchmarks/search_scale.py on this machine: exact search is bound by memory
# bandwidth (87k papers: 12.8 ms per query, ~0.15 ms per 1k papers), HNSW answers in
# 0.1 ms at recall 0.97 but keeps every vector in RAM (~1.8 kB per paper with its graph),
# IVF-SQ8 needs ~0.4 kB per paper in RAM and re-ranks from the memory-mapped vectors.
FLAT_MAX = 20_000  # exact up to here: ~3 ms per query
HNSW_MAX = 400_000  # graph up to here: ~0.7 GB; IVF-SQ8 beyond, to stay under 1 GB at 1M
TARGET_RECALL = 0.95
TUNING_QUERIES = 500
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
EF_STEPS = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
NPROBE_STEPS = (1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
RERANK_FACTOR = 4  # ivf: candidates re-ranked exactly per result wanted
EXACT_FILTER_MAX = 100_000  # a filter allowing at most this many rows is searched exactly
# extend_index rebuilds rather than extends when the collection has doubled since the
# build (IVF lists and tuned search depths were sized for the old size), or when more
# than this share of an HNSW graph's vectors were rewritten in place (its links were
# made for the old vectors).
REBUILD_GROWTH = 2.0
REBUILD_REWRITTEN_SHARE = 0.1
MOVED_FAR = 0.9  # cosine between a rewritten paper's old and new vector below which HNSW rebuilds


def choose_type(n: int, requested: str = "auto") -> str:
    if requested not in INDEX_TYPES:
        raise QueryError(f"index type must be one of {', '.join(INDEX_TYPES)}, not {requested!r}")
    if requested != "auto":
        return requested
    if n <= FLAT_MAX:
        return "flat"
    return "hnsw" if n <= HNSW_MAX else "ivf"


def build_index(matrix: np.ndarray, kind: str = "flat", seed: int = 42) -> tuple[faiss.Index, dict]:
    """The index over ``matrix`` (float32 ``[n, d]``) and its manifest spec."""
    index, spec = _build(np.ascontiguousarray(matrix, dtype=np.float32), kind, seed)
    return index, {**spec, "built_rows": len(matrix)}


def extend_index(
    index: faiss.Index, spec: dict, matrix: np.ndarray, rewritten: np.ndarray, requested: str = "auto", seed: int = 42
) -> tuple[faiss.Index, dict]:
    """``index`` (over the first ``index.ntotal`` rows of ``matrix``) brought up to all of
    ``matrix``: the rows past ``ntotal`` are added and the ``rewritten`` rows (papers
    whose text changed) take their new vectors. Rebuilt instead when the type the
    collection now calls for differs, or when extending would degrade it (see
    ``REBUILD_GROWTH``); a day's papers cost milliseconds instead of a rebuild."""
    n, first_new = len(matrix), index.ntotal
    kind = spec.get("type", "flat")
    requested = spec.get("requested", "auto") if requested == "auto" else requested
    rewritten = np.unique(np.asarray(rewritten, dtype=np.int64))
    if _needs_rebuild(index, spec, matrix, rewritten, requested):
        index, spec = build_index(matrix, choose_type(n, requested), seed)
        return index, {**spec, "requested": requested}
    new = np.ascontiguousarray(matrix[first_new:], dtype=np.float32)
    if kind == "ivf":  # lists hold explicit ids: move the rewritten rows, append the rest
        if len(rewritten):
            index.remove_ids(faiss.IDSelectorBatch(len(rewritten), faiss.swig_ptr(rewritten)))
            index.add_with_ids(np.ascontiguousarray(matrix[rewritten], dtype=np.float32), rewritten)
        index.add_with_ids(new, np.arange(first_new, n, dtype=np.int64))
    else:  # flat and HNSW keep full vectors by row: overwrite in place, then append
        if len(rewritten):
            _stored_vectors(index, kind)[rewritten] = matrix[rewritten]
        index.add(new)
    drift = spec.get("rewritten_in_place", 0) + (len(rewritten) if kind == "hnsw" else 0)
    return index, {**spec, "requested": requested, "rewritten_in_place": drift}


def _stored_vectors(index: faiss.Index, kind: str) -> np.ndarray:
    """The full vectors a flat or HNSW index keeps, as a writable view of its memory."""
    storage = faiss.downcast_index(index.storage if kind == "hnsw" else index)
    return faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * storage.d).reshape(storage.ntotal, storage.d)


def _needs_rebuild(index: faiss.Index, spec: dict, matrix: np.ndarray, rewritten: np.ndarray, requested: str) -> bool:
    """Whether extending ``index`` would leave it worse than a rebuild: the collection
    now calls for another type; an ANN index has outgrown what it was sized and tuned
    for; or an HNSW graph would route by links made for vectors that have moved (a
    rewritten vector far from its old place is unreachable through its old links)."""
    kind, n = spec.get("type", "flat"), len(matrix)
    if choose_type(n, requested) != kind:
        return True
    if kind == "flat":
        return False
    if n > REBUILD_GROWTH * spec.get("built_rows", index.ntotal):
        return True
    if kind == "hnsw" and len(rewritten):
        old = _stored_vectors(index, kind)[rewritten]
        moved_far = np.einsum("ij,ij->i", old, np.asarray(matrix[rewritten], dtype=np.float32)) < MOVED_FAR
        drift = spec.get("rewritten_in_place", 0) + len(rewritten)
        return bool(moved_far.any()) or drift > REBUILD_REWRITTEN_SHARE * n
    return False


def _build(matrix: np.ndarray, kind: str, seed: int) -> tuple[faiss.Index, dict]:
    n, d = matrix.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
        index.add(matrix)
        return index, {"type": "flat", "metric": "inner_product", "faiss": "IndexFlatIP", "recall_at_10": 1.0}
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.add(matrix)
        spec = {"type": "hnsw", "metric": "inner_product", "faiss": "IndexHNSWFlat", "M": HNSW_M}
        return index, _tune(index, matrix, spec, "efSearch", EF_STEPS, seed)
    if kind == "ivf":
        rng = np.random.default_rng(seed)
        index = trained_ivf(matrix[rng.choice(n, size=_training_size(n), replace=False)], n, seed)
        index.add(matrix)
        return index, _tune(index, matrix, _ivf_spec(index.nlist), "nprobe", NPROBE_STEPS, seed)
    raise QueryError(f"unknown index type {kind!r}")


def _nlist(n: int) -> int:
    return max(1, min(int(4 * math.sqrt(n)), n // 39 or 1))  # FAISS wants >= 39 points per list


def _training_size(n: int) -> int:
    return min(n, 256 * _nlist(n), 200_000)


def _ivf_spec(nlist: int) -> dict:
    return {
        "type": "ivf",
        "metric": "inner_product",
        "faiss": "IndexIVFScalarQuantizer(SQ8)",
        "nlist": nlist,
        "rerank_factor": RERANK_FACTOR,
    }


def trained_ivf(sample: np.ndarray, n: int, seed: int) -> faiss.Index:
    """An empty IVF-SQ8 index for ``n`` vectors, its lists and quantizer trained on ``sample``."""
    d = sample.shape[1]
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(d), d, _nlist(n), faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    index.cp.seed = seed
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    return index


def ivf_from_shards(
    shard_dir: Path, matrix: np.ndarray, index_path: Path, seed: int = 42, build_parts: Callable | None = None
) -> tuple[faiss.Index, dict]:
    """An IVF index built the way a cluster builds one: trained once on a sample drawn
    across the embedding shards, each shard added to its own copy of the trained
    index (here, or by ``build_parts(trained, shard_paths, folder)``, e.g. Ray tasks on
    a cluster's nodes), the copies merged on disk into ``index_path`` (+ ``faiss.ivfdata``).
    ``matrix`` (the same vectors by row, may be memory-mapped) only tunes ``nprobe``."""
    paths = shards.shard_paths(shard_dir)
    n = len(matrix)
    trained = trained_ivf(shards.sample_rows(paths, _training_size(n), seed), n, seed)
    if build_parts is None:
        parts = [shards.ivf_for_shard(trained, p, shard_dir / f"{p.stem}.ivf") for p in paths]
    else:
        parts = build_parts(trained, paths, shard_dir)
    merged = shards.merge_ivf(trained, parts, index_path)
    if merged.ntotal != n:
        raise IndexCorrupt(f"{shard_dir}: the shards hold {merged.ntotal} vectors, the collection {n}")
    spec = {
        **_ivf_spec(merged.nlist),
        "built_from_shards": len(paths),
        "parts_built_by": "this process" if build_parts is None else "ray tasks",
        "built_rows": n,
    }
    return merged, _tune(merged, matrix, spec, "nprobe", NPROBE_STEPS, seed)


def _tune(index: faiss.Index, matrix: np.ndarray, spec: dict, knob: str, steps, seed: int) -> dict:
    """The smallest setting of ``knob`` whose recall@10 (each query's own row excluded)
    reaches the target on a held-out sample; the largest one if none does."""
    rng = np.random.default_rng(seed + 1)
    rows = rng.choice(len(matrix), size=min(TUNING_QUERIES, len(matrix)), replace=False)
    queries = matrix[rows]
    exact = _exact_top(matrix, queries, 11)
    truth = [set(r[r != q][:10]) for r, q in zip(exact, rows, strict=True)]
    recall = 0.0
    for value in steps:
        configure(index, {**spec, knob: value})
        _, found = search(index, queries, 11, rerank_with=matrix, spec={**spec, knob: value})
        got = [set(f[(f != q) & (f >= 0)][:10]) for f, q in zip(found, rows, strict=True)]
        recall = float(np.mean([len(a & b) / max(len(a), 1) for a, b in zip(truth, got, strict=True)]))
        if recall >= TARGET_RECALL:
            break
    return {**spec, knob: value, "recall_at_10": round(recall, 4), "tuning_queries": len(rows)}


def _exact_top(matrix: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    exact = faiss.IndexFlatIP(matrix.shape[1])
    exact.add(matrix)
    return exact.search(queries, k)[1]


def configure(index: faiss.Index, spec: dict | None) -> None:
    """Apply the tuned search parameter recorded in the manifest."""
    if not spec:
        return
    if spec.get("type") == "hnsw":
        index.hnsw.efSearch = int(spec["efSearch"])
    elif spec.get("type") == "ivf":
        index.nprobe = int(spec["nprobe"])


def save_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_index(
    path: Path, expected_rows: int | None = None, spec: dict | None = None, writable: bool = False
) -> faiss.Index:
    try:
        if (path.parent / IVF_DATA).exists():  # merged from shards: lists in faiss.ivfdata beside it
            with quiet_stdout():
                index = faiss.read_index(str(path), faiss.IO_FLAG_ONDISK_SAME_DIR | faiss.IO_FLAG_READ_ONLY)
            if writable:
                _lists_to_memory(index)
        elif (spec or {}).get("type") == "ivf" and not writable:  # lists stay on disk, paged in on demand
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        else:
            index = faiss.read_index(str(path))
    except RuntimeError as exc:  # FAISS reports a damaged file as a RuntimeError
        raise IndexCorrupt(f"{path}: unreadable FAISS index ({str(exc).splitlines()[0]})") from exc
    if expected_rows is not None and index.ntotal != expected_rows:
        raise IndexCorrupt(f"{path}: {index.ntotal} vectors, the manifest says {expected_rows}")
    configure(index, spec)
    return index


def _lists_to_memory(index: faiss.Index) -> None:
    """Copy an on-disk IVF's lists into RAM, so ``add`` can grow them and write a
    self-contained index without touching the published ``faiss.ivfdata``."""
    ivf = faiss.extract_index_ivf(index)
    source = ivf.invlists
    memory = faiss.ArrayInvertedLists(ivf.nlist, ivf.code_size)
    for number in range(ivf.nlist):
        size = source.list_size(number)
        if size:
            memory.add_entries(number, size, source.get_ids(number), source.get_codes(number))
    ivf.replace_invlists(memory, True)
    memory.this.disown()  # the index owns it now


def search(
    index: faiss.Index,
    queries: np.ndarray,
    k: int,
    allowed: np.ndarray | None = None,
    rerank_with: np.ndarray | None = None,
    spec: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` rows per query: (scores ``[q, k]``, rows ``[q, k]``; -1 marks no hit).

    ``allowed`` restricts the answer to those rows: exactly over those rows when they
    are few (an ANN graph walk would miss them), else inside FAISS with an ID selector,
    so a selective filter still yields k results when k exist. ``rerank_with`` (the
    full vectors: an array, or a ``store.RowReader`` that reads only the rows asked
    for) turns an IVF-SQ8 candidate list into exact scores."""
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    kind = (spec or {}).get("type", "flat")
    k = max(1, min(k, index.ntotal)) if index.ntotal else 1
    if allowed is not None and kind != "flat" and rerank_with is not None and len(allowed) <= EXACT_FILTER_MAX:
        return _exact_within(rerank_with, queries, k, np.asarray(allowed, dtype=np.int64))
    params = None
    if allowed is not None:
        allowed = np.ascontiguousarray(allowed, dtype=np.int64)
        selector = faiss.IDSelectorBatch(len(allowed), faiss.swig_ptr(allowed))
        if kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(index.hnsw.efSearch, 2 * k))
        elif kind == "ivf":
            params = faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
        else:
            params = faiss.SearchParameters(sel=selector)
    if kind == "ivf" and rerank_with is not None:
        depth = min(index.ntotal, k * RERANK_FACTOR)
        _, candidates = index.search(queries, depth, params=params)
        return _rerank(rerank_with, queries, candidates, k)
    return index.search(queries, k, params=params)


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


def _rerank(matrix, queries: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    rows = np.full((len(queries), k), -1, dtype=np.int64)
    for i, found in enumerate(candidates):
        found = found[found >= 0]
        exact = np.asarray(matrix[np.sort(found)], dtype=np.float32) @ queries[i]
        order = np.argsort(-exact, kind="stable")[:k]
        rows[i, : len(order)] = np.sort(found)[order]
        scores[i, : len(order)] = exact[order]
    return scores, rows


def _exact_within(
    matrix: np.ndarray, queries: np.ndarray, k: int, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    allowed = np.sort(allowed)
    sims = queries @ np.asarray(matrix[allowed], dtype=np.float32).T
    k = min(k, len(allowed))
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, top, axis=1), allowed[top]
