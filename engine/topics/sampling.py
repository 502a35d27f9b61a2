"""Topics for corpora larger than one fit should hold: fit on a stratified sample,
then give every other paper a topic and a map position from its nearest sampled
papers, streamed in chunks.

A fit's memory and time grow with the papers it clusters (the kNN graph, Louvain,
UMAP); the assignment's grow only by a chunk. BERTopic's maintainer gives its users
the same advice at 0.5-2M documents (fit on a sample, transform the rest); here it is
built in, and its cost in quality is measured (benchmarks/topic_sample.py).

The sample is stratified by primary category and month, so a small field or a quiet
month is represented in proportion rather than by luck.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.papers import Paper
from engine.topics import fit
from engine.topics.represent import Space

# The papers a topic fit clusters at most: past it, the rest are assigned. Chosen by
# benchmarks/topic_sample.py (see benchmarks/README.md, "Topics fitted on a sample").
SAMPLE_LIMIT = 100_000
ASSIGN_CHUNK = 20_000  # papers mapped into the topic space and searched at a time


def strata(papers: Sequence[Paper]) -> np.ndarray:
    """Each paper's stratum: its primary category and month, as an integer code."""
    keys = [f"{p.primary_category or ''}|{(p.date or '')[:7]}" for p in papers]
    return np.unique(np.array(keys, dtype=object), return_inverse=True)[1].astype(np.int64)


def stratified(groups: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted rows of a sample of ``size`` papers with each stratum (``groups``)
    represented in proportion, by largest remainder; every stratum keeps at least one
    paper while there is room. Within a stratum, papers are drawn at random."""
    n = len(groups)
    if size >= n:
        return np.arange(n)
    counts = np.bincount(groups)
    exact = counts * (size / n)
    quota = np.floor(exact).astype(np.int64)
    present = counts > 0
    if present.sum() <= size:
        quota[present & (quota == 0)] = 1  # every stratum gets a paper while there is room
    for _ in range(quota.sum() - size):  # paid for by the largest strata
        quota[np.argmax(quota)] -= 1
    spare = size - quota.sum()
    if spare > 0:
        remainder = np.where(quota < counts, exact - quota, -1.0)
        quota[np.argsort(-remainder, kind="stable")[:spare]] += 1
    order = np.random.default_rng(seed).permutation(n)
    order = order[np.argsort(groups[order], kind="stable")]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n) - starts[groups[order]]
    return np.sort(order[rank < quota[groups[order]]])


@dataclass
class Assigned:
    """The papers outside the sample: their rows, fine topic (in the sample's fit's
    numbering), and their nearest sampled papers (for the map, once it is laid out)."""

    rows: np.ndarray
    fine: np.ndarray
    sims: np.ndarray
    neighbours: np.ndarray  # rows into the sample


def assign_rest(
    n: int,
    sample_rows: np.ndarray,
    sample_space: np.ndarray,
    sample_fine: np.ndarray,
    space: Space,
    chunk_inputs: Callable[[np.ndarray], tuple[np.ndarray, list[str]]],
    seed: int,
    chunk: int = ASSIGN_CHUNK,
    searcher: fit.Searcher | None = None,
) -> Assigned:
    """Topics for the ``n - len(sample_rows)`` papers outside the sample, by the vote
    of their ``VOTE_NEIGHBOURS`` nearest sampled papers in the fitted topic space.
    ``chunk_inputs(rows)`` gives the vectors and label texts of a chunk of rows; each
    chunk is mapped into the topic space only when ``searcher`` (default
    :func:`fit.local_search`) asks for it, so only the chunks being searched are held."""
    rest = np.setdiff1d(np.arange(n), sample_rows, assume_unique=True)
    index = fit.knn_index(np.ascontiguousarray(sample_space, dtype=np.float32), seed)
    k = min(fit.VOTE_NEIGHBOURS, len(sample_rows))
    sims = np.full((len(rest), k), -np.inf, np.float32)
    near = np.full((len(rest), k), -1, np.int64)
    starts = range(0, len(rest), chunk)
    queries = (space.apply(*chunk_inputs(rest[start : start + chunk])) for start in starts)
    found = (searcher or fit.local_search)(index, queries, k)
    for start, (chunk_sims, chunk_rows) in zip(starts, found, strict=True):
        sims[start : start + len(chunk_rows)], near[start : start + len(chunk_rows)] = chunk_sims, chunk_rows
    fine, _ = fit.vote(sample_fine, sims, near)
    return Assigned(rest, fine, sims, near)


def expand(n: int, sample_rows: np.ndarray, sample_values: np.ndarray, assigned: Assigned, rest_values: np.ndarray):
    """A per-paper array over the whole corpus from the sample's and the rest's values."""
    out = np.empty((n, *sample_values.shape[1:]), dtype=sample_values.dtype)
    out[sample_rows] = sample_values
    out[assigned.rows] = rest_values
    return out
