"""CSFCube (expert-graded related papers) for the benchmarks: loading its development
half and scoring a ranking function with the README's protocol.

The data is evaluation-only (CC BY-NC): it is read from the shared data folder, never
copied into the repository. Protocol: for each query-facet, rank the whole collection
(the query paper itself excluded); NDCG@20 with gain 2^rel - 1 over the judged
candidates (unjudged = 0), averaged over query-facets.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEPTH = 20


@dataclass
class CSFCube:
    ids: list[str]  # collection order
    texts: list[str]  # "title. abstract", as paperscope embeds a paper
    titles: list[str]
    abstracts: list[str]
    judged: dict[tuple[str, str], dict[str, int]]  # (query, facet) -> candidate -> grade

    @property
    def queries(self) -> list[str]:
        return sorted({query for query, _ in self.judged})


def load(data: Path) -> CSFCube:
    folder = data / "eval" / "csfcube-dev"
    with gzip.open(folder / "docs.jsonl.gz", "rt", encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle]
    judged: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for line in (folder / "qrels.jsonl").read_text().splitlines():
        row = json.loads(line)
        judged[(row["query_pid"], row["facet"])][row["cand_pid"]] = int(row["relevance"])
    return CSFCube(
        ids=[d["paper_id"] for d in docs],
        texts=[f"{d['title']}. {d['abstract']}" for d in docs],
        titles=[d["title"] for d in docs],
        abstracts=[d["abstract"] for d in docs],
        judged=dict(judged),
    )


def ndcg(ranked: Sequence[str], grades: dict[str, int], depth: int = DEPTH) -> float:
    gains = [2 ** grades.get(pid, 0) - 1 for pid in ranked[:depth]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted((2**g - 1 for g in grades.values()), reverse=True)[:depth]
    best = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / best if best > 0 else 0.0


def score(cube: CSFCube, rank: Callable[[str], Sequence[str]], queries: Sequence[str] | None = None) -> float:
    """Mean NDCG@20 over the query-facets of ``queries`` (default: all); ``rank(pid)``
    returns collection ids, best first (the query itself is dropped here if present)."""
    return mean_over(per_facet(cube, rank, queries))


def per_facet(
    cube: CSFCube, rank: Callable[[str], Sequence[str]], queries: Sequence[str] | None = None
) -> dict[tuple[str, str], float]:
    """NDCG@20 of each query-facet of ``queries`` (default: all); each query is ranked once."""
    wanted = set(queries or cube.queries)
    values = {}
    cache: dict[str, list[str]] = {}
    for (query, facet), grades in sorted(cube.judged.items()):
        if query not in wanted:
            continue
        if query not in cache:
            cache[query] = [pid for pid in rank(query) if pid != query][: DEPTH + 1]
        values[(query, facet)] = ndcg(cache[query], grades)
    return values


def mean_over(values: dict[tuple[str, str], float], queries: Sequence[str] | None = None) -> float:
    """Mean of per-facet values, over the facets of ``queries`` (default: all)."""
    picked = [v for (query, _), v in values.items() if queries is None or query in queries]
    return float(np.mean(picked)) if picked else float("nan")


def folds(cube: CSFCube, count: int = 5) -> list[list[str]]:
    """The query papers dealt into ``count`` folds (sorted ids, round robin)."""
    return [cube.queries[i::count] for i in range(count)]


def dense_ranker(cube: CSFCube, vectors: np.ndarray) -> Callable[[str], list[str]]:
    """Rank by cosine to the query paper's vector (vectors are unit norm, collection order)."""
    row_of = {pid: i for i, pid in enumerate(cube.ids)}

    def rank(query: str) -> list[str]:
        sims = vectors @ vectors[row_of[query]]
        top = np.argpartition(-sims, DEPTH + 1)[: DEPTH + 1]
        return [cube.ids[i] for i in top[np.argsort(-sims[top], kind="stable")]]

    return rank
