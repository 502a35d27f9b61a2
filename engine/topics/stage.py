"""The topic stage of a build: from papers and vectors to stored topics.

``fit_topics`` clusters from scratch (a build or ``topics --refit``), keeping the ids
of a previous version's topics where they match; ``assign_new`` gives papers added
by ``add`` a topic and a map position without touching anyone else's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from engine.artifact import topic_store
from engine.artifact.store import Artifact
from engine.artifact.topic_store import Topic
from engine.papers import Paper
from engine.progress import progress_bar, timed
from engine.topics import fit, layout, represent, sampling
from engine.topics.labels import label_topics


@dataclass
class TopicResult:
    """What the store writes: topic rows, per-paper topics and map coordinates."""

    topics: list[Topic]
    fine: np.ndarray
    coarse: np.ndarray
    xy: np.ndarray
    summary: dict = field(default_factory=dict)  # the manifest's "topics" section


@dataclass
class PreviousTopics:
    """The live version's topics, aligned by paper id to the rows of a new version;
    papers the live version lacks have topic -1 and ``present`` False."""

    topics: list[Topic]
    fine: np.ndarray
    coarse: np.ndarray
    xy: np.ndarray
    present: np.ndarray


def previous_topics(artifact: Artifact, papers: Sequence[Paper]) -> PreviousTopics | None:
    """The live version's topics for ``papers`` (None when it has none)."""
    if not topic_store.has_topics(artifact.db):
        return None
    fine, coarse, xy = topic_store.assignments(artifact.db)
    row_of = {pid: row for row, pid in enumerate(artifact.ids())}
    rows = np.array([row_of.get(p.id, -1) for p in papers], dtype=np.int64)
    present = rows >= 0
    safe = np.maximum(rows, 0)
    return PreviousTopics(
        topics=topic_store.all_topics(artifact.db, "fine") + topic_store.all_topics(artifact.db, "coarse"),
        fine=np.where(present, fine[safe], fit.OUTLIER).astype(np.int32),
        coarse=np.where(present, coarse[safe], fit.OUTLIER).astype(np.int32),
        xy=np.where(present[:, None], xy[safe], 0.0).astype(np.float32),
        present=present,
    )


def label_text(paper: Paper) -> str:
    # The title twice: titles name the subject more directly than abstracts do.
    return f"{paper.title}. {paper.title}. {paper.abstract}"


def fit_topics(
    papers: Sequence[Paper],
    vectors: np.ndarray,
    embed: Callable[[list[str]], np.ndarray],
    params: fit.TopicParams,
    previous: PreviousTopics | None = None,
    progress: bool = False,
    searcher: fit.Searcher | None = None,
) -> TopicResult:
    """Cluster, name and lay out every paper; match ids to ``previous`` when given.
    ``searcher`` runs the kNN searches (the sample's graph, the assignment of the rest);
    None searches in this process (:func:`fit.local_search`)."""
    with progress_bar(len(STEPS), "topics", enabled=progress, unit="steps") as advance:
        return _fit_topics(papers, vectors, embed, params, previous, advance, searcher)


STEPS = ("representation", "kNN graph", "clustering", "assignment", "labels", "map layout")


def _fit_topics(papers, vectors, embed, params, previous, advance, searcher) -> TopicResult:
    seconds: dict[str, float] = {}
    n = len(papers)
    limit = params.sample_size or sampling.SAMPLE_LIMIT
    groups = sampling.strata(papers) if n > limit else None
    sample = sampling.stratified(groups, limit, params.seed) if groups is not None else np.arange(n)
    # Only the sample's texts and vectors are held whole; the rest stream in chunks.
    texts = [label_text(papers[r]) for r in sample]
    sample_vectors = np.asarray(vectors[sample] if len(sample) < n else vectors, dtype=np.float32)
    advance(0, STEPS[0])
    with timed(seconds, "represent"):
        space, model = represent.fit_space(sample_vectors, texts, params.seed)
    advance(1, STEPS[1])
    with timed(seconds, "knn"):
        knn = None
        if len(sample) > 1:
            knn = fit.neighbours(space, fit.GRAPH_NEIGHBOURS, seed=params.seed, searcher=searcher)
    advance(1, STEPS[2])
    clustering = fit.fit(space, params, knn)
    seconds.update({k: v for k, v in clustering.seconds.items() if k != "knn"})
    fine, coarse, rest = clustering.fine, clustering.coarse, None
    advance(1, STEPS[3])
    if len(sample) < n:
        with timed(seconds, "assign"):
            inputs = partial(_chunk_inputs, papers, vectors)
            rest = sampling.assign_rest(n, sample, space, fine, model, inputs, params.seed, searcher=searcher)
            fine = sampling.expand(n, sample, fine, rest, rest.fine)
            coarse = fit.coarse_of(fine, clustering.parent)
    changes = {}
    if previous is not None:
        fine, fine_changes = fit.stable_ids(previous.fine, fine)
        coarse, coarse_changes = fit.stable_ids(previous.coarse, coarse)
        changes = {"fine": fine_changes.to_dict(), "coarse": coarse_changes.to_dict()}
    # Labels (which run the embedding model) come before the map: after numba's UMAP
    # threads have run, torch on the same 2 cores was measured 10x slower.
    advance(1, STEPS[4])
    with timed(seconds, "labels"):
        named = _labels(texts, sample_vectors, sample, fine, coarse, embed)
    advance(1, STEPS[5])
    with timed(seconds, "map"):
        xy = _map(space, knn, params.seed, sample, fine, rest)
    advance(1)
    summary = _summary(clustering, fine, coarse, seconds, changes)
    if rest is not None:
        summary["sample"] = {"fitted": len(sample), "assigned": len(rest.rows), "strata": int(groups.max()) + 1}
    return TopicResult(_topic_rows(papers, named, fine, coarse, xy), fine, coarse, xy, summary)


def _labels(texts, sample_vectors, sample, fine, coarse, embed) -> dict[str, dict]:
    """Each level's labels from the sample's papers (its c-TF-IDF), with representatives
    as corpus rows; sizes count every paper (see _topic_rows)."""
    fine_named = label_topics(texts, sample_vectors, fine[sample], embed)
    coarse_named = label_topics(texts, sample_vectors, coarse[sample], embed, fine[sample], fine_named)
    return {"fine": _in_corpus_rows(fine_named, sample), "coarse": _in_corpus_rows(coarse_named, sample)}


def _map(space, knn, seed: int, sample: np.ndarray, fine: np.ndarray, rest: sampling.Assigned | None) -> np.ndarray:
    """The sample laid out; every other paper placed among its nearest sampled papers."""
    xy = layout.layout(space, *knn, seed) if knn is not None else np.zeros((len(sample), 2), np.float32)
    if rest is None:
        return xy
    placed = layout.place(xy, rest.neighbours, fine[rest.rows], fine[sample][rest.neighbours])
    return sampling.expand(len(fine), sample, xy, rest, placed)


def _summary(clustering, fine, coarse, seconds, changes) -> dict:
    summary = {
        "params": clustering.params,
        "fine_topics": len(np.unique(fine[fine >= 0])),
        "coarse_topics": len(np.unique(coarse[coarse >= 0])),
        "noise_share": round(clustering.noise_share, 4),
        "outlier_share": round(float(np.mean(fine < 0)) if len(fine) else 0.0, 4),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }
    if changes:
        summary["changes"] = changes
    return summary


def _chunk_inputs(papers: Sequence[Paper], vectors: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    return np.asarray(vectors[rows], dtype=np.float32), [label_text(papers[r]) for r in rows]


def _in_corpus_rows(named: dict, sample: np.ndarray) -> dict:
    """Labels whose representatives are rows of the sample, with corpus rows instead."""
    return {t: replace(info, representatives=[int(sample[r]) for r in info.representatives]) for t, info in named.items()}


def assign_new(db, sims: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Topics and map positions for new papers from their nearest indexed papers
    (``sims``/``rows`` from a search of the live index, -1 padded): the fine topic
    their neighbours vote for, that topic's parent, and a place among the neighbours.
    Nothing about existing topics or papers changes: no refit."""
    known = np.unique(rows[rows >= 0])
    fine_of, _, xy_of = topic_store.assignments_of(db, known)
    local = np.where(rows >= 0, np.searchsorted(known, np.maximum(rows, 0)), -1)
    fine, _ = fit.vote(fine_of, sims, local)
    parent = {t.id: t.parent for t in topic_store.all_topics(db, "fine") if t.parent is not None}
    coarse = np.array([parent.get(int(f), fit.OUTLIER) for f in fine], dtype=np.int32)
    if not len(known):
        return fine, coarse, np.zeros((len(rows), 2), np.float32)
    neighbour_topics = np.where(local >= 0, fine_of[np.maximum(local, 0)], fit.OUTLIER)
    return fine, coarse, layout.place(xy_of, local, fine, neighbour_topics)


def extended_summary(summary: dict, assigned: int, outlier_share: float) -> dict:
    """The manifest's topic section after an ``add``: the fit's parameters and figures
    still describe these topics; a refit's changes belong to that refit, not to this update."""
    out = {k: v for k, v in summary.items() if k != "changes"}
    out.update(outlier_share=round(outlier_share, 4), assigned_without_refit=assigned)
    return out


def _topic_rows(
    papers: Sequence[Paper], named: dict[str, dict], fine: np.ndarray, coarse: np.ndarray, xy: np.ndarray
) -> list[Topic]:
    out: list[Topic] = []
    for level, assigned in (("fine", fine), ("coarse", coarse)):
        for tid, info in named[level].items():
            members = assigned == tid
            parent = None
            if level == "fine":
                parents = coarse[members]
                parent = int(np.bincount(parents[parents >= 0]).argmax()) if (parents >= 0).any() else None
            x, y = layout.centre(xy[members])
            out.append(
                Topic(
                    level=level,
                    id=int(tid),
                    label=info.label,
                    size=int(members.sum()),
                    keywords=info.keywords,
                    representatives=[papers[r].id for r in info.representatives],
                    parent=parent,
                    x=x,
                    y=y,
                )
            )
    return out
