"""New papers ranked for a reader: the feed's answer over an opened index.

Which papers are new: those dated on or after ``since`` (an ISO day), optionally only in
followed categories or topics (any of them), minus the ones the reader has read or
already has in the library. How they are ranked: by the library's likes and unlikes
with one of the recommenders of :mod:`engine.query.recommend`, or newest first for a
library with no likes yet.

Which recommender, as ``benchmarks/feed.py`` measured it (87k real papers, simulated
readers, NDCG@20 of a week's feed): below ``SVM_FROM_LIKES`` likes ``fused`` (at 3
likes it leads the SVM by 0.01, within noise), from there a linear SVM trained per
library on its likes against a background sample, as arxiv-sanity-lite trains one per
tag (ahead of fused by 0.01 at 5 likes, 0.04 at 7, 0.06 at 10, 0.09 at 30).
``measured`` instead picks, per library, the ranker that finds the library's own
held-out likes best (k-fold); measured too, it trails the rule by 0.01-0.02 NDCG@20
at ~1 s a feed, so it is opt-in.
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
METHODS = (*RANKERS, "measured")  # what a feed may be asked to rank with
DEFAULT_RANKER = "fused"
SVM_FROM_LIKES = 5  # measured: see the module's docstring and benchmarks/README.md ("The feed")
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
    asked: bool = False  # named by the caller, not chosen here

    def describe(self) -> str:
        if self.method == "newest":
            return "newest first (no liked papers yet)"
        if self.asked:
            return f"{self.method} (as asked)"
        if not self.scores:
            return f"{self.method} ({RULE_REASONS[self.method]})"
        measured = ", ".join(f"{m} {s:.3f}" for m, s in sorted(self.scores.items(), key=lambda kv: -kv[1]))
        return f"{self.method}, which found your held-out likes best ({self.folds} folds, AP@{CUTOFF}: {measured})"


RULE_REASONS = {
    "fused": f"the best ranker for a library of under {SVM_FROM_LIKES} likes",
    "svm": f"a linear SVM trained on your likes: the best ranker from {SVM_FROM_LIKES} likes on",
}


def default_choice(likes: int) -> Choice:
    """The ranker the benchmark found best for a library of ``likes`` liked papers."""
    return Choice("svm" if likes >= SVM_FROM_LIKES else DEFAULT_RANKER)


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
    negatives = _svm_negatives(artifact, like_rows, unlike_rows)
    scores = recommend.svm_scores(artifact.vectors, like_rows, unlike_rows, negatives=negatives, score_rows=pool)
    order = np.argsort(-scores, kind="stable")
    return [(pool[i], float(scores[i])) for i in order]


def _svm_negatives(artifact: Artifact, like_rows: list[int], unlike_rows: list[int]) -> list[int]:
    """The sampled papers a library's SVM is trained against (drawn the same way for the
    same likes, so a model fitted ahead is the one a feed asks for)."""
    inputs = set(like_rows) | set(unlike_rows)
    return _background(len(artifact.vectors), inputs, SVM_NEGATIVES, seed=len(like_rows))


def prepare(artifact: Artifact, like_rows: list[int], unlike_rows: list[int]) -> None:
    """Fit ahead what a library's next feed will rank with, when that is the SVM (the
    fit is most of such a feed's time; the model is kept, see recommend.svm_model)."""
    if like_rows and default_choice(len(like_rows)).method == "svm":
        negatives = _svm_negatives(artifact, like_rows, unlike_rows)
        recommend.svm_model(artifact.vectors, like_rows, unlike_rows, negatives=negatives)


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
