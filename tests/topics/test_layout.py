"""The map layout: repeatable with a seed, turned and scaled as a whole (never stretched
per axis into a square or a strip), and papers added later land among their neighbours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from engine.artifact import store
from engine.topics import fit, layout


@pytest.fixture(scope="module")
def corpus_vectors(corpus_index: Path) -> np.ndarray:
    artifact = store.Artifact.open(corpus_index)
    try:
        return np.array(artifact.vectors, dtype=np.float32)
    finally:
        artifact.close()


def test_the_same_seed_gives_the_same_map_and_another_seed_a_different_one(corpus_vectors: np.ndarray) -> None:
    sims, rows = fit.neighbours(corpus_vectors, fit.GRAPH_NEIGHBOURS, seed=7)
    first = layout.layout(corpus_vectors, sims, rows, seed=7)
    again = layout.layout(corpus_vectors, sims, rows, seed=7)
    np.testing.assert_array_equal(first, again)
    other = layout.layout(corpus_vectors, sims, rows, seed=8)
    assert not np.array_equal(first, other)
    for xy in (first, other):
        assert xy.dtype == np.float32 and np.isfinite(xy).all()
        assert xy[:, 0].min() == 0 and xy[:, 0].max() == pytest.approx(100)
        assert xy[:, 1].min() >= 0 and xy[:, 1].max() <= 100  # the longer extent is along x


def test_a_layout_is_turned_and_scaled_as_a_whole() -> None:
    rng = np.random.default_rng(0)
    tall = rng.normal(size=(400, 2)) * [1.0, 6.0]  # a strip standing on end, then tilted
    angle = 0.7
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    raw = tall @ turn
    xy = layout._scaled(raw)
    ratios = pdist(xy.astype(np.float64)) / pdist(raw)
    assert ratios.max() / ratios.min() == pytest.approx(
        1.0, abs=1e-3
    )  # one factor (float32 rounding aside): no axis stretched
    span = np.ptp(xy, axis=0)
    assert span[0] == pytest.approx(100) and span[1] < 40  # lying along x, its shape kept
    np.testing.assert_array_equal(xy, layout._scaled(raw))  # turned the same way every time
    np.testing.assert_array_equal(layout._scaled(raw[::-1]), xy[::-1])


def test_added_papers_land_among_their_neighbours_in_their_topic(corpus_vectors: np.ndarray) -> None:
    """Lay out and fit nine papers in ten, then place the tenth as ``add`` does: each
    placed paper sits nearer its nearest laid-out papers than a random paper is, and
    nearer the papers of the topic its neighbours voted for than other papers are."""
    n = len(corpus_vectors)
    held = np.arange(n) % 10 == 0
    known = corpus_vectors[~held]
    sims, rows = fit.neighbours(known, fit.GRAPH_NEIGHBOURS, seed=1)
    xy = layout.layout(known, sims, rows, seed=1)
    topics = fit.fit(known, fit.TopicParams(seed=1), (sims, rows)).fine
    query_sims = corpus_vectors[held] @ known.T
    nearest = np.argsort(-query_sims, axis=1)[:, :10]
    voted, _ = fit.vote(topics, np.take_along_axis(query_sims, nearest, axis=1), nearest)
    placed = layout.place(xy, nearest, voted, topics[nearest])
    assert placed.shape == (held.sum(), 2) and np.isfinite(placed).all()
    to_neighbours = np.linalg.norm(xy[nearest] - placed[:, None, :], axis=2).mean()
    rng = np.random.default_rng(0)
    to_anyone = np.linalg.norm(xy[rng.integers(0, len(xy), size=(held.sum(), 10))] - placed[:, None, :], axis=2).mean()
    assert to_neighbours < 0.35 * to_anyone
    for point, topic in zip(placed, voted, strict=True):
        distance = np.linalg.norm(xy - point, axis=1)
        assert np.median(distance[topics == topic]) < np.median(distance[topics != topic])
