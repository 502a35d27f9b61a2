"""Recommendations: likes pull, unlikes push, inputs never come back, filters hold,
and every hit says why. On the 300-paper astro-ph.GA + cs.CL index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import engine
from engine.errors import QueryError, UnknownPaper
from engine.ingest.sources import read_papers
from engine.query.filters import Filters
from engine.query.recommend import METHODS
from tests.conftest import CORPUS_SAMPLE

ROOT = Path(__file__).resolve().parents[2]
PAPERS = read_papers(CORPUS_SAMPLE).papers
ASTRO = [p.id for p in PAPERS if p.primary_category == "astro-ph.GA"]
LANGUAGE = [p.id for p in PAPERS if p.primary_category == "cs.CL"]


@pytest.mark.parametrize("method", METHODS)
def test_likes_pull_toward_their_field_and_inputs_are_excluded(corpus_index: Path, method: str) -> None:
    like = ASTRO[:4]
    with engine.open(corpus_index) as ix:
        recs = ix.recommend(like, k=10, method=method)
    ids = [r.paper.id for r in recs]
    assert len(ids) == 10 and not set(ids) & set(like)
    assert sum(i in ASTRO for i in ids) >= 9
    for r in recs:
        assert r.because["like"] in like and 0 < r.because["similarity"] <= 1
        assert r.because["words"] and all(w not in {"propose", "results", "paper"} for w in r.because["words"])


@pytest.mark.parametrize("method", METHODS)
def test_unlikes_push_away(corpus_index: Path, method: str) -> None:
    # Like a mix of both fields; unlike language papers: the language share must drop.
    like = ASTRO[:3] + LANGUAGE[:3]
    unlike = LANGUAGE[3:8]
    with engine.open(corpus_index) as ix:
        plain = [r.paper.id for r in ix.recommend(like, k=20, method=method)]
        pushed = [r.paper.id for r in ix.recommend(like, unlike, k=20, method=method)]
    assert not set(pushed) & set(like + unlike)
    assert sum(i in LANGUAGE for i in pushed) < sum(i in LANGUAGE for i in plain)


def test_recommend_respects_filters(corpus_index: Path) -> None:
    with engine.open(corpus_index) as ix:
        for method in METHODS:
            recs = ix.recommend(ASTRO[:3], k=10, filters=Filters(categories=("cs.CL",)), method=method)
            assert len(recs) == 10 and all("cs.CL" in r.paper.categories for r in recs)


def test_recommend_errors(corpus_index: Path) -> None:
    with engine.open(corpus_index) as ix:
        with pytest.raises(QueryError, match="at least one"):
            ix.recommend([])
        with pytest.raises(QueryError, match="both liked and unliked"):
            ix.recommend(ASTRO[:2], ASTRO[1:3])
        with pytest.raises(UnknownPaper):
            ix.recommend(["9999.99999"])
        with pytest.raises(QueryError, match="method"):
            ix.recommend(ASTRO[:1], method="magic")


def test_recommend_cli_json(corpus_index: Path) -> None:
    args = ["recommend", "--like", ASTRO[0], "--like", ASTRO[1], "--unlike", LANGUAGE[0], "-k", "5", "--json"]
    run = subprocess.run(
        [sys.executable, "-m", "engine.cli", *args, "--index", str(corpus_index)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["method"] == "fused" and out["score"] == "fused" and len(out["hits"]) == 5
    assert all(hit["because"]["like"] in ASTRO[:2] and hit["topic"] for hit in out["hits"])


def test_an_svm_fit_is_shared_by_whoever_asks_for_it_meanwhile(corpus_index, monkeypatch) -> None:
    """A feed that arrives while the server fits its SVM ahead waits for that fit rather
    than fitting the same model a second time on the same two cores."""
    import threading

    import engine
    from engine.query import recommend

    with engine.open(corpus_index) as ix:
        matrix = ix._artifact.vectors
        fits = []
        real_fit = recommend._fit_svm
        monkeypatch.setattr(recommend, "_fit_svm", lambda *args: fits.append(1) or real_fit(*args))
        negatives = list(range(10, 200))
        models = []
        askers = [
            threading.Thread(target=lambda: models.append(recommend.svm_model(matrix, [1, 2, 3, 4, 5], [6], 0, negatives)))
            for _ in range(3)
        ]
        for asker in askers:
            asker.start()
        for asker in askers:
            asker.join()
    assert fits == [1] and len(models) == 3
    assert all(model[0] is models[0][0] for model in models)
