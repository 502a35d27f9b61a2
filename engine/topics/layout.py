"""The topic map's layout: 2-D coordinates for every paper.

The layout is a 2-D UMAP from the same kNN graph the topics use, turned so its long
axis lies along x and scaled by one factor (never per axis, which would stretch it);
papers added later are placed among their nearest indexed neighbours, so the map never
has to be recomputed to grow. Pictures of the map are drawn on the query side
(:mod:`engine.query.maps`).
"""

from __future__ import annotations

import numpy as np

from engine.topics.clusterers import umap_embedding


def layout(vectors: np.ndarray, sims: np.ndarray, rows: np.ndarray, seed: int) -> np.ndarray:
    """2-D coordinates for every paper (float32 ``[n, 2]``): x spans [0, 100], y
    [0, 100 × the layout's aspect], the longer extent always along x."""
    n = len(vectors)
    if n < 4:
        angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
        return _scaled(np.stack([np.cos(angles), np.sin(angles)], axis=1))
    n_neighbors = int(np.clip(round(np.sqrt(n)), 5, rows.shape[1] + 1))
    # A little min_dist spreads papers within a topic so each stays visible.
    epochs, init = _effort(n)
    xy = umap_embedding(
        vectors, sims, np.maximum(rows, 0), n_neighbors, 2, seed, min_dist=0.1, n_epochs=epochs, init=init
    )
    return _scaled(xy)


# Passes over the graph's edges: UMAP's 200 took 122 s at 87k papers here, over the
# 60 s the map may take; 100 epochs from a PCA start (the spectral one alone costs
# ~12 s at 87k) took 47-54 s and kept the 10-NN category agreement within 0.007 (0.610 vs
# 0.617) and trustworthiness within 0.008 (benchmarks/README.md, the map's layout).
EPOCH_BUDGET = 8_750_000  # papers x epochs


def _effort(n: int) -> tuple[int | None, str]:
    """UMAP's own epochs and spectral start up to ~44k papers; beyond, fewer epochs
    as the map grows, from a PCA start."""
    if n * 200 <= EPOCH_BUDGET:
        return None, "spectral"
    return max(60, round(EPOCH_BUDGET / n)), "pca"


def _scaled(xy: np.ndarray) -> np.ndarray:
    """Turned onto its principal axes (the wider spread along x, as screens are wide;
    a page in portrait turns it upright itself) and scaled by one factor so x spans
    [0, 100]. A rotation and one scale keep every distance ratio: UMAP's picture, not
    a strip stretched to fill a square."""
    xy = np.asarray(xy, dtype=np.float64)
    centred = xy - xy.mean(axis=0)
    # Eigenvectors of the 2x2 covariance, largest first; each one's largest component
    # made positive, so the same layout always turns the same way.
    _, axes = np.linalg.eigh(np.cov(centred.T) if len(xy) > 1 else np.eye(2))
    axes = axes[:, ::-1]
    axes = axes * np.sign(axes[np.argmax(np.abs(axes), axis=0), [0, 1]])
    turned = centred @ axes
    span = np.ptp(turned, axis=0)
    if span[1] > span[0]:  # equal variances can still leave the wider box along y
        turned, span = turned[:, ::-1], span[::-1]
    low = turned.min(axis=0)
    return ((turned - low) * (100.0 / max(float(span[0]), 1e-12))).astype(np.float32)


def place(
    known_xy: np.ndarray, rows: np.ndarray, topics: np.ndarray, neighbour_topics: np.ndarray, k: int = 5
) -> np.ndarray:
    """Positions for new papers among their nearest laid-out papers (``rows``, nearest
    first, -1 padded): the median position of up to ``k`` of them that share the new
    paper's topic (``topics``, which its neighbours voted for; ``neighbour_topics``,
    each neighbour's), or of the ``k`` nearest when none does. A median of neighbours in
    the paper's own topic lands inside that topic's cluster, where a mean of the three
    nearest could fall between two clusters (benchmarks/maps.py, 10-NN category
    agreement of placed papers: 0.431 → 0.519 on the 24x300 set, static backend)."""
    rows = np.asarray(rows)
    out = np.zeros((len(rows), 2), dtype=np.float32)
    if rows.ndim != 2 or rows.shape[1] == 0 or len(known_xy) == 0:
        return out
    valid = rows >= 0
    same = valid & (neighbour_topics == np.asarray(topics)[:, None])
    chosen = np.where(same.any(axis=1, keepdims=True), same, valid)
    chosen &= np.cumsum(chosen, axis=1) <= k  # the k nearest of them
    # Vectorized over rows (a corpus fitted on a sample places every other paper this
    # way): unused neighbours are NaN, which nanmedian skips.
    points = np.where(chosen[:, :, None], known_xy[np.maximum(rows, 0)], np.nan)
    placed = chosen.any(axis=1)
    if placed.any():
        out[placed] = np.nanmedian(points[placed], axis=1)
    return out


def centre(xy: np.ndarray) -> tuple[float, float]:
    """Where a topic's label goes: the median of its papers (robust to stragglers)."""
    x, y = np.median(xy, axis=0)
    return float(x), float(y)
