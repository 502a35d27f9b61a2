"""The two topic clusterers; each maps a kNN graph (and vectors) to fine topics and
the coarse topic of each fine topic. Chosen with ``--clusterer``; the default is the
one that scores best in benchmarks/topics.py.

``graph`` (default): shared-nearest-neighbour (Jaccard) weights on the kNN graph,
Louvain modularity at resolution 2 for fine topics, two rounds of neighbour-majority
smoothing, then Louvain at resolution 1 on the graph of fine topics for the coarse
level, whose size is whatever maximises modularity: no k is given. Every paper gets a
topic. (PhenoGraph's recipe, from single-cell biology, applied to papers; Louvain
runs in igraph.)

``umap-hdbscan``: BERTopic's recipe made less noisy: a 5-d UMAP of the same kNN
graph, HDBSCAN leaf clusters as fine topics, and Ward merging of their UMAP centroids
(to ~√(2·fine) parents) for the coarse level. Its noise goes to the outlier policy.
"""

from __future__ import annotations

import warnings

import numpy as np

FINE_RESOLUTION = 2.0
COARSE_RESOLUTION = 1.0
SMOOTHING_ROUNDS = 2


# --- graph (Louvain) -------------------------------------------------------------


def graph_topics(rows: np.ndarray, seed: int, min_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Fine topic per paper and coarse topic per fine topic, from kNN ``rows`` [n, k];
    communities under ``min_size`` papers are dissolved into their neighbours' topics."""
    weights = jaccard_graph(rows)
    fine = smooth(louvain(weights, FINE_RESOLUTION, seed), rows, SMOOTHING_ROUNDS)
    fine = absorb_small(fine, rows, min_size)
    parent = louvain(aggregate(weights, fine), COARSE_RESOLUTION, seed)
    return fine.astype(np.int32), parent.astype(np.int32)


def absorb_small(labels: np.ndarray, rows: np.ndarray, min_size: int) -> np.ndarray:
    """Papers of topics smaller than ``min_size`` join the topic most of their
    neighbours are in (repeated, as a paper's neighbours may be moving too)."""
    labels = labels.copy()
    for _ in range(5):
        sizes = np.bincount(labels, minlength=labels.max() + 1)
        small = np.flatnonzero(sizes[labels] < min_size)
        if len(small) == 0 or (sizes >= min_size).sum() == 0:
            break
        for i in small:
            votes = labels[rows[i]]
            votes = votes[sizes[votes] >= min_size]
            if len(votes):
                labels[i] = np.bincount(votes).argmax()
    return by_size(labels)


def jaccard_graph(rows: np.ndarray):
    """The symmetrised kNN graph, each edge weighted by the Jaccard overlap of the two
    papers' neighbour sets (each including the paper itself): shared neighbours are a
    sturdier sign of a common topic than one similarity score."""
    import scipy.sparse as sp

    n, k = rows.shape
    own = np.sort(np.hstack([np.arange(n)[:, None], rows]), axis=1)
    adjacency = sp.coo_matrix((np.ones(n * k, np.float32), (np.repeat(np.arange(n), k), rows.ravel())), shape=(n, n))
    adjacency = (adjacency + adjacency.T).tocoo()
    src, dst = adjacency.row, adjacency.col
    shared = np.empty(len(src), np.float32)
    step = 100_000
    for start in range(0, len(src), step):
        a, b = own[src[start : start + step]], own[dst[start : start + step]]
        shared[start : start + step] = (a[:, :, None] == b[:, None, :]).sum(axis=(1, 2))
    weight = shared / (2 * (k + 1) - shared)
    return sp.csr_matrix((weight.astype(np.float64), (src, dst)), shape=(n, n))


def louvain(weights, resolution: float, seed: int) -> np.ndarray:
    """Louvain communities (igraph's C implementation: 7 s for 87k papers, where
    networkx took 140 s), seeded, numbered by size, largest first."""
    import random

    import igraph
    import scipy.sparse as sp

    upper = sp.triu(weights, k=0).tocoo()  # each undirected edge once; self-loops kept
    graph = igraph.Graph(
        n=weights.shape[0], edges=np.column_stack([upper.row, upper.col]), edge_attrs={"weight": upper.data}
    )
    igraph.set_random_number_generator(random.Random(seed))  # Louvain visits nodes in random order
    try:
        membership = np.asarray(graph.community_multilevel(weights="weight", resolution=resolution).membership)
    finally:
        igraph.set_random_number_generator(random)
    return by_size(membership).astype(np.int64)


def smooth(labels: np.ndarray, rows: np.ndarray, rounds: int) -> np.ndarray:
    """Each paper takes the topic most of its neighbours have (a tie keeps its own),
    which cleans Louvain's ragged borders; topics are renumbered by size."""
    import scipy.sparse as sp

    n, k = rows.shape
    source = np.repeat(np.arange(n), k)
    for _ in range(rounds):
        count = labels.max() + 1
        votes = sp.csr_matrix((np.ones(n * k), (source, labels[rows].ravel())), shape=(n, count))
        votes = votes + sp.csr_matrix((np.full(n, 0.5), (np.arange(n), labels)), shape=(n, count))
        labels = np.asarray(votes.argmax(axis=1)).ravel()
    return by_size(labels)


def aggregate(weights, labels: np.ndarray):
    """The graph of topics: edge weight = summed paper-level weight between two topics."""
    import scipy.sparse as sp

    n, count = weights.shape[0], labels.max() + 1
    member = sp.csr_matrix((np.ones(n), (np.arange(n), labels)), shape=(n, count))
    topic_graph = (member.T @ weights @ member).tocsr()
    # The diagonal holds each topic's inner weight twice (both directions); a graph
    # library counts a self-loop twice in the degree, so halve it.
    topic_graph.setdiag(topic_graph.diagonal() / 2)
    return topic_graph


def by_size(labels: np.ndarray) -> np.ndarray:
    """Relabel 0..k-1, largest first (negative labels stay -1)."""
    out = np.full(len(labels), -1, dtype=np.int32)
    valid = labels >= 0
    if valid.any():
        uniq, counts = np.unique(labels[valid], return_counts=True)
        order = uniq[np.lexsort((uniq, -counts))]
        rename = np.empty(int(uniq.max()) + 1, dtype=np.int32)
        rename[order] = np.arange(len(order))
        out[valid] = rename[labels[valid]]
    return out


# --- UMAP + HDBSCAN ----------------------------------------------------------------


def umap_embedding(
    vectors: np.ndarray, sims: np.ndarray, rows: np.ndarray, n_neighbors: int, n_components: int, seed: int,
    min_dist: float = 0.0, n_epochs: int | None = None, init: str = "spectral",
) -> np.ndarray:  # fmt: skip
    """UMAP of the vectors from a precomputed kNN graph (cosine distance), seeded;
    ``n_epochs`` None is UMAP's own choice (500 under 10k points, else 200).

    A fixed seed makes UMAP single-threaded but repeatable on the same machine."""
    import umap

    n_neighbors = min(n_neighbors, rows.shape[1] + 1)
    own = np.arange(len(vectors), dtype=np.int64)[:, None]
    # UMAP wants each point's own index first in its neighbour list, at distance 0.
    knn_rows = np.hstack([own, rows[:, : n_neighbors - 1].astype(np.int64)])
    knn_dists = np.hstack([np.zeros_like(own, np.float32), np.clip(1 - sims[:, : n_neighbors - 1], 0, 2)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seed → single thread; no transform index: both intended
        model = umap.UMAP(
            n_neighbors=n_neighbors,
            n_components=n_components,
            min_dist=min_dist,
            metric="cosine",
            random_state=seed,
            precomputed_knn=(knn_rows, knn_dists.astype(np.float32), None),
            low_memory=True,
            n_epochs=n_epochs,
            init=init,
        )
        return model.fit_transform(vectors).astype(np.float32)


def umap_hdbscan_topics(
    vectors: np.ndarray, sims: np.ndarray, rows: np.ndarray, params: dict
) -> tuple[np.ndarray, np.ndarray | None]:
    """HDBSCAN leaf clusters (noise = -1) in a 5-d UMAP, and the UMAP points (for merging)."""
    import hdbscan

    reduced = umap_embedding(vectors, sims, rows, params["n_neighbors"], params["n_components"], params["seed"])
    labels = hdbscan.HDBSCAN(min_cluster_size=params["min_cluster_size"], cluster_selection_method="leaf").fit_predict(
        reduced
    )
    return labels, reduced


def ward_parents(fine: np.ndarray, points: np.ndarray, wanted: int | None) -> np.ndarray:
    """Parent of each fine topic: Ward linkage on fine-topic centroids of ``points``;
    ~√(2·fine topics) parents unless ``wanted`` says otherwise."""
    count = int(fine.max()) + 1 if len(fine) and fine.max() >= 0 else 0
    if count <= 2:
        return np.zeros(count, dtype=np.int32)
    from scipy.cluster.hierarchy import fcluster, linkage

    centroids = np.stack([points[fine == t].mean(axis=0) for t in range(count)])
    target = wanted or max(2, round(np.sqrt(2 * count)))
    groups = fcluster(linkage(centroids, method="ward"), t=min(target, count), criterion="maxclust") - 1
    sizes = np.bincount(groups, weights=np.bincount(fine[fine >= 0], minlength=count))
    order = np.lexsort((np.arange(len(sizes)), -sizes))
    rename = np.empty_like(order)
    rename[order] = np.arange(len(order))
    return rename[groups].astype(np.int32)
