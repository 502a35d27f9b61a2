"""Lexical search (SQLite FTS5, BM25) and its fusion with dense search.

The papers table carries an external-content FTS5 index over title, abstract and
authors (Porter stemming, diacritics folded), written with the version. A user's text
becomes safe FTS5 terms: quoted phrases stay phrases, other words become terms, stop
words and abstract boilerplate are dropped, everything is quoted (so ``AND``, ``NEAR``,
``*`` or ``:`` in a query are just words); papers with all terms come first, then papers
with any of the specific terms, each step ranked by BM25 (title x10, authors x5,
abstract x1). A table of document counts per stemmed term, written with the FTS
index, tells which terms are specific.
Hybrid search fuses the dense and lexical rankings by reciprocal rank fusion.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence

from engine.errors import QueryError
from engine.text import stop_words

TOKENIZER = "porter unicode61 remove_diacritics 2"
FTS_SCHEMA = f"""
CREATE VIRTUAL TABLE papers_fts USING fts5(
    title, abstract, authors,
    content='papers', content_rowid='row',
    tokenize='{TOKENIZER}'
);
"""
DF_SCHEMA = "CREATE TABLE papers_df (term TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID"
MODES = ("dense", "lexical", "hybrid")
RRF_K = 60  # the constant of Cormack et al.; rank 1 scores 1/61
_PHRASE = re.compile(r'"([^"]+)"')
_WORD = re.compile(r"\w+", re.UNICODE)
_WEIGHTS = (10.0, 1.0, 5.0)  # bm25 column weights: title, abstract, authors
COMMON_SHARE = 0.2  # a term in more papers than this share is too common to widen a search with
# The most papers a hybrid search's words may match (bounded by the rarest word's count)
# before the dense ranking answers alone. FTS5 scores every paper holding all the words,
# ~1.2 microseconds each after reading each word's list: at 1M papers "large language
# model reasoning" matched 116k papers and took 140 ms, "dark matter halo" 7.9k and 14 ms.
# Words that common add little to the meaning's ranking (their idf is low).
HYBRID_MATCH_BUDGET = 20_000


def write_fts(db: sqlite3.Connection) -> None:
    """Create and fill the FTS index of a papers table just written."""
    db.executescript(FTS_SCHEMA)
    db.execute("INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')")
    write_document_counts(db)
    db.commit()


def write_document_counts(db: sqlite3.Connection) -> None:
    """Materialize how many papers hold each stemmed term (0.8 s at 87k papers): read
    through fts5vocab at query time it costs up to 2.5 ms per common term."""
    db.execute("CREATE VIRTUAL TABLE temp.papers_vocab USING fts5vocab(main, papers_fts, row)")
    db.execute(DF_SCHEMA)
    db.execute("INSERT INTO papers_df SELECT term, doc FROM temp.papers_vocab")
    db.execute("DROP TABLE temp.papers_vocab")
    db.commit()


def forget_rows(db: sqlite3.Connection, rows: Sequence[int]) -> None:
    """Take papers out of the FTS index and the document counts, before their rows in
    the papers table change (an external-content index must be told the old text)."""
    records = _fts_records(db, rows)
    db.executemany(
        "INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors) VALUES ('delete', ?, ?, ?, ?)", records
    )
    _count_terms(db, records, -1)


def index_rows(db: sqlite3.Connection, rows: Sequence[int]) -> None:
    """Put papers (new, or just rewritten) into the FTS index and the document counts."""
    records = _fts_records(db, rows)
    db.executemany("INSERT INTO papers_fts(rowid, title, abstract, authors) VALUES (?, ?, ?, ?)", records)
    _count_terms(db, records, +1)


def _fts_records(db: sqlite3.Connection, rows: Sequence[int]) -> list[tuple]:
    out = []
    rows = [int(r) for r in rows]
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        marks = ",".join("?" * len(chunk))
        out += db.execute(f"SELECT row, title, abstract, authors FROM papers WHERE row IN ({marks})", chunk).fetchall()
    return out


def _count_terms(db: sqlite3.Connection, records: list[tuple], step: int) -> None:
    """Adjust the document counts by the distinct terms of each record: the same terms
    the FTS index stores, from SQLite's own tokenizer."""
    if not records or not has_document_counts(db):
        return
    counts = Counter(term for _, *columns in records for term in set(index_tokens(" ".join(columns))))
    db.executemany(
        "INSERT INTO papers_df(term, docs) VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET docs = docs + excluded.docs",
        [(term, step * count) for term, count in counts.items()],
    )
    if step < 0:
        db.execute("DELETE FROM papers_df WHERE docs <= 0")


def has_fts(db: sqlite3.Connection) -> bool:
    return _has_table(db, "papers_fts")


def has_document_counts(db: sqlite3.Connection) -> bool:
    return _has_table(db, "papers_df")


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


_tokenizers = threading.local()


def _scratch() -> sqlite3.Connection:
    """This thread's in-memory FTS5 table with the index's tokenizer, and its token view."""
    scratch = getattr(_tokenizers, "db", None)
    if scratch is None:
        scratch = sqlite3.connect(":memory:", isolation_level=None)
        scratch.execute(f"CREATE VIRTUAL TABLE scratch USING fts5(text, tokenize='{TOKENIZER}')")
        scratch.execute("CREATE VIRTUAL TABLE scratch_tokens USING fts5vocab(scratch, instance)")
        _tokenizers.db = scratch
    return scratch


def index_tokens(text: str) -> list[str]:
    """The tokens FTS5 stores for ``text``: SQLite's own tokenizer and Porter stemmer run
    on a scratch in-memory table, so query words match the index exactly."""
    scratch = _scratch()
    scratch.execute("DELETE FROM scratch")
    scratch.execute("INSERT INTO scratch(text) VALUES (?)", (text,))
    return [term for (term,) in scratch.execute("SELECT term FROM scratch_tokens ORDER BY offset")]


_STEM_CACHE_WORDS = 200_000  # ~20 MB; a server's vocabulary settles well below this
_stem_cache: dict[str, tuple[str, ...]] = {}
_stem_lock = threading.Lock()


def stems(words: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The index terms of each word (Porter stems; none for a word the tokenizer drops,
    several for one it splits), from SQLite's own tokenizer like :func:`index_tokens`,
    but for many words in one statement and remembered across calls."""
    words = set(words)
    with _stem_lock:
        missing = [w for w in words if w not in _stem_cache]
        if missing:
            if len(_stem_cache) + len(missing) > _STEM_CACHE_WORDS:
                _stem_cache.clear()
            scratch = _scratch()
            scratch.execute("DELETE FROM scratch")
            scratch.executemany("INSERT INTO scratch(rowid, text) VALUES (?, ?)", enumerate(missing, start=1))
            found: dict[int, list[str]] = {}
            for term, doc in scratch.execute("SELECT term, doc FROM scratch_tokens ORDER BY doc, offset"):
                found.setdefault(doc, []).append(term)
            for number, word in enumerate(missing, start=1):
                _stem_cache[word] = tuple(found.get(number, ()))
        return {w: _stem_cache[w] for w in words}


def stem_document_counts(db: sqlite3.Connection, terms: Iterable[str]) -> dict[str, int]:
    """Papers holding each index term (absent: none), in one query."""
    terms = list(set(terms))
    found: dict[str, int] = {}
    for start in range(0, len(terms), 500):
        chunk = terms[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(db.execute(f"SELECT term, docs FROM papers_df WHERE term IN ({marks})", chunk))
    return found


def document_counts(db: sqlite3.Connection, terms: Sequence[str]) -> dict[str, int]:
    """Papers holding each FTS term; for a phrase, those holding its rarest word (an upper
    bound). 0 for a term no paper holds."""
    counts = {}
    for term in terms:
        tokens = index_tokens(term.strip('"'))
        marks = ",".join("?" * len(tokens))
        found = dict(db.execute(f"SELECT term, docs FROM papers_df WHERE term IN ({marks})", tokens))
        counts[term] = min((found.get(token, 0) for token in tokens), default=0)
    return counts


def fill_steps(db: sqlite3.Connection, terms: list[str]) -> list[str]:
    """MATCH expressions that widen an all-terms search: first any of the specific terms
    (held by at most 20% of papers; the rarest term always counts as specific), then,
    only if that finds too few papers, any term at all.

    Why: an OR of a title's words matches most of a big corpus through words like
    "model" or "learning", and FTS5's bm25() costs ~0.5 microseconds per match. Those
    words carry little BM25 weight (idf < 1.6 against 5-7 for a specific word). Measured
    on 500 titles (known-item MRR@10 at 3k papers / p50 at 87k): every term 0.974 / 39 ms;
    share 0.2: 0.974 / 27 ms; 0.1: 0.959 / 15 ms; 0.05: 0.938 / 10 ms. Dropping terms
    from an AND one by one, rarest kept, was worse still (0.882): it buries a paper
    that lacks one rare query word."""
    if not has_document_counts(db):  # an index written before the counts: any term, slowly
        return [" OR ".join(terms)]
    counts = document_counts(db, terms)
    present = [term for term in terms if counts[term] > 0]
    if not present:
        return []
    papers = db.execute("SELECT COALESCE(MAX(row), -1) + 1 FROM papers").fetchone()[0]
    cap = max(COMMON_SHARE * papers, min(counts[term] for term in present))
    specific = [term for term in present if counts[term] <= cap]
    return [" OR ".join(specific)] + ([" OR ".join(present)] if len(specific) < len(present) else [])


def fts_terms(text: str) -> list[str]:
    """Quoted FTS5 terms for free text: phrases kept whole, words that say nothing about
    a subject ("the", "of", "using", "approach") dropped unless nothing else is left."""
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
    db: sqlite3.Connection,
    text: str,
    limit: int,
    allowed: set[int] | None = None,
    fill: bool = True,
    budget: int | None = None,
) -> list[tuple[int, float]]:
    """(row, BM25 score, higher is better) of the best ``limit`` matches: papers with
    every term first, then (``fill``) papers with some of them (see :func:`fill_steps`).
    ``budget``: none at all when more papers than that may hold every term.

    Why in steps: BM25 is computed for every matching paper, and an OR of a title's words
    matches most of a big corpus (39 ms at 87k), while their AND matches a few hundred
    (1-10 ms). Hybrid search skips the fill: the dense ranking supplies the rest."""
    if not has_fts(db):
        raise QueryError("this index has no lexical index (built by an older paperscope): rebuild it")
    terms = fts_terms(text)
    if not terms:
        return []
    if budget is not None and has_document_counts(db) and min(document_counts(db, terms).values()) > budget:
        return []
    found: dict[int, float] = {}
    first = " AND ".join(terms)
    for expression in [first] + (fill_steps(db, terms) if fill and len(terms) > 1 else []):
        # Unfiltered, a LIMIT lets SQLite keep a top-N heap instead of sorting every
        # match (-25% at 87k); with a filter, rows are skipped here, so no LIMIT.
        sql = "SELECT rowid, bm25(papers_fts, ?, ?, ?) FROM papers_fts WHERE papers_fts MATCH ? ORDER BY 2"
        cursor = (
            db.execute(sql + " LIMIT ?", (*_WEIGHTS, expression, limit + len(found)))
            if allowed is None
            else db.execute(sql, (*_WEIGHTS, expression))
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
