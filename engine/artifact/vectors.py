"""FAISS: :class:`VectorIndex`, the one owner of the FAISS index and its manifest spec.

Every index type's particulars (how it is built, tuned, searched with a filter, grown
and saved) live in one subclass each: :class:`FlatIndex`, :class:`HNSWIndex` and
:class:`IVFIndex`; callers build, load, extend and search through the base class.

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
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from engine.artifact import shards
from engine.artifact.exact import exact_within, rerank
from engine.artifact.shards import IVF_DATA, quiet_stdout
from engine.errors import BuildError, IndexCorrupt

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
    """The index type for ``n`` papers (``auto``: by the measured size limits above)."""
    if requested not in INDEX_TYPES:
        raise BuildError(f"index type must be one of {', '.join(INDEX_TYPES)}, not {requested!r}")
    if requested != "auto":
        return requested
    if n <= FLAT_MAX:
        return "flat"
    return "hnsw" if n <= HNSW_MAX else "ivf"


class VectorIndex:
    """A FAISS index over the collection's rows, with the spec the manifest records
    (type, tuned search parameter, measured recall, ...)."""

    kind = ""
    knob: str | None = None  # the tuned search parameter
    reads_rows = False  # re-ranks candidates from the full vectors, a few rows per query

    def __init__(self, index: faiss.Index, spec: dict) -> None:
        self.faiss, self.spec = index, spec
        self.configure()

    @staticmethod
    def type_for(kind: str) -> type[VectorIndex]:
        for cls in (FlatIndex, HNSWIndex, IVFIndex):
            if cls.kind == kind:
                return cls
        raise BuildError(f"unknown index type {kind!r}")

    @classmethod
    def build(cls, matrix: np.ndarray, kind: str = "flat", seed: int = 42) -> VectorIndex:
        """An index of type ``kind`` over ``matrix`` (float32 ``[n, d]``), tuned to the
        target recall on a sample of the collection's own vectors."""
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        built = VectorIndex.type_for(kind)._build(matrix, seed)
        built.spec["built_rows"] = len(matrix)
        return built

    @classmethod
    def load(
        cls, path: Path, expected_rows: int | None = None, spec: dict | None = None, writable: bool = False
    ) -> VectorIndex:
        """The index saved at ``path``; ``writable`` when it is to be extended."""
        spec = dict(spec or {"type": "flat"})
        on_disk = (path.parent / IVF_DATA).exists()  # an IVF merged from shards, whatever the spec says
        kind = IVFIndex if on_disk else VectorIndex.type_for(spec.get("type", "flat"))
        try:
            index = kind._read(path, writable)
        except RuntimeError as exc:  # FAISS reports a damaged file as a RuntimeError
            raise IndexCorrupt(f"{path}: unreadable FAISS index ({str(exc).splitlines()[0]})") from exc
        if expected_rows is not None and index.ntotal != expected_rows:
            raise IndexCorrupt(f"{path}: {index.ntotal} vectors, the manifest says {expected_rows}")
        return kind(index, spec)

    def __len__(self) -> int:
        return self.faiss.ntotal

    def save(self, path: Path) -> None:
        faiss.write_index(self.faiss, str(path))

    def configure(self) -> None:
        """Apply the tuned search parameter recorded in the spec."""

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None, rerank_with: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows per query: (scores ``[q, k]``, rows ``[q, k]``; -1 marks no hit).

        ``allowed`` restricts the answer to those rows: exactly over those rows when
        they are few and the full vectors are at hand (an ANN graph walk would miss
        them), else inside FAISS with an ID selector, so a selective filter still
        yields k results when k exist. ``rerank_with`` holds the full vectors by row
        (an array, or a :class:`RowReader` that reads only the rows asked for)."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, self.faiss.ntotal)) if self.faiss.ntotal else 1
        few = allowed is not None and len(allowed) <= EXACT_FILTER_MAX
        if few and self.kind != "flat" and rerank_with is not None:
            return exact_within(rerank_with, queries, k, np.asarray(allowed, dtype=np.int64))
        params = None
        if allowed is not None:
            allowed = np.ascontiguousarray(allowed, dtype=np.int64)
            params = self._params(faiss.IDSelectorBatch(len(allowed), faiss.swig_ptr(allowed)), k)
        return self._search(queries, k, params, rerank_with)

    def extend(self, matrix: np.ndarray, rewritten: np.ndarray, requested: str = "auto", seed: int = 42) -> VectorIndex:
        """This index (over the first ``len(self)`` rows of ``matrix``) brought up to all
        of ``matrix``: the rows past it are added and the ``rewritten`` rows (papers
        whose text changed) take their new vectors. Rebuilt instead when the type the
        collection now calls for differs, or when extending would degrade it (see
        ``REBUILD_GROWTH``); a day's papers cost milliseconds instead of a rebuild."""
        requested = self.spec.get("requested", "auto") if requested == "auto" else requested
        rewritten = np.unique(np.asarray(rewritten, dtype=np.int64))
        if self._needs_rebuild(matrix, rewritten, requested):
            rebuilt = VectorIndex.build(matrix, choose_type(len(matrix), requested), seed)
            rebuilt.spec["requested"] = requested
            return rebuilt
        new = np.ascontiguousarray(matrix[len(self) :], dtype=np.float32)
        self._grow(matrix, rewritten, new)
        self.spec["requested"] = requested
        self.spec.setdefault("rewritten_in_place", 0)
        return self

    # What each type says for itself.

    @classmethod
    def _build(cls, matrix: np.ndarray, seed: int) -> VectorIndex:
        raise NotImplementedError

    @classmethod
    def _read(cls, path: Path, writable: bool) -> faiss.Index:
        return faiss.read_index(str(path))

    def _params(self, selector, k: int):
        return faiss.SearchParameters(sel=selector)

    def _search(self, queries: np.ndarray, k: int, params, rerank_with) -> tuple[np.ndarray, np.ndarray]:
        return self.faiss.search(queries, k, params=params)

    def _needs_rebuild(self, matrix: np.ndarray, rewritten: np.ndarray, requested: str) -> bool:
        """The collection now calls for another type, or an ANN index has outgrown what
        it was sized and tuned for."""
        if choose_type(len(matrix), requested) != self.kind:
            return True
        return self.kind != "flat" and len(matrix) > REBUILD_GROWTH * self.spec.get("built_rows", len(self))

    def _grow(self, matrix: np.ndarray, rewritten: np.ndarray, new: np.ndarray) -> None:
        """Full vectors kept by row: overwrite the rewritten ones in place, then append."""
        if len(rewritten):
            self._stored_vectors()[rewritten] = matrix[rewritten]
        self.faiss.add(new)

    def _stored_vectors(self) -> np.ndarray:
        """The full vectors the index keeps, as a writable view of its memory."""
        storage = faiss.downcast_index(self.faiss)
        return faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * storage.d).reshape(storage.ntotal, storage.d)

    def _tune(self, matrix: np.ndarray, steps, seed: int) -> None:
        """Set the smallest value of ``knob`` whose recall@10 (each query's own row
        excluded) reaches the target on a held-out sample; the largest if none does."""
        rng = np.random.default_rng(seed + 1)
        rows = rng.choice(len(matrix), size=min(TUNING_QUERIES, len(matrix)), replace=False)
        queries = matrix[rows]
        exact = faiss.IndexFlatIP(matrix.shape[1])
        exact.add(np.ascontiguousarray(matrix, dtype=np.float32))
        truth = [set(r[r != q][:10]) for r, q in zip(exact.search(queries, 11)[1], rows, strict=True)]
        recall = 0.0
        for value in steps:
            self.spec[self.knob] = value
            self.configure()
            _, found = self.search(queries, 11, rerank_with=matrix)
            got = [set(f[(f != q) & (f >= 0)][:10]) for f, q in zip(found, rows, strict=True)]
            recall = float(np.mean([len(a & b) / max(len(a), 1) for a, b in zip(truth, got, strict=True)]))
            if recall >= TARGET_RECALL:
                break
        self.spec.update(recall_at_10=round(recall, 4), tuning_queries=len(rows))


class FlatIndex(VectorIndex):
    """Exact search: every query scans every vector."""

    kind = "flat"

    @classmethod
    def _build(cls, matrix: np.ndarray, seed: int) -> VectorIndex:
        index = faiss.IndexFlatIP(matrix.shape[1])
        index.add(matrix)
        return cls(index, {"type": "flat", "metric": "inner_product", "faiss": "IndexFlatIP", "recall_at_10": 1.0})


class HNSWIndex(VectorIndex):
    """A navigable graph over full vectors: fast, but every vector stays in RAM."""

    kind = "hnsw"
    knob = "efSearch"

    @classmethod
    def _build(cls, matrix: np.ndarray, seed: int) -> VectorIndex:
        index = faiss.IndexHNSWFlat(matrix.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.add(matrix)
        built = cls(index, {"type": "hnsw", "metric": "inner_product", "faiss": "IndexHNSWFlat", "M": HNSW_M})
        built._tune(matrix, EF_STEPS, seed)
        return built

    def configure(self) -> None:
        if self.knob in self.spec:
            self.faiss.hnsw.efSearch = int(self.spec[self.knob])

    def _params(self, selector, k: int):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.faiss.hnsw.efSearch, 2 * k))

    def _stored_vectors(self) -> np.ndarray:
        storage = faiss.downcast_index(self.faiss.storage)
        return faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * storage.d).reshape(storage.ntotal, storage.d)

    def _needs_rebuild(self, matrix: np.ndarray, rewritten: np.ndarray, requested: str) -> bool:
        """Also when the graph would route by links made for vectors that have moved: a
        rewritten vector far from its old place is unreachable through its old links."""
        if super()._needs_rebuild(matrix, rewritten, requested):
            return True
        if not len(rewritten):
            return False
        old = self._stored_vectors()[rewritten]
        moved_far = np.einsum("ij,ij->i", old, np.asarray(matrix[rewritten], dtype=np.float32)) < MOVED_FAR
        drift = self.spec.get("rewritten_in_place", 0) + len(rewritten)
        return bool(moved_far.any()) or drift > REBUILD_REWRITTEN_SHARE * len(matrix)

    def _grow(self, matrix: np.ndarray, rewritten: np.ndarray, new: np.ndarray) -> None:
        super()._grow(matrix, rewritten, new)
        self.spec["rewritten_in_place"] = self.spec.get("rewritten_in_place", 0) + len(rewritten)


class IVFIndex(VectorIndex):
    """Inverted lists of 8-bit codes (4x smaller than the vectors), candidates re-ranked
    exactly from the full vectors."""

    kind = "ivf"
    knob = "nprobe"
    reads_rows = True

    @classmethod
    def _build(cls, matrix: np.ndarray, seed: int) -> VectorIndex:
        n = len(matrix)
        rng = np.random.default_rng(seed)
        index = trained_ivf(matrix[rng.choice(n, size=_training_size(n), replace=False)], n, seed)
        index.add(matrix)
        built = cls(index, _ivf_spec(index.nlist))
        built._tune(matrix, NPROBE_STEPS, seed)
        return built

    @classmethod
    def from_shards(
        cls, shard_dir: Path, matrix: np.ndarray, index_path: Path, seed: int = 42, build_parts: Callable | None = None
    ) -> VectorIndex:
        """An IVF index built the way a cluster builds one: trained once on a sample drawn
        across the embedding shards, each shard added to its own copy of the trained
        index (here, or by ``build_parts(trained, shard_paths, folder)``, e.g. Ray tasks
        on a cluster's nodes), the copies merged on disk into ``index_path`` (+
        ``faiss.ivfdata``). ``matrix`` (the same vectors by row, may be memory-mapped)
        only tunes ``nprobe``."""
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
        built = cls(merged, spec)
        built._tune(matrix, NPROBE_STEPS, seed)
        return built

    @classmethod
    def _read(cls, path: Path, writable: bool) -> faiss.Index:
        if (path.parent / IVF_DATA).exists():  # merged from shards: lists in faiss.ivfdata beside it
            with quiet_stdout():
                index = faiss.read_index(str(path), faiss.IO_FLAG_ONDISK_SAME_DIR | faiss.IO_FLAG_READ_ONLY)
            if writable:
                _lists_to_memory(index)
            return index
        if not writable:  # lists stay on disk, paged in on demand
            return faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        return faiss.read_index(str(path))

    def configure(self) -> None:
        if self.knob in self.spec:
            self.faiss.nprobe = int(self.spec[self.knob])

    def _params(self, selector, k: int):
        return faiss.SearchParametersIVF(sel=selector, nprobe=self.faiss.nprobe)

    def _search(self, queries: np.ndarray, k: int, params, rerank_with) -> tuple[np.ndarray, np.ndarray]:
        if rerank_with is None:
            return self.faiss.search(queries, k, params=params)
        depth = min(self.faiss.ntotal, k * RERANK_FACTOR)
        _, candidates = self.faiss.search(queries, depth, params=params)
        return rerank(rerank_with, queries, candidates, k)

    def _grow(self, matrix: np.ndarray, rewritten: np.ndarray, new: np.ndarray) -> None:
        """Lists hold explicit ids: move the rewritten rows, append the rest."""
        if len(rewritten):
            self.faiss.remove_ids(faiss.IDSelectorBatch(len(rewritten), faiss.swig_ptr(rewritten)))
            self.faiss.add_with_ids(np.ascontiguousarray(matrix[rewritten], dtype=np.float32), rewritten)
        self.faiss.add_with_ids(new, np.arange(len(matrix) - len(new), len(matrix), dtype=np.int64))


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
