"""Topic clustering over stored vectors: parameters that adapt to corpus size, the
shared kNN graph, the outlier policy, assignment of new papers, and topic ids that
stay stable across refits. The clustering itself is pluggable (:mod:`engine.clusterers`).

Plain functions over numpy arrays; heavy imports (igraph, umap, hdbscan) happen only
inside :func:`fit`, so assigning new papers never loads them.

Outlier policy: papers a clusterer leaves as noise get the topic their nearest
clustered neighbours vote for, most confident first, until at most
``max_outlier_share`` of papers stay outliers (a target share, not a magic threshold).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import BuildError
from engine.progress import timed
from engine.topics import clusterers

log = logging.getLogger(__name__)

OUTLIER = -1
VOTE_NEIGHBOURS = 10
GRAPH_NEIGHBOURS = 30  # one kNN graph serves the clusterer, the outlier vote and the map
EXACT_KNN_LIMIT = 20_000  # beyond this many papers the kNN graph comes from an IVF index
# Queries searched at a time: whole multiples of FAISS's 4,096-query blocks, so a search
# in chunks gives exactly the results of one search of them all.
SEARCH_CHUNK = 5 * 4096
CLUSTERERS = ("graph", "umap-hdbscan")


@dataclass(frozen=True)
class TopicParams:
    """Clustering settings; None means "adapt to the corpus size" (see :func:`adapt`)."""

    seed: int = 42
    clusterer: str = "graph"
    n_neighbors: int | None = None
    n_components: int = 5
    min_cluster_size: int | None = None
    max_outlier_share: float = 0.05
    coarse_topics: int | None = None
    sample_size: int | None = None  # papers fitted at most; None: sampling.SAMPLE_LIMIT


def adapt(params: TopicParams, n: int) -> dict:
    """Concrete parameters for ``n`` papers, so the same command gives sensible topics
    for 63 papers and for 87,000. The graph clusterer links each paper to n/20 of its
    neighbours (5 to 25) and keeps topics of at least ~0.15·√n papers; UMAP's neighbourhood grows like √n up to 30, and HDBSCAN's
    smallest topic is ~0.3·√n papers (3 at 63 papers, 25 at 7,200, 88 at 87,000)."""
    if params.clusterer not in CLUSTERERS:
        raise BuildError(f"clusterer must be one of {', '.join(CLUSTERERS)}, not {params.clusterer!r}")
    root = float(np.sqrt(max(n, 1)))
    if params.clusterer == "graph":
        n_neighbors = params.n_neighbors or int(np.clip(n // 20, 5, 25))
    else:
        n_neighbors = params.n_neighbors or int(np.clip(round(root), 5, 30))
    return {
        "clusterer": params.clusterer,
        "seed": params.seed,
        "n_neighbors": max(2, min(n_neighbors, n - 1, GRAPH_NEIGHBOURS)),
        "n_components": min(params.n_components, max(2, n - 2)),
        "min_cluster_size": params.min_cluster_size or int(np.clip(round(0.3 * root), 3, 150)),
        # The graph clusterer's smallest topic: 2 papers at 63, 13 at 7,200, 44 at 87,000.
        "min_topic_size": int(np.clip(round(0.15 * root), 2, 50)),
        "max_outlier_share": params.max_outlier_share,
        "coarse_topics": params.coarse_topics,
    }


@dataclass
class Clustering:
    """Topics of every paper. ``fine[i]`` is paper i's fine topic (or -1), and
    ``parent[t]`` the coarse topic of fine topic t."""

    fine: np.ndarray
    parent: np.ndarray
    noise_share: float  # what the clusterer left as noise, before the outlier policy
    params: dict
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def coarse(self) -> np.ndarray:
        return coarse_of(self.fine, self.parent)

    @property
    def outlier_share(self) -> float:
        return float(np.mean(self.fine == OUTLIER)) if len(self.fine) else 0.0


def coarse_of(fine: np.ndarray, parent: np.ndarray) -> np.ndarray:
    safe = np.where(fine >= 0, fine, 0)
    return np.where(fine >= 0, parent[safe] if len(parent) else OUTLIER, OUTLIER).astype(np.int32)


def knn_index(data: np.ndarray, seed: int = 0):
    """A FAISS inner-product index over ``data`` (unit rows): exact up to
    ``EXACT_KNN_LIMIT`` rows, IVF (4·√n lists, 16 probed) beyond, where exact costs minutes."""
    import faiss

    n, dim = data.shape
    if n <= EXACT_KNN_LIMIT:
        index = faiss.IndexFlatIP(dim)
    else:
        lists = int(4 * np.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(seed).choice(n, min(n, 50 * lists), replace=False)
        index.train(data[np.sort(sample)])
        index.nprobe = 16
    index.add(data)
    return index


# A searcher: (index, chunks of queries, k) → (similarities, rows) per chunk, yielded in
# the chunks' order. The default searches here; engine.pipeline.ray_topics sends each
# chunk to a Ray task.
Searcher = Callable[[Any, Iterable[np.ndarray], int], Iterator[tuple[np.ndarray, np.ndarray]]]


def local_search(index, chunks: Iterable[np.ndarray], k: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The default searcher: each chunk of queries searched in this process, in turn."""
    for queries in chunks:
        yield index.search(queries, k)


def neighbours(
    vectors: np.ndarray,
    k: int,
    queries: np.ndarray | None = None,
    seed: int = 0,
    searcher: Searcher | None = None,
    chunk: int = SEARCH_CHUNK,
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine k-nearest neighbours (FAISS inner product on unit vectors, see
    :func:`knn_index`). Without ``queries`` each paper's own row is dropped from its
    list. Queries go to ``searcher`` (default :func:`local_search`) ``chunk`` rows at a
    time, which bounds each search's results. Returns (similarities, rows), -1 rows
    where fewer than k were found."""
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(data)
    index = knn_index(data, seed)
    self_query = queries is None
    q = data if self_query else np.ascontiguousarray(queries, dtype=np.float32)
    k_eff = min(k + int(self_query), n)
    width = min(k, k_eff - 1) if self_query else k_eff
    sims = np.empty((len(q), width), np.float32)
    rows = np.empty((len(q), width), np.int64)
    starts = range(0, len(q), chunk)
    found = (searcher or local_search)(index, (q[start : start + chunk] for start in starts), k_eff)
    for start, (chunk_sims, chunk_rows) in zip(starts, found, strict=True):
        stop = start + len(chunk_rows)
        if self_query:
            # Drop self from each row (nearly always first; exact duplicates may reorder).
            keep = chunk_rows != np.arange(start, stop)[:, None]
            mask = keep & (np.cumsum(keep, axis=1) <= k)
            chunk_rows = _compact(chunk_rows, mask, width, -1)
            chunk_sims = _compact(chunk_sims, mask, width, -np.inf)
        sims[start:stop], rows[start:stop] = chunk_sims, chunk_rows
    return sims, rows


def _compact(values: np.ndarray, mask: np.ndarray, width: int, fill: float) -> np.ndarray:
    """The masked entries of each row, left-aligned, padded with ``fill``."""
    out = np.full((len(values), width), fill, dtype=values.dtype)
    for i, (row, keep) in enumerate(zip(values, mask, strict=True)):
        picked = row[keep][:width]
        out[i, : len(picked)] = picked
    return out


def fit(vectors: np.ndarray, params: TopicParams | None = None, knn: tuple | None = None) -> Clustering:
    """Cluster ``vectors`` (unit norm) into fine topics and a coarse level.

    ``knn`` is the (similarities, rows) graph of :func:`neighbours` over the same
    vectors with ``GRAPH_NEIGHBOURS`` columns, when the caller already has it."""
    params = params or TopicParams()
    n = len(vectors)
    p = adapt(params, n)
    seconds: dict[str, float] = {}
    if n < max(10, 2 * p["min_cluster_size"]):
        # Too few papers to find two topics: one topic holds them all.
        return Clustering(np.zeros(n, dtype=np.int32), np.zeros(1 if n else 0, dtype=np.int32), 0.0, p, seconds)
    with timed(seconds, "knn"):
        sims, rows = knn if knn is not None else neighbours(vectors, GRAPH_NEIGHBOURS, seed=p["seed"])
    if p["clusterer"] == "graph":
        with timed(seconds, "cluster"):
            graph_rows = _fill_missing(rows[:, : p["n_neighbors"]])
            fine, parent = clusterers.graph_topics(graph_rows, p["seed"], p["min_topic_size"])
        noise_share = 0.0
    else:
        with timed(seconds, "umap+hdbscan"):
            labels, reduced = clusterers.umap_hdbscan_topics(vectors, sims, rows, p)
        noise_share = float(np.mean(labels < 0))
        if labels.max() < 0:  # all noise: one topic
            labels = np.zeros(n, dtype=np.int64)
        with timed(seconds, "outliers+hierarchy"):
            fine = clusterers.by_size(assign_outliers(labels, sims, rows, p["max_outlier_share"]))
            parent = clusterers.ward_parents(fine, reduced, p["coarse_topics"])
    return Clustering(fine, parent, noise_share, p, seconds)


def _fill_missing(rows: np.ndarray) -> np.ndarray:
    """kNN rows with no -1 (an approximate index can come up short): repeat the last."""
    if (rows >= 0).all():
        return rows
    out = rows.copy()
    for i in np.flatnonzero((rows < 0).any(axis=1)):
        found = rows[i][rows[i] >= 0]
        out[i] = np.resize(found, rows.shape[1]) if len(found) else i
    return out


def vote(
    labels: np.ndarray, sims: np.ndarray, rows: np.ndarray, k: int = VOTE_NEIGHBOURS
) -> tuple[np.ndarray, np.ndarray]:
    """For each row of a neighbour list: the topic its nearest labelled neighbours
    vote for (similarity-weighted; a tie goes to the smaller topic id) and a confidence
    (the winner's mean similarity, scaled by its share of the vote). Rows with no
    labelled neighbour get -1 and 0. Vectorized over rows: it runs for every paper of
    a corpus fitted on a sample."""
    rows = np.asarray(rows)
    sims = np.asarray(sims, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] == 0 or len(labels) == 0:
        return np.full(len(rows), OUTLIER, np.int32), np.zeros(len(rows), np.float32)
    topics = np.where(rows >= 0, labels[np.maximum(rows, 0)], OUTLIER).astype(np.int64)
    labelled = topics >= 0
    used = labelled & (np.cumsum(labelled, axis=1) <= k)  # the k nearest labelled ones
    weights = np.where(used, np.maximum(sims, 0.0), 0.0)
    same = (topics[:, :, None] == topics[:, None, :]) & used[:, None, :]
    totals = np.where(used, (same * weights[:, None, :]).sum(axis=2), -np.inf)
    best = totals.max(axis=1, keepdims=True)
    # Among the columns whose topic reaches the best total, the smallest topic id.
    tied = np.where(used & (totals == best), topics, np.iinfo(np.int64).max)
    winners = tied.min(axis=1)
    found = used.any(axis=1)
    chosen = used & (topics == winners[:, None])
    count = np.maximum(chosen.sum(axis=1), 1)
    mean_sim = np.where(chosen, sims, 0.0).sum(axis=1) / count
    share = chosen.sum(axis=1) / np.maximum(used.sum(axis=1), 1)
    winners = np.where(found, winners, OUTLIER).astype(np.int32)
    confidence = np.where(found, mean_sim * share, 0.0).astype(np.float32)
    return winners, confidence


def assign_outliers(labels: np.ndarray, sims: np.ndarray, rows: np.ndarray, max_share: float) -> np.ndarray:
    """Give noise papers their neighbours' topic, most confident first, until at most
    ``max_share`` of all papers remain outliers."""
    labels = labels.astype(np.int32).copy()
    noise = np.flatnonzero(labels < 0)
    allowed = int(np.floor(max_share * len(labels)))
    if len(noise) <= allowed:
        return labels
    winners, confidence = vote(labels, sims[noise], rows[noise])
    order = np.argsort(-confidence, kind="stable")
    to_assign = order[: len(noise) - allowed]
    to_assign = to_assign[winners[to_assign] >= 0]
    labels[noise[to_assign]] = winners[to_assign]
    return labels


@dataclass
class TopicChanges:
    """How a refit's topics relate to the previous ones (ids are the stable ids)."""

    kept: list[int] = field(default_factory=list)
    split: dict[int, list[int]] = field(default_factory=dict)  # old id → new ids sharing its papers
    merged: dict[int, list[int]] = field(default_factory=dict)  # new id → old ids poured into it
    born: list[int] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "kept": self.kept,
            "split": {str(k): v for k, v in self.split.items()},
            "merged": {str(k): v for k, v in self.merged.items()},
            "born": self.born,
            "gone": self.gone,
        }


def stable_ids(old: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, TopicChanges]:
    """Rename the topics of ``new`` after those of ``old`` (same papers, same order)
    where they match, by a maximum-overlap assignment (Hungarian) of their members.

    A pair matches when the shared papers are at least half of either topic. Topics
    that match nothing get fresh ids above every old id, so an id never changes
    meaning. Returns the renamed labels and what was kept, split, merged, born, gone.
    """
    from scipy.optimize import linear_sum_assignment

    old_ids = np.unique(old[old >= 0])
    new_ids = np.unique(new[new >= 0])
    both = (old >= 0) & (new >= 0)
    overlap = np.zeros((len(new_ids), len(old_ids)), dtype=np.int64)
    np.add.at(overlap, (np.searchsorted(new_ids, new[both]), np.searchsorted(old_ids, old[both])), 1)
    new_sizes = np.array([(new == t).sum() for t in new_ids])
    old_sizes = np.array([(old == t).sum() for t in old_ids])
    rows, cols = linear_sum_assignment(-overlap) if overlap.size else (np.array([], int), np.array([], int))
    rename: dict[int, int] = {}
    for r, c in zip(rows, cols, strict=True):
        shared = overlap[r, c]
        if shared and (2 * shared >= new_sizes[r] or 2 * shared >= old_sizes[c]):
            rename[int(new_ids[r])] = int(old_ids[c])
    next_id = int(old_ids.max()) + 1 if len(old_ids) else 0
    for t in new_ids:
        if int(t) not in rename:
            rename[int(t)] = next_id
            next_id += 1
    renamed = np.array([rename.get(int(t), OUTLIER) for t in new], dtype=np.int32)

    changes = TopicChanges()
    matched_old = set(rename.values()) & {int(t) for t in old_ids}
    changes.kept = sorted(matched_old)
    for c, old_id in enumerate(old_ids):
        takers = [rename[int(new_ids[r])] for r in range(len(new_ids)) if 4 * overlap[r, c] >= old_sizes[c]]
        if len(takers) >= 2:
            changes.split[int(old_id)] = sorted(takers)
    for r, new_id in enumerate(new_ids):
        givers = [int(old_ids[c]) for c in range(len(old_ids)) if 2 * overlap[r, c] >= old_sizes[c]]
        if len(givers) >= 2:
            changes.merged[rename[int(new_id)]] = sorted(givers)
    changes.born = sorted(v for v in rename.values() if v not in matched_old)
    changes.gone = sorted(int(t) for t in old_ids if int(t) not in matched_old)
    return renamed, changes
