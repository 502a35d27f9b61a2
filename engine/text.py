"""Words: the tokenizers and the stop-word list shared by topic labels, lexical search,
related papers and the reasons their hits give, so all agree on what a content word is;
and the sentence split of abstracts."""

from __future__ import annotations

import functools
import re
import string
from importlib import resources

_TOKEN = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
# Words that say nothing about a paper's subject: English stop words plus the
# boilerplate of abstracts.
_BOILERPLATE = """
paper papers propose proposed proposes present presents presented introduce introduces introduced
approach approaches method methods methodology result results show shows shown showing demonstrate
demonstrates demonstrated state art novel new work works study studies studied based using use used
uses existing performance experiments experimental experiment achieve achieves achieved outperform
outperforms outperforming significantly significant framework frameworks task tasks extensive effective
effectiveness efficient improve improves improved improvement improvements problem problems various
different recent recently large small high low key main also well however furthermore moreover thus
therefore paper's address addresses addressing provide provides provided find finds found obtain obtained
evaluate evaluated evaluation evaluations benchmark benchmarks code available github https http www com
url demonstrate superior compared comparison previous prior first second third two three one several many
including include includes within across able enable enables enabling allows allow allowing consider
considered considering given via towards toward respectively particular particularly specifically
leverage leverages leveraging aims aim aimed investigate investigates investigated analysis analyze
analyzed findings insights potential key crucial important challenging challenge challenges remains
remain need needs often however while whereas although despite among due since order way ways
state-of-the-art sota dataset datasets require requires required perform performs performed efficiently
effectively accurately accuracy high-quality real-world wide range variety number numbers quality
such like make makes made take takes taken better best good strong stronger
directly type types kind kinds
"""


@functools.cache
def stop_words() -> frozenset[str]:
    """English stop words (scikit-learn's list, shipped as package data: importing
    scikit-learn cost a cold ``paperscope search`` ~1.5 s) and the boilerplate of abstracts."""
    return english_stop_words() | frozenset(_BOILERPLATE.split())


@functools.cache
def english_stop_words() -> frozenset[str]:
    lines = (resources.files("engine") / "data" / "english-stop-words.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


# Inline maths ($...$, \(...\)) and TeX commands (\mathfrak, \mathcal{O}'s command):
# notation, not words a reader would call a subject.
_TEX = re.compile(r"\$[^$]*\$|\\\(.*?\\\)|\\[A-Za-z]+")


def without_tex(text: str, gap: str = " ") -> str:
    """``text`` with its inline maths and TeX commands replaced by ``gap``."""
    return _TEX.sub(gap, text)


_CONTENT_WORD = re.compile(r"[a-z][a-z0-9-]{2,}")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, hyphenated compounds kept whole ("self-supervised")."""
    return _TOKEN.findall(text.lower())


def content_words(text: str) -> set[str]:
    """The distinct words of three letters or more that say something about a subject."""
    stop = stop_words()
    return {w for w in _CONTENT_WORD.findall(text.lower()) if w not in stop}


# ASCII punctuation and the common typographic marks split words; splitting on white
# space after str.translate takes half the time of a regular expression, and a related
# papers query tokenizes ~100 candidate abstracts.
_SEPARATORS = str.maketrans({c: " " for c in string.punctuation + "\u2013\u2014\u2018\u2019\u201c\u201d\u2212\u00b7"})


def plain_words(text: str) -> list[str]:
    """Lower-cased words that start with a letter, hyphenated words split ("3d" is not a
    word; "l2" is): the fast tokenizer of related papers' word overlap."""
    return [w for w in text.lower().translate(_SEPARATORS).split() if w[0].isalpha()]


# A sentence ends at ". ", "! " or "? " before a capital, digit, bracket or quote,
# unless the dot ends an abbreviation ("e.g.", "et al.", "Fig.", an initial).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[\"'])")
_ABBREVIATION = re.compile(
    r"(?:\b(?:e\.g|i\.e|et al|etc|cf|vs|Fig|Figs|Eq|Eqs|Sec|Ref|resp|approx|No|i\.i\.d)\.|\b[A-Z]\.)$"
)
MIN_SENTENCE_WORDS = 4  # shorter pieces ("Abstract.", "(i) a.") join their neighbour


def sentences(text: str) -> list[str]:
    """The sentences of an abstract, by punctuation: no model, the same split at build
    time (sentence vectors) and at query time (the sentences a match quotes)."""
    joined: list[str] = []
    for piece in _SENTENCE_END.split(text.strip()):
        if joined and _ABBREVIATION.search(joined[-1]):
            joined[-1] = f"{joined[-1]} {piece}"
        elif piece:
            joined.append(piece)
    out: list[str] = []
    for piece in joined:
        if out and (len(piece.split()) < MIN_SENTENCE_WORDS or len(out[-1].split()) < MIN_SENTENCE_WORDS):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


SNIPPET_CHARS = 300


def snippet(text: str | None, limit: int = SNIPPET_CHARS) -> str:
    """The opening of an abstract on one line, cut at a word (feeds, digests, Atom)."""
    flat = " ".join((text or "").split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
