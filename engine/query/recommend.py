"""Recommendations from papers a reader likes (and, optionally, dislikes).

Three rankers, measured by ``benchmarks/recommend.py`` and ``benchmarks/related.py``:

* ``fused`` (default): the related-papers ranker (:mod:`engine.query.related`) with
  several examples: Rocchio candidates re-ranked by cosine, the liked papers' words
  and (with sentence vectors) their sentences, unliked papers subtracting;
* ``rocchio``: one query vector, mean(likes) - 0.5 * mean(unlikes), searched in FAISS
  (so filters and k behave exactly as in search);
* ``svm``: arxiv-sanity's per-request linear SVM, trained on the whole collection with
  the likes as positives and every other paper as a negative (unlikes weighted x10),
  then every paper ranked by its margin.

Each hit says why (``Hit.because``): the liked paper it is closest to, and the words
(and sentences) it shares with it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from engine.artifact.store import Artifact
from engine.errors import QueryError
from engine.query import ranking, related

METHODS = ("fused", "rocchio", "svm")
DEFAULT_METHOD = "fused"  # chosen by benchmarks/related.py and benchmarks/recommend.py (see README)
MAX_EXAMPLES = 100
SVM_UNLIKE_WEIGHT = 10.0


def check_examples(like: Sequence[str], unlike: Sequence[str]) -> None:
    if not like:
        raise QueryError("recommend needs at least one paper you like")
    if len(like) + len(unlike) > MAX_EXAMPLES:
        raise QueryError(f"at most {MAX_EXAMPLES} example papers, got {len(like) + len(unlike)}")
    overlap = set(like) & set(unlike)
    if overlap:
        raise QueryError(f"papers both liked and unliked: {', '.join(sorted(overlap))}")


def svm_scores(
    matrix: np.ndarray,
    like_rows: list[int],
    unlike_rows: list[int],
    seed: int = 0,
    negatives: list[int] | None = None,
    score_rows: list[int] | None = None,
) -> np.ndarray:
    """Margins under a linear SVM fitted for these examples: likes against every other
    paper (or against ``negatives`` and the unlikes), for every paper (or ``score_rows``)."""
    coef, intercept = svm_model(matrix, like_rows, unlike_rows, seed, negatives)
    scored = np.asarray(matrix if score_rows is None else matrix[score_rows], dtype=np.float32)
    return (scored @ coef + intercept).astype(np.float32)


_fitted: OrderedDict[tuple, tuple] = OrderedDict()
_fitted_lock = threading.Lock()
FITTED_KEPT = 32  # models of recent training sets: one per library state, a few KB each
_fitting: dict[tuple, threading.Event] = {}  # fits under way, which a second asker waits for
FIT_WAIT_SECONDS = 30.0


def svm_model(
    matrix: np.ndarray, like_rows: list[int], unlike_rows: list[int], seed: int = 0, negatives: list[int] | None = None
) -> tuple[np.ndarray, float]:
    """(weights, intercept) of the SVM for this training set, fitted once and kept for
    the last :data:`FITTED_KEPT` sets: the fit is most of a feed ranked by SVM (45-100 ms
    at 5,000 negatives), and a feed is reopened far more often than its likes change
    (the server also fits ahead when they do, see engine.serve.routes.library)."""
    drawn = None if negatives is None else hashlib.sha1(np.asarray(negatives, dtype=np.int64).tobytes()).hexdigest()
    key = (id(matrix), matrix.shape, tuple(sorted(like_rows)), tuple(sorted(unlike_rows)), seed, drawn)
    with _fitted_lock:
        if key in _fitted:
            _fitted.move_to_end(key)
            return _fitted[key][1]
        running = _fitting.get(key)
        if running is None:
            _fitting[key] = threading.Event()
    if running is not None:  # the same fit is under way (ahead of this feed): wait for it
        running.wait(FIT_WAIT_SECONDS)
        with _fitted_lock:
            if key in _fitted:
                return _fitted[key][1]
        return _fit_svm(matrix, like_rows, unlike_rows, seed, negatives)  # it failed: fit here
    try:
        model = _fit_svm(matrix, like_rows, unlike_rows, seed, negatives)
        with _fitted_lock:
            _fitted[key] = (matrix, model)  # the matrix is kept so that its id is not reused
            while len(_fitted) > FITTED_KEPT:
                _fitted.popitem(last=False)
        return model
    finally:
        with _fitted_lock:
            _fitting.pop(key).set()


def _fit_svm(
    matrix: np.ndarray, like_rows: list[int], unlike_rows: list[int], seed: int, negatives: list[int] | None
) -> tuple[np.ndarray, float]:
    from sklearn.svm import LinearSVC

    if negatives is None:
        train_rows = np.arange(len(matrix))
        data = np.asarray(matrix, dtype=np.float32)
    else:
        train_rows = np.array(sorted(set(negatives) | set(like_rows) | set(unlike_rows)), dtype=np.int64)
        data = np.asarray(matrix[train_rows], dtype=np.float32)
    position = {int(r): i for i, r in enumerate(train_rows)}
    labels = np.zeros(len(data), dtype=np.int8)
    labels[[position[r] for r in like_rows]] = 1
    weights = np.ones(len(data), dtype=np.float32)
    weights[[position[r] for r in unlike_rows]] = SVM_UNLIKE_WEIGHT
    # arxiv-sanity's settings: balanced classes (a handful of positives among thousands), small C.
    svm = LinearSVC(class_weight="balanced", C=0.1, max_iter=10000, tol=1e-6, random_state=seed)
    svm.fit(data, labels, sample_weight=weights)
    return svm.coef_[0].astype(np.float32), float(svm.intercept_[0])


def recommend(
    artifact: Artifact,
    index,
    like: Sequence[str],
    unlike: Sequence[str] = (),
    k: int = 10,
    allowed: list[int] | None = None,
    method: str = DEFAULT_METHOD,
) -> list[ranking.Hit]:
    check_examples(like, unlike)
    if method not in METHODS:
        raise QueryError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    like_rows = [ranking.row_for_id(artifact, pid) for pid in like]
    unlike_rows = [ranking.row_for_id(artifact, pid) for pid in unlike]
    if method == "fused":
        return related.from_examples(artifact, index, like_rows, unlike_rows, k, allowed)
    inputs = frozenset(like_rows + unlike_rows)
    if method == "rocchio":
        target = related.rocchio_vector(artifact.vectors, like_rows, unlike_rows)
        ranked = ranking.dense_rows(artifact, index, target, k + len(inputs), allowed)
        picked = [(row, score) for row, score in ranked if row not in inputs][:k]
    else:
        scores = svm_scores(artifact.vectors, like_rows, unlike_rows)
        if allowed is not None:
            mask = np.full(len(scores), -np.inf, dtype=np.float32)
            mask[allowed] = 0
            scores = scores + mask
        scores[list(inputs)] = -np.inf
        picked = [(int(r), float(scores[r])) for r in np.argsort(-scores)[:k] if np.isfinite(scores[r])]
    rows = [row for row, _ in picked]
    return related.explain(artifact, ranking.hits_for(artifact, picked), rows, like_rows)
