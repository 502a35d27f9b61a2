"""New papers ranked for a reader: the feed's answer over an opened index.

Which papers are new: those dated on or after ``since`` (an ISO day), optionally only in
followed categories or topics (any of them), minus the ones the reader has read or
already has in the library. How they are ranked: by the library's likes and unlikes
with one of the recommenders of :mod:`engine.query.recommend`, or newest first for a
library with no likes yet.

Which recommender: arxiv-sanity-lite trains a linear SVM per tag; we measure instead,
per library, which of ``fused``, ``rocchio`` and ``svm`` ranks the library's own liked
papers highest when each is held out (k-fold, among background papers of the index),
and rank with the winner. Below ``MIN_LIKES_TO_MEASURE`` likes there is too little to
measure and ``fused`` (best on small libraries in ``benchmarks/recommend.py``) is used.
``benchmarks/feed.py`` checks the choice against every fixed ranker.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from engine.artifact import topic_store
from engine.artifact.store import Artifact
from engine.query import ranking, recommend, related
from engine.query.filters import Filters, allowed_rows

RANKERS = ("fused", "rocchio", "svm")
DEFAULT_RANKER = "fused"
MIN_LIKES_TO_MEASURE = 5
FOLDS = 5
BACKGROUND = 500  # unrelated papers each held-out like is ranked among
CUTOFF = 50  # a held-out like ranked below this counts as missed (a feed is read from the top)
SVM_NEGATIVES = 5000  # the feed's SVM: likes against a sample, not all 87k papers (~0.1 s, not 2 s)


@dataclass
class Choice:
    """The ranker picked for a library, with each one's mean average precision."""

    method: str
    scores: dict[str, float] = field(default_factory=dict)
    folds: int = 0

    def describe(self) -> str:
        if not self.scores:
            return f"{self.method} (under {MIN_LIKES_TO_MEASURE} likes: too few to measure which ranker fits them)"
        measured = ", ".join(f"{m} {s:.3f}" for m, s in sorted(self.scores.items(), key=lambda kv: -kv[1]))
        return f"{self.method}, which found your held-out likes best ({self.folds} folds, AP@{CUTOFF}: {measured})"


@dataclass
class FeedRanking:
    """The feed's answer: its hits, the ranker and why, and how many papers were new
    (``new``) and of those not read nor already in the library (``unread``)."""

    hits: list[ranking.Hit]
    choice: Choice
    new: int
    unread: int


def newest_date(artifact: Artifact) -> str | None:
    row = artifact.db.execute("SELECT max(date) FROM papers").fetchone()
    return row[0] if row else None


def new_rows(
    artifact: Artifact, since: str, categories: tuple[str, ...] = (), topics: tuple[tuple[str, int], ...] = ()
) -> list[int]:
    """Rows dated ``since`` or later, within any followed category or (level, id) topic."""
    rows = set(allowed_rows(artifact, Filters(since=since)) or [])
    if categories or topics:
        followed: set[int] = set()
        if categories:
            followed |= set(allowed_rows(artifact, Filters(categories=tuple(categories))) or [])
        for level, topic_id in topics:
            followed |= set(topic_store.rows_in(artifact.db, level, topic_id))
        rows &= followed
    return sorted(rows)


def rank_new(
    artifact: Artifact,
    index,
    like_rows: list[int],
    unlike_rows: list[int],
    candidates: list[int],
    k: int,
    method: str,
) -> list[ranking.Hit]:
    """The ``k`` best of ``candidates`` for the library, each with why (newest first without likes)."""
    if not candidates:
        return []
    if not like_rows:
        dates = {row: p.date or "" for row, p in artifact.papers_by_rows(candidates).items()}
        newest = sorted(candidates, key=lambda r: (dates[r], r), reverse=True)[:k]
        return ranking.hits_for(artifact, [(row, 0.0) for row in newest])
    if method == "fused":
        return related.from_examples(artifact, index, like_rows, unlike_rows, k, candidates)
    picked = _scored(artifact, index, like_rows, unlike_rows, candidates, method)[:k]
    return related.explain(artifact, ranking.hits_for(artifact, picked), [r for r, _ in picked], like_rows)


def _scored(
    artifact: Artifact, index, like_rows: list[int], unlike_rows: list[int], candidates: list[int], method: str
) -> list[tuple[int, float]]:
    """Candidates (inputs excluded) by ``rocchio`` or ``svm`` score, best first."""
    inputs = set(like_rows) | set(unlike_rows)
    pool = [r for r in candidates if r not in inputs]
    if method == "rocchio":
        target = related.rocchio_vector(artifact.vectors, like_rows, unlike_rows)
        return ranking.dense_rows(artifact, index, target, len(pool), pool)
    negatives = _background(len(artifact.vectors), inputs, SVM_NEGATIVES, seed=len(like_rows))
    scores = recommend.svm_scores(artifact.vectors, like_rows, unlike_rows, negatives=negatives, score_rows=pool)
    order = np.argsort(-scores, kind="stable")
    return [(pool[i], float(scores[i])) for i in order]


def _background(n: int, exclude: set[int], size: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    picked = rng.choice(n, size=min(n, size + len(exclude)), replace=False)
    return [int(r) for r in picked if int(r) not in exclude][:size]


def choice_key(version: str, like: list[str], unlike: list[str]) -> str:
    """What a measured choice depends on: the index version and the library's verdicts."""
    text = "\n".join([version, *sorted(like), "--", *sorted(unlike)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def choose_ranker(artifact: Artifact, index, like_rows: list[int], unlike_rows: list[int], seed: int = 0) -> Choice:
    """Hold out each fold of the likes in turn, rank it among ``BACKGROUND`` other papers
    with every ranker, and keep the ranker with the best mean AP@CUTOFF."""
    if len(like_rows) < MIN_LIKES_TO_MEASURE:
        return Choice(DEFAULT_RANKER)
    rng = np.random.default_rng(seed)
    shuffled = [like_rows[i] for i in rng.permutation(len(like_rows))]
    folds = min(FOLDS, len(shuffled))
    background = _background(len(artifact.vectors), set(like_rows) | set(unlike_rows), BACKGROUND, seed)
    totals = dict.fromkeys(RANKERS, 0.0)
    for fold in range(folds):
        held = shuffled[fold::folds]
        kept = [r for r in shuffled if r not in set(held)]
        pool = sorted(set(held) | set(background))
        for method in RANKERS:
            hits = rank_new(artifact, index, kept, unlike_rows, pool, CUTOFF, method)
            found = [artifact.row_of(h.paper.id) for h in hits]
            totals[method] += _average_precision(found, set(held))
    scores = {m: round(total / folds, 4) for m, total in totals.items()}
    best = max(RANKERS, key=lambda m: (scores[m], m == DEFAULT_RANKER))  # ties go to the default
    return Choice(best, scores, folds)


def _average_precision(ranked: list[int | None], relevant: set[int]) -> float:
    hits, total = 0, 0.0
    for position, row in enumerate(ranked, start=1):
        if row in relevant:
            hits += 1
            total += hits / position
    return total / len(relevant) if relevant else 0.0
