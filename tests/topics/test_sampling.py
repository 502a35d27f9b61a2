"""Topics fitted on a stratified sample: the sample's shape, and a real fit on half of
300 real papers whose other half is assigned by the kNN vote and placed on the map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from engine.artifact import store
from engine.pipeline.build import Options, build
from engine.query.facade import open_index
from engine.topics import sampling
from engine.topics.fit import TopicParams
from engine.topics.stage import fit_topics
from tests.conftest import CORPUS_SAMPLE


def test_a_stratified_sample_keeps_each_stratum_in_proportion() -> None:
    groups = np.repeat(np.arange(5), [5_000, 3_000, 1_500, 490, 10])
    groups = groups[np.random.default_rng(0).permutation(len(groups))]
    rows = sampling.stratified(groups, 1_000, seed=7)
    assert len(rows) == 1_000 == len(np.unique(rows)) and (np.diff(rows) > 0).all()
    drawn = np.bincount(groups[rows], minlength=5)
    assert np.abs(drawn - np.bincount(groups) / 10).max() <= 1  # largest remainder: off by one at most
    assert (sampling.stratified(groups, 1_000, seed=7) == rows).all()
    assert not np.array_equal(sampling.stratified(groups, 1_000, seed=8), rows)
    # a stratum too small for its share still gets a paper while there is room
    tiny = np.concatenate([np.zeros(10_000, np.int64), [1, 2, 3]])
    assert set(tiny[sampling.stratified(tiny, 100, seed=0)]) == {0, 1, 2, 3}
    assert (sampling.stratified(groups, 20_000, seed=0) == np.arange(len(groups))).all()


@pytest.fixture(scope="module")
def corpus(corpus_index: Path):
    artifact = store.Artifact.open(corpus_index)
    try:
        papers = [paper for _, paper, _ in artifact.all_papers()]
        return papers, np.array(artifact.vectors, dtype=np.float32)
    finally:
        artifact.close()


def test_a_fit_on_half_the_papers_assigns_the_rest_as_the_full_fit_would(corpus, embedder) -> None:
    papers, vectors = corpus
    full = fit_topics(papers, vectors, embedder.embed, TopicParams(seed=1))
    half = fit_topics(papers, vectors, embedder.embed, TopicParams(seed=1, sample_size=150))
    assert half.summary["sample"]["fitted"] == 150 and half.summary["sample"]["assigned"] == 150
    assert "sample" not in full.summary
    n = len(papers)
    assert half.fine.shape == half.coarse.shape == (n,) and half.xy.shape == (n, 2)
    assert np.isfinite(half.xy).all()
    # the two fields (astro-ph.GA, cs.CL) never share a topic, sampled or assigned
    field = np.array([p.primary_category for p in papers])
    for t in np.unique(half.fine):
        assert len(set(field[half.fine == t])) == 1 or t < 0
    assert adjusted_rand_score(full.coarse, half.coarse) > 0.5
    # sizes count every paper; each fine topic's parent is its papers' coarse topic
    fine_rows = [t for t in half.topics if t.level == "fine"]
    assert sum(t.size for t in fine_rows) == int((half.fine >= 0).sum())
    for t in fine_rows:
        assert set(half.coarse[half.fine == t.id]) == {t.parent}
        assert all(p in {q.id for q in papers} for p in t.representatives)
    # an assigned paper sits among the sampled papers of its topic
    sampled = np.zeros(n, bool)
    sampled[sampling.stratified(sampling.strata(papers), 150, 1)] = True
    for i in np.flatnonzero(~sampled)[:40]:
        distance = np.linalg.norm(half.xy[sampled] - half.xy[i], axis=1)
        same = half.fine[sampled] == half.fine[i]
        assert np.median(distance[same]) < np.median(distance[~same])


def test_a_corpus_within_the_sample_limit_is_fitted_whole(corpus, embedder) -> None:
    papers, vectors = corpus
    default = fit_topics(papers, vectors, embedder.embed, TopicParams(seed=2))
    roomy = fit_topics(papers, vectors, embedder.embed, TopicParams(seed=2, sample_size=10_000))
    assert np.array_equal(default.fine, roomy.fine) and np.array_equal(default.xy, roomy.xy)


def test_a_sampled_build_stores_every_paper_with_a_topic(tmp_path: Path, embedder) -> None:
    options = Options(embedder=embedder, progress=False, topic_params=TopicParams(sample_size=120))
    report = build([CORPUS_SAMPLE], tmp_path / "ix", options)
    assert report.topics["sample"] == {"fitted": 120, "assigned": 180, "strata": report.topics["sample"]["strata"]}
    with open_index(tmp_path / "ix") as ix:
        assert sum(t.size for t in ix.topics("fine")) >= 0.95 * len(ix)
        hits = ix.search("galaxy rotation curves", k=5)
        assert all(hit.topic is not None for hit in hits)
