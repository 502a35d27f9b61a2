"""Lexical (FTS5/BM25) and hybrid search on the 300-paper astro-ph.GA + cs.CL index;
targets are picked from the input file, so the expectations are independent of it."""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

import engine
from engine.artifact import store
from engine.artifact.lexical import fill_steps, fts_query, fuse, lexical_rows
from engine.errors import QueryError
from engine.ingest.sources import read_papers
from engine.query.filters import Filters
from tests.conftest import CORPUS_SAMPLE

PAPERS = read_papers(CORPUS_SAMPLE).papers


def _rare_word() -> tuple[str, str]:
    """A long word whose first 7 letters (beyond any stemming) occur in exactly one
    paper (title, abstract or authors), and that paper's id."""
    texts = {p.id: " ".join([p.title, p.abstract, *p.authors]).lower() for p in PAPERS}
    prefixes = Counter(w[:7] for text in texts.values() for w in set(re.findall(r"[a-z]{9,}", text)))
    for pid, text in texts.items():
        for word in sorted(set(re.findall(r"[a-z]{9,}", text))):
            if prefixes[word[:7]] == 1 and sum(word[:7] in t for t in texts.values()) == 1:
                return word, pid
    raise AssertionError("no rare word")


def test_fts_queries_are_safe_for_any_text() -> None:
    assert fts_query('dark "matter halo" AND NEAR(x) * : -') == '"matter halo" OR "dark" OR "NEAR" OR "x"'
    assert fts_query("  ** :: ") == ""
    assert (
        fts_query("a survey of the graph neural networks", "AND") == '"survey" AND "graph" AND "neural" AND "networks"'
    )
    assert fts_query("the of") == '"the" OR "of"'  # only stop words: keep them rather than nothing


@pytest.mark.parametrize("text", ['"unclosed', "AND", "NOT OR", "a:b", "*", 'x" OR "y', "(((", "ünïcödé"])
def test_operators_in_queries_are_just_words(corpus_index: Path, text: str) -> None:
    with engine.open(corpus_index) as ix:
        for mode in ("lexical", "hybrid"):
            ix.search(text, k=5, mode=mode)  # never an FTS syntax error


def test_lexical_finds_a_rare_word_an_author_and_a_phrase(corpus_index: Path) -> None:
    word, owner = _rare_word()
    author_paper = next(p for p in PAPERS if p.authors and len(p.authors[0].split()) >= 2)
    surname = author_paper.authors[0].split()[-1]
    phrase_paper = PAPERS[7]
    phrase = " ".join(phrase_paper.title.split()[:3])
    with engine.open(corpus_index) as ix:
        assert ix.search(word, k=1, mode="lexical")[0].paper.id == owner
        by_author = [h.paper.id for h in ix.search(author_paper.authors[0], k=10, mode="lexical")]
        assert author_paper.id in by_author
        assert surname.lower() in " ".join(ix.paper(by_author[0]).authors).lower()
        quoted = ix.search(f'"{phrase}"', k=5, mode="lexical")
        assert phrase_paper.id in [h.paper.id for h in quoted]


def test_lexical_widens_from_all_terms_to_the_rarest(corpus_index: Path) -> None:
    """No paper has all three words (one is in no paper at all): the paper with the rare
    word comes first, then papers with the common word fill the k results."""
    word, owner = _rare_word()
    common = "galaxies"
    assert sum(common[:6] in p.abstract.lower() for p in PAPERS) > 20
    with engine.open(corpus_index) as ix:
        hits = ix.search(f"{word} zzqxvw {common}", k=8, mode="lexical")
        assert hits[0].paper.id == owner and len(hits) == 8
        for hit in hits[1:]:
            text = " ".join([hit.paper.title, hit.paper.abstract]).lower()
            assert common[:6] in text and word[:7] not in text
    db = sqlite3.connect(f"file:{store.resolve_version(corpus_index) / 'papers.sqlite'}?mode=ro", uri=True)
    try:  # the widening leaves out the common word (in > 5% of papers) while it can
        terms = [f'"{word}"', '"zzqxvw"', f'"{common}"']
        assert fill_steps(db, terms) == [f'"{word}"', f'"{word}" OR "{common}"']
    finally:
        db.close()


def test_query_words_are_stemmed_like_the_index() -> None:
    from engine.artifact.lexical import index_tokens

    assert index_tokens("Segmenting Transformers naïve COVID-19") == ["segment", "transform", "naiv", "covid", "19"]


def test_hybrid_fuses_both_rankings(corpus_index: Path) -> None:
    word, owner = _rare_word()
    text = f"{word} galaxies"
    with engine.open(corpus_index) as ix:
        dense = [h.paper.id for h in ix.search(text, k=10, mode="dense")]
        words = [h.paper.id for h in ix.search(text, k=10, mode="lexical")]
        hybrid = ix.search(text, k=10, mode="hybrid")
    ids = [h.paper.id for h in hybrid]
    assert owner in ids  # the exact-word match survives fusion
    assert set(ids) & set(dense) and set(ids) & set(words)
    assert all(a.score >= b.score for a, b in itertools.pairwise(hybrid))
    assert all(h.topic for h in hybrid)


def test_hybrid_words_stop_at_their_budget(corpus_index: Path) -> None:
    """Past the budget of possible matches (the rarest word's paper count) the words are
    not scored at all; within it they are, exactly as without a budget."""
    common = "galaxies"
    holders = sum(common[:6] in " ".join([p.title, p.abstract]).lower() for p in PAPERS)
    db = sqlite3.connect(f"file:{store.resolve_version(corpus_index) / 'papers.sqlite'}?mode=ro", uri=True)
    try:
        unbounded = lexical_rows(db, common, 50, fill=False)
        assert len(unbounded) > 20
        assert lexical_rows(db, common, 50, fill=False, budget=holders + 50) == unbounded
        assert lexical_rows(db, common, 50, fill=False, budget=5) == []
        word, _ = _rare_word()  # the rarest word bounds an AND: it and the common word, within any budget
        assert lexical_rows(db, f"{word} {common}", 50, fill=False, budget=5) == lexical_rows(
            db, f"{word} {common}", 50, fill=False
        )
        assert len(lexical_rows(db, word, 50, fill=False, budget=5)) == 1
    finally:
        db.close()


def test_rrf_arithmetic() -> None:
    fused = fuse([[1, 2, 3], [3, 1]], limit=3)
    assert [row for row, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_filters_hold_in_every_mode(corpus_index: Path, mode: str) -> None:
    with engine.open(corpus_index) as ix:
        hits = ix.search("galaxy stars language", k=10, mode=mode, filters=Filters(categories=("cs.CL",)))
    assert hits and all("cs.CL" in h.paper.categories for h in hits)


def test_unknown_mode_is_an_error(corpus_index: Path) -> None:
    with engine.open(corpus_index) as ix, pytest.raises(QueryError, match="mode"):
        ix.search("x", mode="psychic")
