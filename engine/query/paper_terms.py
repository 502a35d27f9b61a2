"""The words two papers share, weighted as BM25 would: a paper's own text is the
query (each word weighted by how often the paper uses it times how rare it is in the
index), and candidate papers are scored by the saturated counts of those words.

Why this and not the FTS index: an OR of a whole abstract's words matches most of a
big index (145-250 ms at 87k papers, measured), while scoring the ~100 candidates
that dense search already found costs a few milliseconds, and on CSFCube's expert
judgements scoring those candidates did as well as searching everything (explored
before benchmarks/related.py was written). Words are lower-cased and not stemmed
(stemming did no better there); rarity comes from the index's stemmed document counts.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.artifact import lexical
from engine.text import plain_words, stop_words

K1, B = 1.2, 0.75  # BM25's usual constants
REASON_WORDS = 4
# TeX commands that abstracts' maths leaves behind as words ($10~\mathrm{pc}$ -> "mathrm"):
# they may count as shared words, but a reason that names them says nothing to a reader
# (only names that are not also English words: "star" and "times" stay).
NOTATION = frozenset(
    [
        "mathrm",
        "mathbf",
        "mathcal",
        "mathbb",
        "mathit",
        "mathsf",
        "mathfrak",
        "mathscr",
        "operatorname",
        "boldsymbol",
        "textrm",
        "textit",
        "textbf",
        "emph",
        "rm",
        "bf",
        "sim",
        "lesssim",
        "gtrsim",
        "approx",
        "simeq",
        "propto",
        "cdot",
        "frac",
        "sqrt",
        "leq",
        "geq",
        "pm",
        "mp",
        "odot",
        "dagger",
        "hbar",
        "infty",
        "nabla",
        "langle",
        "rangle",
    ]
)


@dataclass
class Overlap:
    saturated: np.ndarray  # float32 [candidates, vocabulary]: BM25's saturated counts
    weights: np.ndarray  # float32 [sources, vocabulary]: each source's word weights
    vocabulary: list[str]

    @property
    def scores(self) -> np.ndarray:
        """float32 [candidates, sources]: BM25 of each source's words in each candidate."""
        return self.saturated @ self.weights.T

    def shared(self, candidate: int, source: int, limit: int = REASON_WORDS) -> list[str]:
        """The words that made a candidate score for a source, strongest first, one per
        stem ("debate" or "debates", not both), TeX notation left out."""
        weights = self.saturated[candidate] * self.weights[source]
        order = [j for j in np.argsort(-weights, kind="stable")[: 3 * limit] if weights[j] > 0]
        stems = lexical.stems(self.vocabulary[j] for j in order)
        out, seen = [], set()
        for j in order:
            word = self.vocabulary[j]
            if stems[word] not in seen and word not in NOTATION:
                seen.add(stems[word])
                out.append(word)
        return out[:limit]


def query_weights(db: sqlite3.Connection, texts: Sequence[str], papers: int) -> list[dict[str, float]]:
    """word -> count x idf for each text: its content words that the index knows (none
    in an index written before document counts existed: then words do not count)."""
    if not lexical.has_document_counts(db):
        return [{} for _ in texts]
    stop = stop_words()
    counts = [Counter(w for w in plain_words(t) if len(w) > 1 and w not in stop) for t in texts]
    stems_of = lexical.stems({w for c in counts for w in c})
    documents = lexical.stem_document_counts(db, {s for terms in stems_of.values() for s in terms})
    out = []
    for count in counts:
        weights = {}
        for word, times in count.items():
            held = min((documents.get(s, 0) for s in stems_of[word]), default=0)
            if held > 0:  # a word no paper holds (a split the FTS index does not share) says nothing
                weights[word] = times * math.log((papers - held + 0.5) / (held + 0.5) + 1)
        out.append(weights)
    return out


def overlap(sources: list[dict[str, float]], candidates: Sequence[str]) -> Overlap:
    """How strongly each candidate text holds each source's weighted words."""
    vocabulary = sorted({w for weights in sources for w in weights})
    column = {w: j for j, w in enumerate(vocabulary)}
    counts = np.zeros((len(candidates), len(vocabulary)), dtype=np.float32)
    lengths = np.ones(len(candidates), dtype=np.float32)
    for i, text in enumerate(candidates):
        found = Counter(plain_words(text))  # counting every token in C beats filtering each in Python
        lengths[i] = max(sum(found.values()), 1)
        for word in found.keys() & column.keys():
            counts[i, column[word]] = found[word]
    norm = K1 * (1 - B + B * lengths / lengths.mean()) if len(candidates) else lengths
    saturated = counts * (K1 + 1) / (counts + norm[:, None])
    weights = np.zeros((len(sources), len(vocabulary)), dtype=np.float32)
    for s, source in enumerate(sources):
        for word, weight in source.items():
            weights[s, column[word]] = weight
    return Overlap(saturated, weights, vocabulary)
