"""Answers over an opened artifact: text search and related papers.

Functions here take what they need (artifact, FAISS index, a query vector) and return
``Hit`` records; the facade in :mod:`engine.facade` wires them to a loaded index.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    related papers and recommendations, why it was chosen.

    ``score`` is what ordered the list and differs by mode (BM25, rank fusion, ...);
    ``relevance`` is the one figure a reader can compare across modes and lists: the
    cosine of the paper's embedding to what was asked (the query, the open paper, the
    nearest liked paper), clipped to [0, 1]. ``snippet``: the passage of the abstract
    that matched, with its marked words (see :mod:`engine.query.snippets`)."""

    paper: Paper
    score: float
    rank: int
    topic: dict | None = None
    because: dict | None = None
    relevance: float | None = None
    snippet: dict | None = None

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
            **({"relevance": round(self.relevance, 3)} if self.relevance is not None else {}),
            **({"snippet": self.snippet} if self.snippet is not None else {}),
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


def hits_for(artifact: Artifact, picked: list[tuple[int, float]], query_vector: np.ndarray | None = None) -> list[Hit]:
    """Hits for (row, score) pairs in rank order, each with its paper and topic (and its
    relevance, the cosine to ``query_vector``, when one is given)."""
    found = [row for row, _ in picked]
    papers = artifact.papers_by_rows(found)
    topics = topic_store.refs_for_rows(artifact.db, found)
    relevance = cosines(artifact, found, query_vector) if query_vector is not None else [None] * len(found)
    return [
        Hit(papers[row], score, rank, topics.get(row), relevance=near)
        for rank, ((row, score), near) in enumerate(zip(picked, relevance, strict=True), start=1)
    ]


def cosines(artifact: Artifact, rows: list[int], query_vector: np.ndarray) -> list[float]:
    """Each row's cosine to ``query_vector``, clipped to [0, 1] (a negative cosine reads
    as no likeness at all), from the full vectors: exact even where FAISS approximates."""
    if not rows:
        return []
    matrix = np.asarray(artifact.vectors[np.asarray(rows, dtype=np.int64)], dtype=np.float32)
    sims = matrix @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
    return [min(max(float(v), 0.0), 1.0) for v in sims]


def nearest(
    artifact: Artifact,
    index,
    query_vector: np.ndarray,
    k: int,
    allowed: list[int] | None = None,
) -> list[Hit]:
    """The ``k`` papers nearest to ``query_vector``, within ``allowed`` when it is given.
    Each hit carries its topic."""
    return hits_for(artifact, dense_rows(artifact, index, query_vector, k, allowed)[:k], query_vector)


def row_for_id(artifact: Artifact, paper_id: str) -> int:
    row = artifact.row_of(normalize_id(paper_id))
    if row is None:
        raise UnknownPaper(f"paper {paper_id!r} is not in the index at {artifact.path.parent}")
    return row


def newest_first(hits: list[Hit]) -> list[Hit]:
    """``hits`` by date, newest first (undated last; equal dates keep their relevance
    order), ranked anew."""
    ordered = sorted(hits, key=lambda hit: hit.paper.date or "", reverse=True)
    ordered = [hit for hit in ordered if hit.paper.date] + [hit for hit in ordered if not hit.paper.date]
    return [replace(hit, rank=rank) for rank, hit in enumerate(ordered, start=1)]
