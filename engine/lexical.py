"""Lexical search (SQLite FTS5, BM25) and its fusion with dense search.

The papers table carries an external-content FTS5 index over title, abstract and
authors (Porter stemming, diacritics folded), written with the version. A user's text
becomes safe FTS5 terms: quoted phrases stay phrases, other words become terms, stop
words and abstract boilerplate are dropped, everything is quoted (so ``AND``, ``NEAR``,
``*`` or ``:`` in a query are just words); papers with all terms come first, then any
term, ranked by BM25 (title x10, authors x5, abstract x1).
Hybrid search fuses the dense and lexical rankings by reciprocal rank fusion.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

from engine.errors import QueryError

FTS_SCHEMA = """
CREATE VIRTUAL TABLE papers_fts USING fts5(
    title, abstract, authors,
    content='papers', content_rowid='row',
    tokenize='porter unicode61 remove_diacritics 2'
);
"""
MODES = ("dense", "lexical", "hybrid")
RRF_K = 60  # the constant of Cormack et al.; rank 1 scores 1/61
_PHRASE = re.compile(r'"([^"]+)"')
_WORD = re.compile(r"\w+", re.UNICODE)
_WEIGHTS = (10.0, 1.0, 5.0)  # bm25 column weights: title, abstract, authors


def write_fts(db: sqlite3.Connection) -> None:
    """Create and fill the FTS index of a papers table just written."""
    db.executescript(FTS_SCHEMA)
    db.execute("INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')")
    db.commit()


def has_fts(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'papers_fts'").fetchone() is not None


def fts_terms(text: str) -> list[str]:
    """Quoted FTS5 terms for free text: phrases kept whole, words that say nothing about
    a subject ("the", "of", "using", "approach") dropped unless nothing else is left."""
    from engine.labels import stop_words

    phrases = []
    for phrase in _PHRASE.findall(text):
        words = _WORD.findall(phrase)
        if words:
            phrases.append('"' + " ".join(words) + '"')
    words = _WORD.findall(_PHRASE.sub(" ", text))
    stop = stop_words()
    kept = [w for w in words if w.lower() not in stop] or ([] if phrases else words)
    return list(dict.fromkeys(phrases + [f'"{w}"' for w in kept]))


def fts_query(text: str, operator: str = "OR") -> str:
    """A safe FTS5 MATCH expression for free text (empty when nothing is searchable)."""
    return f" {operator} ".join(fts_terms(text))


def lexical_rows(
    db: sqlite3.Connection, text: str, limit: int, allowed: set[int] | None = None, fill: bool = True
) -> list[tuple[int, float]]:
    """(row, BM25 score, higher is better) of the best ``limit`` matches: papers with
    every term first, then (``fill``) papers with any term.

    Why in two steps: BM25 is computed for every matching paper, ~1 microsecond each,
    and an OR of a title's words matches most of a big corpus (tens of ms at 87k),
    while their AND matches a few hundred (1-10 ms). Hybrid search skips the OR step:
    the dense ranking supplies the rest."""
    if not has_fts(db):
        raise QueryError("this index has no lexical index (built by an older paperscope): rebuild it")
    terms = fts_terms(text)
    if not terms:
        return []
    found: dict[int, float] = {}
    steps = [" AND ".join(terms)] + ([" OR ".join(terms)] if fill and len(terms) > 1 else [])
    for expression in steps:
        cursor = db.execute(
            "SELECT rowid, bm25(papers_fts, ?, ?, ?) FROM papers_fts WHERE papers_fts MATCH ? ORDER BY 2",
            (*_WEIGHTS, expression),
        )
        for row, score in cursor:
            if row not in found and (allowed is None or row in allowed):
                found[int(row)] = -float(score)  # SQLite's bm25 is lower-is-better
                if len(found) >= limit:
                    return list(found.items())
    return list(found.items())


def fuse(rankings: Sequence[Sequence[int]], limit: int) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: each list adds 1/(60 + rank) to the rows it ranks."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking, start=1):
            scores[row] = scores.get(row, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    return mode
