"""The topic map's layout: 2-D coordinates for every paper.

The layout is a 2-D UMAP from the same kNN graph the topics use; papers added later
are placed among their nearest indexed neighbours, so the map never has to be
recomputed to grow. Pictures of the map are drawn on the query side
(:mod:`engine.query.maps`).
"""

from __future__ import annotations

import numpy as np

from engine.topics.clusterers import umap_embedding


def layout(vectors: np.ndarray, sims: np.ndarray, rows: np.ndarray, seed: int) -> np.ndarray:
    """2-D coordinates for every paper (float32 ``[n, 2]``), scaled into [0, 100]."""
    n = len(vectors)
    if n < 4:
        angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
        return _scaled(np.stack([np.cos(angles), np.sin(angles)], axis=1))
    n_neighbors = int(np.clip(round(np.sqrt(n)), 5, rows.shape[1] + 1))
    # A little min_dist spreads papers within a topic so each stays visible.
    return _scaled(umap_embedding(vectors, sims, np.maximum(rows, 0), n_neighbors, 2, seed, min_dist=0.1))


def _scaled(xy: np.ndarray) -> np.ndarray:
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    return ((xy - low) / span * 100.0).astype(np.float32)


def place(known_xy: np.ndarray, sims: np.ndarray, rows: np.ndarray, k: int = 3) -> np.ndarray:
    """Positions for new papers: the similarity-weighted mean of their ``k`` nearest
    indexed papers' positions (few neighbours, so a paper lands inside a cluster
    rather than between two)."""
    rows, sims = rows[:, :k], np.maximum(sims[:, :k], 1e-6)
    weights = sims / sims.sum(axis=1, keepdims=True)
    return (known_xy[rows] * weights[:, :, None]).sum(axis=1).astype(np.float32)


def centre(xy: np.ndarray) -> tuple[float, float]:
    """Where a topic's label goes: the median of its papers (robust to stragglers)."""
    x, y = np.median(xy, axis=0)
    return float(x), float(y)
