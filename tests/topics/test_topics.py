"""Topics on real papers: clustering, labels, outliers, hierarchy, add, refit, map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.artifact import store, topic_store
from engine.errors import UnknownTopic
from engine.ingest.sources import read_papers
from engine.pipeline.build import Options, add, build, refit
from engine.query.facade import open_index
from engine.topics.fit import TopicParams, fit, stable_ids
from tests.conftest import CORPUS_SAMPLE, GA_DIGEST_1, GA_DIGEST_2


def _options(embedder, **kw) -> Options:
    return Options(embedder=embedder, progress=False, **kw)


@pytest.fixture(scope="module")
def two_fields(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """150 astro-ph.GA and 150 cs.CL papers from the real corpus."""
    path = tmp_path_factory.mktemp("topics") / "two-fields"
    build([CORPUS_SAMPLE], path, _options(embedder))
    return path


def test_demo_topics_have_unique_readable_labels(demo_index: Path) -> None:
    with open_index(demo_index) as ix:
        fine = ix.topics("fine")
        coarse = ix.topics("coarse")
        assert 3 <= len(fine) <= 20 and 2 <= len(coarse) <= len(fine)
        labels = [t.label for t in fine]
        assert len(set(labels)) == len(labels)
        assert all(2 <= len(label.split()) <= 5 for label in labels)
        assert sum(t.size for t in fine) >= 0.95 * len(ix)  # at most 5% outliers
        for t in fine:
            assert 1 <= len(t.keywords) <= 8 and len(t.representatives) == min(3, t.size)
            members = set(ix.topic_members(t.id))
            assert set(t.representatives) <= members and len(members) == t.size
            assert t.parent is not None and ix.topic(t.parent, "coarse")
        # the two NAS papers share a topic, and it is named for them
        nas = {
            ix.related("2011.09300", k=1)[0].topic["id"],
            ix.search("neural architecture search", k=1)[0].topic["id"],
        }
        assert len(nas) == 1
        assert "architecture" in ix.topic(nas.pop()).label


def test_every_hit_carries_its_topic(demo_index: Path) -> None:
    with open_index(demo_index) as ix:
        for hit in ix.search("adversarial attacks on classifiers", k=10) + ix.related("2011.09473", k=10):
            topic = hit.to_dict()["topic"]
            assert set(topic) == {"id", "label", "parent"}
            if topic["id"] >= 0:
                assert topic["label"] == ix.topic(topic["id"]).label
                assert topic["parent"]["label"] == ix.topic(topic["parent"]["id"], "coarse").label


def test_search_within_a_topic_returns_only_its_papers(demo_index: Path) -> None:
    with open_index(demo_index) as ix:
        biggest = ix.topics()[0]
        hits = ix.search("a completely unrelated query about galaxies", k=5, topic=biggest.id)
        assert len(hits) == 5 and {h.topic["id"] for h in hits} == {biggest.id}
        everything = ix.related("2011.09300", k=100, topic=biggest.id)
        assert len(everything) == biggest.size - (1 if "2011.09300" in ix.topic_members(biggest.id) else 0)
        coarse = ix.topics("coarse")[0]
        assert {h.topic["parent"]["id"] for h in ix.search("images", k=5, topic=coarse.id, level="coarse")} == {
            coarse.id
        }
        with pytest.raises(UnknownTopic):
            ix.search("x", topic=9999)


def test_far_apart_fields_never_share_a_topic(two_fields: Path) -> None:
    field_of = {p.id: p.primary_category for p in read_papers(CORPUS_SAMPLE).papers}
    with open_index(two_fields) as ix:
        for level in ("fine", "coarse"):
            topics = ix.topics(level)
            assert len(topics) >= 2
            for t in topics:
                fields = [field_of[pid] for pid in ix.topic_members(t.id, level)]
                majority = max(set(fields), key=fields.count)
                assert fields.count(majority) >= 0.95 * len(fields), (level, t.label, len(fields))
        labels = {t.label for t in ix.topics("fine")}
        assert len(labels) == len(ix.topics("fine"))


def test_same_seed_same_topics_and_other_seeds_agree(two_fields: Path) -> None:
    from sklearn.metrics import adjusted_rand_score

    vectors = np.asarray(store.Artifact.open(two_fields).vectors)
    first = fit(vectors, TopicParams(seed=7))
    again = fit(vectors, TopicParams(seed=7))
    np.testing.assert_array_equal(first.fine, again.fine)
    np.testing.assert_array_equal(first.parent, again.parent)
    other = fit(vectors, TopicParams(seed=8))
    assert adjusted_rand_score(first.coarse, other.coarse) > 0.5


def test_outlier_policy_meets_the_target_share(two_fields: Path) -> None:
    vectors = np.asarray(store.Artifact.open(two_fields).vectors)
    for share in (0.0, 0.05, 0.2):
        clustering = fit(vectors, TopicParams(clusterer="umap-hdbscan", max_outlier_share=share))
        assert clustering.outlier_share <= share + 1e-9
        if clustering.noise_share > share:  # the policy had work to do and stopped at the target
            assert clustering.outlier_share >= share - 1 / len(vectors) - 1e-9


def test_add_assigns_topics_without_changing_existing_ones(tmp_path: Path, embedder) -> None:
    index = tmp_path / "ga"
    build([GA_DIGEST_1], index, _options(embedder))
    before = store.Artifact.open(index)
    fine, coarse, xy = topic_store.assignments(before.db)
    old_topics = {
        (t.level, t.id): (t.label, t.keywords)
        for lvl in ("fine", "coarse")
        for t in topic_store.all_topics(before.db, lvl)
    }
    before.close()
    report = add([GA_DIGEST_2], index, _options(embedder))
    assert report.topics["assigned_without_refit"] == report.new_papers
    after = store.Artifact.open(index)
    fine2, coarse2, xy2 = topic_store.assignments(after.db)
    n_old = len(fine)
    np.testing.assert_array_equal(fine2[:n_old], fine)
    np.testing.assert_array_equal(coarse2[:n_old], coarse)
    np.testing.assert_array_equal(xy2[:n_old], xy)
    assert (fine2[n_old:] >= 0).all()  # new papers all land in a topic
    assert (xy2[n_old:] >= 0).all() and (xy2[n_old:] <= 100).all()
    new_topics = {
        (t.level, t.id): (t.label, t.keywords)
        for lvl in ("fine", "coarse")
        for t in topic_store.all_topics(after.db, lvl)
    }
    assert new_topics == old_topics
    sizes = {t.id: t.size for t in topic_store.all_topics(after.db, "fine")}
    assert sum(sizes.values()) == int((fine2 >= 0).sum())
    after.close()


def test_refit_keeps_ids_and_reports_changes(tmp_path: Path, embedder) -> None:
    index = tmp_path / "refit"
    build([CORPUS_SAMPLE], index, _options(embedder))
    with open_index(index) as ix:
        labels = {t.id: t.label for t in ix.topics()}
    same = refit(index, _options(embedder))
    changes = same.topics["changes"]["fine"]
    assert sorted(changes["kept"]) == sorted(labels) and not changes["born"] and not changes["gone"]
    with open_index(index) as ix:
        assert {t.id: t.label for t in ix.topics()} == labels
        assert ix.manifest["version"] == "v000002"
    other = refit(index, _options(embedder, topic_params=TopicParams(seed=3)))
    kept = other.topics["changes"]["fine"]["kept"]
    assert kept, "a different seed still finds most of the same topics"
    with open_index(index) as ix:
        ids = {t.id for t in ix.topics()}
        assert set(kept) <= ids and set(other.topics["changes"]["fine"]["born"]) <= ids


def test_stable_ids_matching_rules() -> None:
    old = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, -1])
    new = np.array([5, 5, 5, 5, 7, 7, 8, 8, 9, 9, 9, 9, 9])  # 0 kept, 1 split, 2 kept, plus one paper
    renamed, changes = stable_ids(old, new)
    assert renamed[:4].tolist() == [0] * 4 and renamed[8:].tolist() == [2] * 5
    assert set(renamed[4:8]) == {1, 3}  # one half keeps id 1, the other is born as 3 (never a reused id)
    assert changes.split == {1: [1, 3]} and changes.born == [3] and changes.gone == []
    merged, changes = stable_ids(np.array([0, 0, 1, 1, 2, 2]), np.array([4, 4, 4, 4, 6, 6]))
    assert changes.merged == {int(merged[0]): [0, 1]} and changes.gone == [({0, 1} - {int(merged[0])}).pop()]


def test_map_files_are_self_contained(demo_index: Path, tmp_path: Path) -> None:
    from engine.query import maps

    with open_index(demo_index) as ix:
        data = ix.map_data()
    assert data.xy.shape == (63, 2) and np.isfinite(data.xy).all()
    html = tmp_path / "map.html"
    maps.write_html(data, html, "demo map")
    text = html.read_text()
    assert "Plotly.newPlot" in text and "neural architecture search" in text and "AttentiveNAS" in text
    assert "<script src=" not in text and "<link " not in text  # no external script or stylesheet
    png = tmp_path / "map.png"
    maps.write_png(data, png, "demo map")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
