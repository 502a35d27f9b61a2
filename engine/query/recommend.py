"""Recommendations from papers a reader likes (and, optionally, dislikes).

Two rankers over the embeddings, both measured by ``benchmarks/recommend.py``:

* ``rocchio``: one query vector, mean(likes) - 0.5 * mean(unlikes), searched in FAISS
  (so filters and k behave exactly as in search);
* ``svm``: arxiv-sanity's per-request linear SVM, trained on the whole collection with
  the likes as positives and every other paper as a negative (unlikes weighted x10),
  then every paper ranked by its margin.

Each hit says why: the liked paper it is closest to, and the words it shares with it
that are rare among the candidates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.artifact.store import Artifact
from engine.errors import QueryError
from engine.query import ranking
from engine.text import content_words

METHODS = ("rocchio", "svm")
DEFAULT_METHOD = "rocchio"  # chosen by benchmarks/recommend.py (see README)
MAX_EXAMPLES = 100
UNLIKE_WEIGHT = 0.5  # Rocchio's beta
SVM_UNLIKE_WEIGHT = 10.0


@dataclass(frozen=True)
class Recommendation:
    hit: ranking.Hit
    because: dict  # {"like": id, "title": its title, "similarity": float, "words": [...]}

    def to_dict(self) -> dict:
        return {**self.hit.to_dict(), "because": self.because}


def check_examples(like: Sequence[str], unlike: Sequence[str]) -> None:
    if not like:
        raise QueryError("recommend needs at least one paper you like")
    if len(like) + len(unlike) > MAX_EXAMPLES:
        raise QueryError(f"at most {MAX_EXAMPLES} example papers, got {len(like) + len(unlike)}")
    overlap = set(like) & set(unlike)
    if overlap:
        raise QueryError(f"papers both liked and unliked: {', '.join(sorted(overlap))}")


def rocchio_vector(matrix: np.ndarray, like_rows: list[int], unlike_rows: list[int]) -> np.ndarray:
    target = np.asarray(matrix[like_rows], dtype=np.float32).mean(axis=0)
    if unlike_rows:
        target = target - UNLIKE_WEIGHT * np.asarray(matrix[unlike_rows], dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(target))
    return target / norm if norm > 0 else target


def svm_scores(matrix: np.ndarray, like_rows: list[int], unlike_rows: list[int], seed: int = 0) -> np.ndarray:
    """Margin of every paper under a linear SVM fitted for this request."""
    from sklearn.svm import LinearSVC

    data = np.asarray(matrix, dtype=np.float32)
    labels = np.zeros(len(data), dtype=np.int8)
    labels[like_rows] = 1
    weights = np.ones(len(data), dtype=np.float32)
    weights[unlike_rows] = SVM_UNLIKE_WEIGHT
    # arxiv-sanity's settings: balanced classes (a handful of positives among thousands), small C.
    svm = LinearSVC(class_weight="balanced", C=0.1, max_iter=10000, tol=1e-6, random_state=seed)
    svm.fit(data, labels, sample_weight=weights)
    return svm.decision_function(data).astype(np.float32)


def recommend(
    artifact: Artifact,
    index,
    like: Sequence[str],
    unlike: Sequence[str] = (),
    k: int = 10,
    allowed: list[int] | None = None,
    method: str = DEFAULT_METHOD,
) -> list[Recommendation]:
    check_examples(like, unlike)
    if method not in METHODS:
        raise QueryError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    like_rows = [ranking.row_for_id(artifact, pid) for pid in like]
    unlike_rows = [ranking.row_for_id(artifact, pid) for pid in unlike]
    inputs = frozenset(like_rows + unlike_rows)
    if method == "rocchio":
        target = rocchio_vector(artifact.vectors, like_rows, unlike_rows)
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
    return _explain(artifact, ranking.hits_for(artifact, picked), [row for row, _ in picked], like_rows)


def _explain(
    artifact: Artifact, hits: list[ranking.Hit], hit_rows: list[int], like_rows: list[int]
) -> list[Recommendation]:
    """The liked paper each hit is closest to, and the words they share that are rare
    among the hits (so "model" or "results" never explain anything)."""
    if not hits:
        return []
    liked = artifact.papers_by_rows(like_rows)
    sims = (
        np.asarray(artifact.vectors[hit_rows], dtype=np.float32)
        @ np.asarray(artifact.vectors[like_rows], dtype=np.float32).T
    )
    words = {h.paper.id: content_words(h.paper.title + " " + h.paper.abstract) for h in hits}
    spread = Counter(w for ws in words.values() for w in ws)
    out = []
    for i, hit in enumerate(hits):
        j = int(np.argmax(sims[i]))
        source = liked[like_rows[j]]
        shared = words[hit.paper.id] & content_words(source.title + " " + source.abstract)
        ranked = sorted(shared, key=lambda w: (spread[w], -len(w), w))[:4]
        out.append(
            Recommendation(
                hit,
                {"like": source.id, "title": source.title, "similarity": round(float(sims[i, j]), 4), "words": ranked},
            )
        )
    return out
