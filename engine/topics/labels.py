"""Readable topic labels: c-TF-IDF candidates re-ranked with the embedding model.

1. Each topic's papers (up to ``MAX_DOCS`` nearest its centroid) form one class
   document; unigrams and bigrams that never span a stop word or arXiv boilerplate
   ("we propose", "state of the art", "results") are scored with c-TF-IDF
   (BERTopic's class-based TF-IDF).
2. Overlapping top bigrams chain into longer phrases ("whole slide" + "slide image" +
   "image classification") kept only where the whole phrase occurs in the papers.
3. Candidates are embedded and re-ranked by closeness to the topic centroid
   (KeyBERT style) blended with their c-TF-IDF; the best 2-5 word phrase not already
   taken by a larger topic is the label, and MMR picks diverse keywords.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.text import english_stop_words, stop_words, tokens, without_tex
from engine.topics import phrases as phrase_rules

MAX_DOCS = 300
CANDIDATES = 30
MAX_LABEL_WORDS = 5
KEYWORDS = 8
REPRESENTATIVES = 3


def _phrases(text: str, stop: frozenset[str]) -> list[str]:
    """Unigrams and bigrams of content words; n-grams never bridge a removed word."""
    out = []
    previous = None
    for token in tokens(text):
        if token in stop or len(token) < 2:
            previous = None
            continue
        out.append(token)
        if previous is not None:
            out.append(f"{previous} {token}")
        previous = token
    return out


@dataclass
class TopicLabel:
    label: str
    keywords: list[str]
    representatives: list[int]  # rows of the papers nearest the centroid


def label_topics(
    texts: Sequence[str],
    vectors: np.ndarray,
    topics: np.ndarray,
    embed: Callable[[list[str]], np.ndarray],
    children: np.ndarray | None = None,
    child_labels: dict[int, TopicLabel] | None = None,
) -> dict[int, TopicLabel]:
    """Labels, keywords and representative papers for every topic id in ``topics``.

    ``texts`` and ``vectors`` are per paper; ``topics`` holds each paper's topic
    (-1 for outliers, which get no label). For broad topics, ``children`` holds each
    paper's fine topic and ``child_labels`` their labels: a broad label then favours
    what its fine topics share and never repeats one of theirs."""
    from sklearn.feature_extraction.text import CountVectorizer

    stop = stop_words()
    ids = [int(t) for t in np.unique(topics[topics >= 0])]
    if not ids:
        return {}
    texts = [without_tex(text, gap=" the ") for text in texts]  # no "mathfrak sl"; a stop word breaks phrases
    members = {t: np.flatnonzero(topics == t) for t in ids}
    centroids = {t: _unit(vectors[rows].mean(axis=0)) for t, rows in members.items()}
    nearest = {t: rows[np.argsort(-(vectors[rows] @ centroids[t]), kind="stable")] for t, rows in members.items()}
    # One class document per topic; the normalized text is kept to count longer phrases.
    class_tokens = {t: [" ".join(tokens(texts[r])) for r in nearest[t][:MAX_DOCS]] for t in ids}
    vectorizer = CountVectorizer(analyzer=lambda doc: _phrases(doc, stop))
    counts = vectorizer.fit_transform(["\n".join(class_tokens[t]) for t in ids])
    vocab = vectorizer.get_feature_names_out()
    scores = _ctfidf(counts)
    # A phrase most topics use ("deep learning" in a cs.CV listing) names the corpus,
    # not a topic: it may be a keyword but never a label.
    spread = np.asarray((counts > 0).sum(axis=0)).ravel() / len(ids)
    generic = {phrase_rules.label_key(str(vocab[j])) for j in np.flatnonzero(spread > 0.5)} if len(ids) >= 4 else set()

    candidates = {t: _candidates(scores.getrow(i), vocab, class_tokens[t]) for i, t in enumerate(ids)}
    phrases = sorted({p for cands in candidates.values() for p, _ in cands})
    phrase_vecs = dict(zip(phrases, embed(phrases), strict=True)) if phrases else {}
    centroid_matrix = np.stack([centroids[t] for t in ids])

    labels: dict[int, TopicLabel] = {}
    taken: set[str] = set()
    for t in sorted(ids, key=lambda t: (-len(members[t]), t)):  # larger topics choose first
        cands = candidates[t]
        if not cands:
            labels[t] = TopicLabel(f"topic {t}", [], [int(r) for r in nearest[t][:REPRESENTATIVES]])
            continue
        relevance = _relevance(cands, phrase_vecs, centroids[t], centroid_matrix)
        avoid = taken | generic
        if children is not None:
            relevance = _favour_shared(relevance, texts, members[t], children)
            inside = {int(c) for c in np.unique(children[members[t]]) if c >= 0}
            avoid = avoid | {
                phrase_rules.label_key(child_labels[c].label) for c in inside if child_labels and c in child_labels
            }
        label = _choose_label(relevance, avoid)
        taken.add(phrase_rules.label_key(label))
        keywords = _mmr([p for p, _ in cands], phrase_vecs, centroids[t], KEYWORDS)
        labels[t] = TopicLabel(label, keywords, [int(r) for r in nearest[t][:REPRESENTATIVES]])
    return labels


def _favour_shared(relevance: dict[str, float], texts: Sequence[str], rows: np.ndarray, children: np.ndarray):
    """Scale a broad topic's candidates by how much of it they cover: half the share of
    its papers whose fine topic uses the phrase (in a tenth of up to 100 of its
    papers), half how many of its papers use it (against the most used candidate), so
    a phrase its fine topics share beats the name of one of them."""
    inside = children[rows]
    across = dict.fromkeys(relevance, 0.0)
    used = dict.fromkeys(relevance, 0)
    for child in np.unique(inside[inside >= 0]):
        papers = rows[inside == child]
        docs = [f" {' '.join(tokens(texts[r]))} " for r in papers[:100]]
        for phrase in across:
            holding = sum(f" {phrase} " in d for d in docs)
            used[phrase] += holding * len(papers) / len(docs)
            if holding >= max(1, 0.1 * len(docs)):
                across[phrase] += len(papers) / len(rows)
    most = max(used.values(), default=0) or 1
    return {p: r * (0.5 + 0.25 * across[p] + 0.25 * used[p] / most) if r > 0 else r for p, r in relevance.items()}


def _candidates(row, vocab: np.ndarray, docs: list[str]) -> list[tuple[str, float]]:
    """A topic's candidate phrases from its c-TF-IDF ``row`` (sparse: only the terms the
    topic uses, never the whole vocabulary), best first, with longer chains added."""
    terms, values = row.indices, row.data
    is_phrase = np.fromiter((" " in vocab[j] for j in terms), dtype=bool, count=len(terms))
    # Unigrams and bigrams compete separately: single words have far higher term
    # frequencies, and would otherwise crowd every phrase out of the candidates.
    ranked = []
    for kind in (~is_phrase, is_phrase):
        picked, picked_values = terms[kind], values[kind]
        top = np.argsort(-picked_values)[: CANDIDATES * 2]
        found = [(str(vocab[picked[j]]), float(picked_values[j])) for j in top if picked_values[j] > 0]
        ranked += _shared_by_several(found, docs)[: CANDIDATES // 2]
    chained = _with_chains(sorted(ranked, key=lambda c: -c[1]), docs)
    # English stop words only: boilerplate like "type" or "large" does begin real phrases.
    return phrase_rules.tidy(phrase_rules.complete_fragments(chained, docs, english_stop_words()))


def _shared_by_several(ranked: list[tuple[str, float]], docs: list[str]) -> list[tuple[str, float]]:
    """Drop phrases found in too few of the topic's papers (one paper's model name
    is not a topic): at least 2 papers, or a tenth of them in large topics."""
    if len(docs) < 2:
        return ranked
    needed = max(2, int(np.ceil(0.1 * min(len(docs), 50))))
    padded = [f" {d} " for d in docs]
    return [(p, s) for p, s in ranked if sum(f" {p} " in d for d in padded) >= needed]


def _relevance(
    cands: list[tuple[str, float]], vecs: dict[str, np.ndarray], centroid: np.ndarray, all_centroids: np.ndarray
) -> dict[str, float]:
    """Half c-TF-IDF, half distinctiveness: how much closer a phrase is to this topic
    than to topics on average (plain closeness to the centroid favours phrases every
    topic shares, like "deep learning"). Both halves are scaled to the best candidate."""
    ctfidf = np.array([s for _, s in cands])
    matrix = np.stack([vecs[p] for p, _ in cands])
    distinct = matrix @ centroid - (matrix @ all_centroids.T).mean(axis=1)
    ctfidf = ctfidf / (ctfidf.max() or 1.0)
    distinct = distinct / (np.abs(distinct).max() or 1.0)
    return {p: float(0.5 * c + 0.5 * d) for (p, _), c, d in zip(cands, ctfidf, distinct, strict=True)}


# A label names a thing, so it does not end in a modifier ("one-shot semi-supervised").
_MODIFIERS = frozenset(
    [
        "deep",
        "neural",
        "visual",
        "robust",
        "efficient",
        "large",
        "small",
        "multi",
        "single",
        "joint",
        "semi",
        "self",
        "fully",
        "supervised",
        "unsupervised",
        "based",
        "aware",
        "free",
        "driven",
        "guided",
        "conditioned",
        "specific",
        "level",
        "scale",
        "modal",
        "temporal",
        "spatial",
        "dynamic",
        "adaptive",
        "generative",
        "discriminative",
        "contrastive",
        "linear",
        "nonlinear",
        "non",
        "global",
        "local",
        "optimal",
        "stochastic",
        "bayesian",
        "adversarial",
        "convolutional",
        "recurrent",
        "probabilistic",
        "semantic",
        "automatic",
        "physical",
        "statistical",
        "numerical",
    ]
)


def _names_a_thing(phrase: str) -> bool:
    last = phrase.split()[-1]
    tail = last.rsplit("-", 1)[-1]
    return not (tail.endswith("ed") or tail in _MODIFIERS or last in _MODIFIERS)


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v


def _ctfidf(counts):
    """BERTopic's c-TF-IDF: term share within a class × log(1 + mean class size / term
    total). Kept sparse: at 87k papers the vocabulary has millions of n-grams."""
    import scipy.sparse as sp

    counts = sp.csr_matrix(counts, dtype=np.float64)
    class_totals = np.asarray(counts.sum(axis=1)).ravel()
    term_totals = np.asarray(counts.sum(axis=0)).ravel()
    idf = np.log1p(class_totals.mean() / np.maximum(term_totals, 1))
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(class_totals, 1)) @ counts @ sp.diags(idf))


def _with_chains(ranked: list[tuple[str, float]], docs: list[str]) -> list[tuple[str, float]]:
    """Add phrases made by chaining overlapping top bigrams ("a b" + "b c" → "a b c"),
    where the longer phrase occurs in at least a quarter as many places as its head."""
    text = " " + " | ".join(docs) + " "
    bigrams = [(p, s) for p, s in ranked if p.count(" ") == 1]
    by_first: dict[str, list[tuple[str, float]]] = {}
    for p, s in bigrams:
        by_first.setdefault(p.split()[0], []).append((p, s))
    extra: dict[str, float] = {}
    for phrase, score in bigrams:
        words, best = phrase.split(), score
        head_count = text.count(f" {phrase} ")
        while len(words) < MAX_LABEL_WORDS:
            options = [(p, s) for p, s in by_first.get(words[-1], []) if p.split()[1] not in words]
            grown = None
            for p, s in options:
                longer = " ".join([*words, p.split()[1]])
                if text.count(f" {longer} ") * 4 >= max(head_count, 2):
                    grown = (longer, s)
                    break
            if grown is None:
                break
            words = grown[0].split()
            best = min(best, grown[1])
        if len(words) > 2:
            extra[" ".join(words)] = best
    known = dict(ranked)
    return ranked + [(p, s) for p, s in extra.items() if p not in known]


def _choose_label(relevance: dict[str, float], taken: set[str]) -> str:
    ordered = sorted(relevance, key=lambda p: (-relevance[p], p))
    for phrase in ordered:
        if (
            2 <= len(phrase.split()) <= MAX_LABEL_WORDS
            and phrase_rules.label_key(phrase) not in taken
            and _names_a_thing(phrase)
        ):
            # Prefer the fuller phrase ("neural architecture search" over "architecture
            # search") when it ranks nearly as well.
            fuller = [
                p for p in ordered
                if f" {phrase} " in f" {p} " and p != phrase and len(p.split()) <= MAX_LABEL_WORDS
                and relevance[p] >= 0.8 * relevance[phrase] and phrase_rules.label_key(p) not in taken and _names_a_thing(p)
            ]  # fmt: skip
            return max(fuller, key=lambda p: relevance[p]) if fuller else phrase
    singles = [p for p in ordered if " " not in p]
    for first in singles:
        for second in singles:
            label = f"{first}, {second}"
            # "galaxies, galaxy" says one thing twice: skip words sharing a stem.
            if first[:5] != second[:5] and phrase_rules.label_key(label) not in taken:
                return label
    return next((p for p in ordered if phrase_rules.label_key(p) not in taken), ordered[0] + " (2)")


def _mmr(phrases: list[str], vecs: dict[str, np.ndarray], centroid: np.ndarray, count: int, diversity: float = 0.5):
    """Maximal marginal relevance: close to the topic, far from the ones already picked."""
    if not phrases:
        return []
    matrix = np.stack([vecs[p] for p in phrases])
    relevance = matrix @ centroid
    chosen = [int(np.argmax(relevance))]
    while len(chosen) < min(count, len(phrases)):
        redundancy = (matrix @ matrix[chosen].T).max(axis=1)
        score = (1 - diversity) * relevance - diversity * redundancy
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return [phrases[i] for i in chosen]
