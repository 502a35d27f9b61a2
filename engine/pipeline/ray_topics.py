"""The topic stage's kNN searches on Ray (``build --ray``, ``topics --refit --ray``).

The topic stage searches in chunks through a searcher (:data:`engine.topics.fit.Searcher`):
the sample's kNN graph, then, for a corpus fitted on a sample, every other paper
against the sample. :class:`RaySearcher` sends each chunk to a Ray task on whichever
node has room: the index is serialized (FAISS's file format) and put in the object
store once, each task reads it, searches its chunk and returns (similarities, rows).
At most ``in_flight`` tasks are out, and a chunk is asked of its source only when a
task can take it, so chunks made on the driver (the assignment maps each into the
topic space) never pile up; results come back in the chunks' order. Runs inside the
Ray session the embedding stage started (:func:`engine.embedding.ray_embed.session`).

Each task runs FAISS on ``threads`` threads (default 1) and asks Ray for as many CPUs.
A search's rounding depends on FAISS's thread count (its BLAS splits the work by
threads), so results equal the local path's bit for bit when the threads match (tested).
Otherwise similarities differ by float rounding (~1e-7), which can break a near-tie:
past 20k sampled papers (an IVF index) it changed which lists one query in 20,480 probed,
and so one of its 30 neighbours, on random vectors.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import numpy as np

from engine.errors import BuildError


class RaySearcher:
    """A searcher whose chunks are Ray tasks; ``stats`` counts what it sent (the
    topic summary's ``ray`` section)."""

    def __init__(self, threads: int = 1, in_flight: int | None = None) -> None:
        self.threads = threads
        self.in_flight = in_flight  # None: twice the cluster's CPUs, at least 2
        self.stats: dict = {"search_tasks": 0, "indexes": 0, "threads_per_task": threads, "in_flight": in_flight}
        self.stats["peak_in_flight"] = 0

    def __call__(self, index, chunks: Iterable[np.ndarray], k: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        import faiss
        import ray

        if not ray.is_initialized():
            raise BuildError("the Ray searcher needs a Ray session (engine.embedding.ray_embed.session)")
        limit = self.in_flight or max(2, int(2 * ray.cluster_resources().get("CPU", 1)))
        index_ref = ray.put(faiss.serialize_index(index))
        search = ray.remote(num_cpus=self.threads)(_search)
        self.stats["indexes"] += 1
        self.stats["in_flight"] = limit
        source = iter(chunks)
        pending: deque = deque()
        try:
            while True:
                while len(pending) < limit and (queries := next(source, None)) is not None:
                    pending.append(search.remote(index_ref, queries, k, self.threads))
                    self.stats["search_tasks"] += 1
                    self.stats["peak_in_flight"] = max(self.stats["peak_in_flight"], len(pending))
                if not pending:
                    return
                yield ray.get(pending.popleft())
        finally:
            for ref in pending:  # the consumer stopped early or failed: recall the rest
                ray.cancel(ref)


def _search(index_bytes: np.ndarray, queries: np.ndarray, k: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    faiss.omp_set_num_threads(threads)
    return faiss.deserialize_index(index_bytes).search(queries, k)
