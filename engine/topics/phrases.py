"""Phrase hygiene for topic labels and keywords: abbreviations that repeat the words
before them, fragments of longer names, and the key under which two labels count as
one (plural endings ignored).

Candidates are n-grams of the papers, so "retrieval-augmented generation (RAG)" gives
"retrieval-augmented generation rag", and "artificial intelligence" can be cut to
"intelligence ai". These rules tidy them before a label is chosen.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

FRAGMENT_SHARE = 0.6  # a phrase after one same word this often is part of a longer one
MAX_WORDS = 5  # as long as a label may be


def drop_acronyms(phrase: str) -> str:
    """ "active galactic nuclei agn" → "active galactic nuclei", "distillation kd" →
    "distillation": papers put the abbreviation in parentheses after the words, so
    n-grams pick it up; a word that spells the initials of the words before it goes."""
    kept: list[str] = []
    for word in phrase.split():
        initials = "".join(part[0] for w in kept for part in w.split("-") if part)
        if not is_acronym_of(word, initials):
            kept.append(word)
    return " ".join(kept)


def is_acronym_of(word: str, initials: str) -> bool:
    """Whether ``word`` abbreviates the words whose ``initials`` come before it: its
    last letters are their initials ("language models llms": the "large" was a stop
    word), or it is short or vowel-less and ends with the initials of every word before
    it ("distillation kd"); "spin glass" and "accretion gas" stay whole."""
    if not initials or not word.isalnum() or not 2 <= len(word) <= 7:
        return False
    for stem in {word, word[:-1] if word.endswith("s") and len(word) > 2 else word}:  # "llms", "dgs"
        span = min(len(stem), len(initials))
        if span >= 2 and initials[-span:] == stem[-span:]:
            return True
    short = word[:-1] if word.endswith("s") and len(word) >= 4 else word
    abbreviation_like = len(short) <= 3 or not any(vowel in short for vowel in "aeiou")
    return abbreviation_like and len(initials) < len(short) and short.endswith(initials)


def tidy(ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Every candidate without acronym stutter; the best score where two become one."""
    best: dict[str, float] = {}
    for phrase, score in ranked:
        clean = drop_acronyms(phrase)
        if clean and score > best.get(clean, -np.inf):
            best[clean] = score
    return sorted(best.items(), key=lambda item: -item[1])


def complete_fragments(ranked: list[tuple[str, float]], docs: list[str], stop: frozenset[str]):
    """ "intelligence" → "artificial intelligence", "cold molecular" → "cold molecular
    gas": a phrase that nearly always comes after (or before) one same word is a
    fragment of the longer phrase, which takes its place."""
    text = " " + " | ".join(docs) + " "
    out = []
    for phrase, score in ranked:
        out.append((_completed(phrase, text, stop), score))
    return out


def _completed(phrase: str, text: str, stop: frozenset[str], steps: int = 2) -> str:
    """``phrase`` grown by up to ``steps`` words it nearly always comes with."""
    for _ in range(steps):
        grown = _grown_once(phrase, text, stop)
        if grown == phrase:
            break
        phrase = grown
    return phrase


def _grown_once(phrase: str, text: str, stop: frozenset[str]) -> str:
    """``phrase`` with the word before (or else after) it, when one same word stands
    there in ``FRAGMENT_SHARE`` of its occurrences (and at least twice)."""
    before, after, total = _neighbour_words(phrase, text)
    for found, join in ((before, lambda w, p: f"{w} {p}"), (after, lambda w, p: f"{p} {w}")):
        word, times = found.most_common(1)[0] if found else ("", 0)
        whole = join(word, phrase)
        usable = word and word not in stop and word != "|" and len(whole.split()) <= MAX_WORDS
        if usable and times >= 2 and times >= FRAGMENT_SHARE * total:
            return whole
    return phrase


def _neighbour_words(phrase: str, text: str) -> tuple[Counter, Counter, int]:
    """The words just before and just after each occurrence of `` phrase `` in ``text``
    (single-spaced words, a space at both ends), and the number of occurrences. Plain
    ``find``: a regular expression starting with ``(\\S+)``, retried at every position,
    took a minute for the labels of 7k papers."""
    needle = f" {phrase} "
    before: Counter = Counter()
    after: Counter = Counter()
    total = 0
    at = text.find(needle)
    while at >= 0:
        total += 1
        start = text.rfind(" ", 0, at) + 1
        before[text[start:at]] += 1
        tail = at + len(needle)
        end = text.find(" ", tail)
        after[text[tail : end if end >= 0 else len(text)]] += 1
        at = text.find(needle, at + 1)
    before.pop("", None)
    after.pop("", None)
    return before, after, total


def label_key(label: str) -> str:
    """Labels count as the same when they differ only in plural endings ("dwarf
    galaxies", "dwarf galaxy")."""
    return " ".join(_singular(word) for word in label.lower().replace(",", " ").split())


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    return word.rstrip("s")
