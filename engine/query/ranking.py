"""Answers over an opened artifact: text search and related papers.

Functions here take what they need (artifact, FAISS index, a query vector) and return
``Hit`` records; the facade in :mod:`engine.facade` wires them to a loaded index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.artifact import topic_store
from engine.artifact.store import Artifact
from engine.artifact.vectors import VectorIndex
from engine.errors import QueryError, UnknownPaper
from engine.papers import Paper, normalize_id

MAX_K = 1000
MAX_QUERY_CHARS = 2000


@dataclass(frozen=True)
class Hit:
    """One answer: the paper, its score, its topic (None until topics exist) and, for
    related papers and recommendations, why it was chosen."""

    paper: Paper
    score: float
    rank: int
    topic: dict | None = None
    because: dict | None = None

    def to_dict(self) -> dict:
        p = self.paper
        return {
            "rank": self.rank,
            "id": p.id,
            "score": round(self.score, 4),
            "title": p.title,
            "authors": list(p.authors),
            "date": p.date,
            "categories": list(p.categories),
            "primary_category": p.primary_category,
            "topic": self.topic,
            **({"because": self.because} if self.because is not None else {}),
        }


@dataclass
class BatchAnswer:
    """One line of a batch of queries: its hits, or why it has none."""

    line: int
    query: str
    hits: list[Hit]
    elapsed_ms: float
    error: str | None = None

    def to_dict(self) -> dict:
        out = {"line": self.line, "query": self.query, "elapsed_ms": round(self.elapsed_ms, 2)}
        if self.error:
            return {**out, "error": self.error}
        return {**out, "hits": [hit.to_dict() for hit in self.hits]}


def check_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1 or k > MAX_K:
        raise QueryError(f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
    return k


def check_query(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise QueryError("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the query has {len(text):,} characters (limit {MAX_QUERY_CHARS:,})")
    return text


def dense_rows(
    artifact: Artifact, index: VectorIndex, query_vector: np.ndarray, depth: int, allowed: list[int] | None = None
) -> list[tuple[int, float]]:
    """(row, cosine) of the ``depth`` nearest rows, within ``allowed`` when given."""
    if allowed is not None and not allowed:
        return []
    chosen = None if allowed is None else np.array(allowed, dtype=np.int64)
    # Re-ranking reads the file row by row (bounded memory); exact filtered search scans the map.
    full = artifact.row_reader if index.reads_rows and allowed is None else artifact.vectors
    scores, rows = index.search(query_vector, depth, chosen, rerank_with=full)
    return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]


def hits_for(artifact: Artifact, picked: list[tuple[int, float]]) -> list[Hit]:
    """Hits for (row, score) pairs in rank order, each with its paper and topic."""
    found = [row for row, _ in picked]
    papers = artifact.papers_by_rows(found)
    topics = topic_store.refs_for_rows(artifact.db, found)
    return [Hit(papers[row], score, rank, topics.get(row)) for rank, (row, score) in enumerate(picked, start=1)]


def nearest(
    artifact: Artifact,
    index,
    query_vector: np.ndarray,
    k: int,
    allowed: list[int] | None = None,
) -> list[Hit]:
    """The ``k`` papers nearest to ``query_vector``, within ``allowed`` when it is given.
    Each hit carries its topic."""
    return hits_for(artifact, dense_rows(artifact, index, query_vector, k, allowed)[:k])


def row_for_id(artifact: Artifact, paper_id: str) -> int:
    row = artifact.row_of(normalize_id(paper_id))
    if row is None:
        raise UnknownPaper(f"paper {paper_id!r} is not in the index at {artifact.path.parent}")
    return row
