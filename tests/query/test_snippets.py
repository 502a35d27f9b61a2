"""Snippets (the passage of an abstract that matched, its words marked), relevance (the
one figure shared by every mode and list) and sorting by date, on the 300-paper index
with sentence vectors and on plain abstracts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engine
from engine.errors import QueryError
from engine.query import snippets
from engine.text import sentences

ABSTRACT = (
    "We study galaxies in the early universe. "
    "Our networks classify networked sensors with a new loss. "
    "A second experiment measures the dark matter halo of nearby dwarf galaxies with stellar kinematics. "
    "Results agree with simulations."
)


def _marked(snippet: snippets.Snippet) -> list[str]:
    return [word.lower() for word in snippet.marked()]


def test_marks_follow_the_index_stems_and_the_best_sentence_opens_it() -> None:
    found = snippets.make(ABSTRACT, snippets.terms_of(["network"]))
    assert found.text.startswith("…Our networks classify networked")
    assert _marked(found) == ["networks", "networked"]  # "network" matches both, as FTS5 did
    # the sentence with most distinct query terms wins over an earlier one with fewer
    found = snippets.make(ABSTRACT, snippets.terms_of(["dark matter galaxies"]))
    assert found.text.startswith("…A second experiment measures the dark matter halo")
    assert set(_marked(found)) == {"dark", "matter", "galaxies"}
    for start, end in found.marks:
        assert found.text[start:end].lower() in {"dark", "matter", "galaxies"}


def test_stop_words_never_mark_and_no_match_shows_the_opening() -> None:
    found = snippets.make(ABSTRACT, snippets.terms_of(["the of with a"]))
    assert found.marks == () and found.text.startswith("We study galaxies")
    assert snippets.make("", snippets.terms_of(["x"])) == snippets.Snippet("", ())


def test_a_snippet_is_short_cut_at_words_and_keeps_its_first_mark_on_screen() -> None:
    long_sentence = "Background words come first here " * 12 + "and then the rare zeolite appears at last in it."
    found = snippets.make(long_sentence, snippets.terms_of(["zeolite"]))
    assert len(found.text) <= snippets.SNIPPET_CHARS + 2  # plus the two ellipses
    assert found.text.startswith("…") and found.text.endswith("…") is False
    assert _marked(found) == ["zeolite"]
    assert not found.text[1:].startswith(" ") and "  " not in found.text


def test_sentence_scores_choose_the_passage() -> None:
    parts = sentences(ABSTRACT)
    scores = [0.1] * len(parts)
    scores[-1] = 0.9
    found = snippets.make(ABSTRACT, frozenset(), scores)
    assert found.text == "…Results agree with simulations."
    # scores that do not fit the split (an index built by an older splitter) are ignored
    assert snippets.make(ABSTRACT, frozenset(), [1.0]).text.startswith("We study")


def test_markup_in_an_abstract_stays_text() -> None:
    found = snippets.make("A <b>bold</b> claim & <script>x</script> about lenses.", snippets.terms_of(["lenses"]))
    start = found.text.index("lenses")
    assert "<script>" in found.text and found.to_dict()["marks"] == [[start, start + len("lenses")]]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_every_search_hit_has_a_relevance_and_a_marked_snippet(corpus_index: Path, mode: str) -> None:
    with engine.open(corpus_index) as ix:
        hits = ix.search("dark matter halo of dwarf galaxies", k=10, mode=mode)
        query = ix.embedder().embed(["dark matter halo of dwarf galaxies"])[0]
        vectors = {pid: ix._artifact.vectors[ix._artifact.row_of(pid)] for pid in (h.paper.id for h in hits)}
    assert hits
    for hit in hits:
        assert hit.relevance == pytest.approx(max(0.0, float(np.dot(vectors[hit.paper.id], query))), abs=1e-4)
        assert hit.snippet["text"] and hit.snippet["text"].strip("…") in " ".join(hit.paper.abstract.split())
        words = {hit.snippet["text"][a:b].lower() for a, b in hit.snippet["marks"]}
        assert words <= {"dark", "matter", "halo", "halos", "haloes", "dwarf", "dwarfs", "galaxy", "galaxies"}
    assert any(hit.snippet["marks"] for hit in hits)
    if mode == "dense":  # the score is the cosine there: the same figure
        assert all(hit.relevance == pytest.approx(max(hit.score, 0), abs=1e-4) for hit in hits)


def test_dense_snippets_open_on_the_sentence_nearest_the_query(corpus_index: Path) -> None:
    with engine.open(corpus_index) as ix:
        text = "rotation curves of disc galaxies"
        hits = ix.search(text, k=5, mode="dense")
        query = ix.embedder().embed([text])[0]
        for hit in hits:
            row = ix._artifact.row_of(hit.paper.id)
            block, _ = ix._artifact.sentences.of_rows([row])
            nearest = sentences(" ".join(hit.paper.abstract.split()))[int(np.argmax(block[1:] @ query))]
            assert hit.snippet["text"].lstrip("…").startswith(nearest[:40])


def test_sort_by_date_is_newest_first_among_the_relevant(corpus_index: Path) -> None:
    with engine.open(corpus_index) as ix:
        relevant = {h.paper.id for h in ix.search("language models", k=100)}
        by_date = ix.search("language models", k=20, sort="date")
        with pytest.raises(QueryError, match="sort must be one of relevance, date"):
            ix.search("language models", sort="newest")
    dates = [h.paper.date for h in by_date]
    assert dates == sorted(dates, reverse=True) and len(set(dates)) > 1
    assert {h.paper.id for h in by_date} <= relevant and [h.rank for h in by_date] == list(range(1, 21))


def test_related_and_recommended_hits_mark_the_words_they_share(corpus_index: Path) -> None:
    with engine.open(corpus_index) as ix:
        source = ix.ids()[3]
        for hits in (ix.related(source, k=8), ix.recommend([source], k=8)):
            for hit in hits:
                assert hit.relevance == pytest.approx(min(max(hit.because["similarity"], 0), 1), abs=1e-4)
                shared = snippets.terms_of(hit.because["words"])
                for a, b in hit.snippet["marks"]:
                    assert shared & set(snippets.lexical.stems([hit.snippet["text"][a:b].lower()]).popitem()[1])
            assert any(hit.snippet["marks"] for hit in hits)
