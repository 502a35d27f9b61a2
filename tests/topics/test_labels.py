"""Topic labels a reader can trust: no acronym stutter, no fragments, broad labels that
never repeat one of their fine topics, no two topics of a level with one label.

The rules on real phrases from arXiv labels, then every label of the committed
300-paper fixture (astro-ph.GA + cs.CL, topics fitted at build)."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine.topics import labels, phrases


@pytest.mark.parametrize(
    ("phrase", "tidy"),
    [
        ("distillation kd", "distillation"),
        ("recognition asr", "recognition"),
        ("learning cl", "learning"),
        ("intelligence ai", "intelligence"),
        ("retrieval-augmented generation rag", "retrieval-augmented generation"),
        ("active galactic nuclei agn", "active galactic nuclei"),
        ("language models llms", "language models"),
        ("graph neural networks gnns", "graph neural networks"),
        ("dark matter dm", "dark matter"),
        # real words that happen to end with an initial stay
        ("spin glass", "spin glass"),
        ("accretion gas", "accretion gas"),
        ("x-ray binaries", "x-ray binaries"),
        ("large language models", "large language models"),
    ],
)
def test_an_abbreviation_after_its_words_goes(phrase: str, tidy: str) -> None:
    assert phrases.drop_acronyms(phrase) == tidy


def test_a_fragment_becomes_the_phrase_it_belongs_to() -> None:
    docs = [
        "we study artificial intelligence in hospitals",
        "artificial intelligence for triage",
        "a survey of artificial intelligence systems",
        "cold molecular gas in the disc",
        "the cold molecular gas fraction",
    ]
    ranked = [("intelligence", 1.0), ("cold molecular", 0.5), ("hospitals", 0.2)]
    completed = dict(phrases.complete_fragments(ranked, docs, frozenset({"in", "the", "a", "of", "for", "we"})))
    assert set(completed) == {"artificial intelligence", "cold molecular gas", "hospitals"}


def test_labels_differing_only_in_plural_are_one_label() -> None:
    assert phrases.label_key("dwarf galaxies") == phrases.label_key("Dwarf galaxy")
    assert phrases.label_key("black holes") == phrases.label_key("black hole")
    assert phrases.label_key("spin glass") != phrases.label_key("spin")


def _stutters(phrase: str) -> bool:
    words = phrase.replace(",", " ").split()
    return any(
        phrases.is_acronym_of(word, "".join(p[0] for w in words[:i] for p in w.split("-") if p))
        for i, word in enumerate(words)
    )


def test_every_label_of_the_fixture_reads_well(corpus_index: Path) -> None:
    with engine.open(corpus_index) as ix:
        fine, coarse = ix.topics("fine"), ix.topics("coarse")
    for level in (fine, coarse):
        keys = [phrases.label_key(t.label) for t in level]
        assert len(set(keys)) == len(keys), [t.label for t in level]  # no two topics share a label
        for t in level:
            assert 2 <= len(t.label.replace(",", " ").split()) <= labels.MAX_LABEL_WORDS, t.label
            assert not _stutters(t.label), t.label
            assert not [k for k in t.keywords if _stutters(k)], (t.label, t.keywords)
    for broad in coarse:
        children = {phrases.label_key(t.label) for t in fine if t.parent == broad.id}
        assert phrases.label_key(broad.label) not in children, (broad.label, children)
