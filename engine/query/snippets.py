"""Abstract snippets for hits: the passage of an abstract that best answers what was
asked, with the words that matched marked.

A snippet is plain text plus the character spans of its marked words, never markup:
the page wraps the spans in ``<mark>`` with the DOM, and a tool reading ``--json`` gets
the same offsets, so an abstract can never inject HTML.

Which passage: the sentence that scores best, then the sentences after it while they
fit. A sentence scores by its cosine to the query when the index has sentence vectors
(``build --sentences``), else by the distinct query terms it holds (as FTS5's own
``snippet()`` picks the fragment with most phrase hits); with neither, the opening.
A word is marked when one of its index terms (SQLite's Porter stems, the same the
lexical index matches on) is among the terms asked for, so "networks" in a query marks
"network" and "networked" in the abstract, as a keyword search matched them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from engine.artifact import lexical
from engine.text import sentences, stop_words

SNIPPET_CHARS = 240  # about two lines of a results list at desktop width
LEAD_CHARS = 60  # words shown before the first mark when a long sentence is cut
ELLIPSIS = "…"
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Snippet:
    text: str
    marks: tuple[tuple[int, int], ...]  # [start, end) character spans of text to mark

    def to_dict(self) -> dict:
        return {"text": self.text, "marks": [list(span) for span in self.marks]}

    def marked(self) -> list[str]:
        """The marked words, for tests and plain-text renderings."""
        return [self.text[a:b] for a, b in self.marks]


def pieces(snippet: dict) -> list[tuple[str, bool]]:
    """A snippet's text as (piece, marked) in order, for renderers that are not the
    page (the CLI's table, digests); spans that do not fit the text are ignored."""
    text = str(snippet.get("text") or "")
    out, at = [], 0
    for span in snippet.get("marks") or ():
        start, end = (span[0], span[1]) if isinstance(span, list | tuple) and len(span) == 2 else (None, None)
        if not (isinstance(start, int) and isinstance(end, int) and at <= start < end <= len(text)):
            continue
        out += [(text[at:start], False), (text[start:end], True)]
        at = end
    out.append((text[at:], False))
    return [(piece, marked) for piece, marked in out if piece]


def terms_of(texts: Iterable[str]) -> frozenset[str]:
    """The index terms of the content words in ``texts`` (a query, or the words two papers
    share): stop words never mark anything."""
    stop = stop_words()
    words = {w.lower() for text in texts for w in _WORD.findall(text) if w.lower() not in stop}
    return frozenset(term for found in lexical.stems(words).values() for term in found)


def sentence_spans(flat: str) -> list[tuple[int, int]]:
    """Where each of :func:`engine.text.sentences`' pieces lies in ``flat`` (single-spaced
    text, so every piece is a substring)."""
    out, position = [], 0
    for piece in sentences(flat):
        start = flat.find(piece, position)
        if start < 0:  # cannot happen with single spacing; keep the rest as one piece
            return [*out, (position, len(flat))] if position < len(flat) else out
        out.append((start, start + len(piece)))
        position = start + len(piece)
    return out


def make(
    abstract: str | None,
    terms: frozenset[str],
    sentence_scores: Sequence[float] | None = None,
    limit: int = SNIPPET_CHARS,
) -> Snippet:
    """The snippet of ``abstract`` for ``terms``; ``sentence_scores``: one per sentence
    of the abstract (as :func:`engine.text.sentences` splits it), higher is nearer."""
    flat = " ".join((abstract or "").split())
    if not flat:
        return Snippet("", ())
    found: list[tuple[int, int, tuple[str, ...]]] = []  # (start, end, index terms) of each marked word
    if terms:
        words = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(flat)]
        stems_of = lexical.stems({word for _, _, word in words})
        found = [(a, b, stems_of[word]) for a, b, word in words if not terms.isdisjoint(stems_of[word])]
    matched = [(a, b) for a, b, _ in found]
    parts = sentence_spans(flat) or [(0, len(flat))]
    best = _best_sentence(parts, found, sentence_scores)
    start, end = _window(flat, parts, best, matched, limit)
    lead = ELLIPSIS if start > 0 else ""
    # more follows: "…" after a cut word, " …" after a whole sentence
    tail = "" if end >= len(flat) else (f" {ELLIPSIS}" if flat[end - 1] in ".!?" else ELLIPSIS)
    text = lead + flat[start:end] + tail
    shift = len(lead) - start
    marks = tuple((a + shift, b + shift) for a, b in matched if a >= start and b <= end)
    return Snippet(text, marks)


def _best_sentence(parts: list[tuple[int, int]], matched: list[tuple], scores: Sequence[float] | None) -> int:
    """The sentence nearest the query by ``scores``, else the one holding most distinct
    matched terms ("point" and "points" count once), else the first."""
    if scores is not None and len(scores) == len(parts):
        return int(np.argmax(np.asarray(scores, dtype=np.float32)))
    counts = [len({term for a, b, found in matched if s <= a and b <= e for term in found}) for s, e in parts]
    return int(np.argmax(counts)) if counts and max(counts) > 0 else 0


def _window(
    flat: str, parts: list[tuple[int, int]], best: int, matched: list[tuple[int, int]], limit: int
) -> tuple[int, int]:
    """[start, end) of the text to show: the best sentence and what follows it, at most
    ``limit`` characters, cut at word boundaries; a long sentence is entered a little
    before its first mark, so the mark is on screen."""
    start, end = parts[best]
    first = next((a for a, b in matched if start <= a < end), None)
    if first is not None and first - start > limit - LEAD_CHARS:
        start = _word_start(flat, first - LEAD_CHARS)
    for _, following_end in parts[best + 1 :]:
        if following_end - start > limit:
            break
        end = following_end
    if end - start > limit:
        end = _word_end(flat, start + limit)
    return start, end


def _word_start(flat: str, position: int) -> int:
    space = flat.rfind(" ", 0, max(position, 0))
    return space + 1 if space >= 0 else 0


def _word_end(flat: str, position: int) -> int:
    space = flat.rfind(" ", 0, position)
    return space if space > 0 else position


def sentence_cosines(store, rows: Sequence[int], query_vector: np.ndarray) -> dict[int, np.ndarray]:
    """Each row's abstract sentences' cosines to ``query_vector``, from the sentence
    vectors (whose first sentence of a paper is its title, left out here)."""
    if store is None or not len(rows):
        return {}
    stacked, starts = store.of_rows(list(rows))
    sims = np.asarray(stacked, dtype=np.float32) @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
    bounds = [*starts.tolist(), len(sims)]
    return {row: sims[bounds[i] + 1 : bounds[i + 1]] for i, row in enumerate(rows)}


def attach(artifact, hits: list, terms: frozenset[str], query_vector: np.ndarray | None = None) -> list:
    """``hits`` with their snippets for a query's ``terms`` (passages nearest
    ``query_vector`` where the index has sentence vectors)."""
    cosines: dict[int, np.ndarray] = {}
    rows: list[int | None] = [None] * len(hits)
    if query_vector is not None and artifact.sentences is not None:  # rows only matter for these
        rows = [artifact.row_of(hit.paper.id) for hit in hits]
        cosines = sentence_cosines(artifact.sentences, rows, query_vector)
    return [
        replace(hit, snippet=make(hit.paper.abstract, terms, cosines.get(row)).to_dict())
        for hit, row in zip(hits, rows, strict=True)
    ]


def attach_reasons(hits: list) -> list:
    """Related papers and recommendations: each hit's snippet marks the words it shares
    with the paper it was found for and opens on the sentence that matched it (with
    sentence vectors); its relevance is that paper's cosine."""
    out = []
    for hit in hits:
        because = hit.because or {}
        matched = " ".join(((because.get("sentences") or {}).get("hit") or "").split())
        parts = sentences(" ".join((hit.paper.abstract or "").split()))
        scores = [float(part == matched) for part in parts] if matched in parts else None
        similarity = because.get("similarity")
        out.append(
            replace(
                hit,
                snippet=make(hit.paper.abstract, terms_of(because.get("words", [])), scores).to_dict(),
                relevance=None if similarity is None else min(max(float(similarity), 0.0), 1.0),
            )
        )
    return out
