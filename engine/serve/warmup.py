"""What the server does before it says it is listening: run one request of every kind
the page sends first, so the model's first run, SQLite's pages, the stemmer's cache and
the map's serialized answer are ready, and the first search is as quick as the
hundredth (it took 9.4 s when the model loaded on the first request)."""

from __future__ import annotations

import time
from collections.abc import Callable

from engine.query import answers

WARM_QUERY = "neural networks for images, language and physics"


def warm(ix, maps) -> dict[str, float]:
    """Milliseconds each step took on ``ix`` (an opened index); ``maps``: the server's
    map cache, filled for this version."""
    timings: dict[str, float] = {}

    def step(name: str, run: Callable[[], object]) -> object:
        tick = time.perf_counter()
        result = run()
        timings[name] = round((time.perf_counter() - tick) * 1000, 1)
        return result

    if not len(ix):
        return timings
    hits = step("hybrid search (loads the model)", lambda: ix.search(WARM_QUERY, k=20))
    step("dense search", lambda: ix.search(WARM_QUERY, k=20, mode="dense"))
    step("lexical search", lambda: ix.search(WARM_QUERY, k=20, mode="lexical"))
    if hits:
        step("related papers", lambda: ix.related(hits[0].paper.id, k=10))
        step("recommendations", lambda: ix.recommend([hits[0].paper.id], k=20))
        newest = ix.newest_date()
        if newest and len(hits) >= 5:
            # a library of 5 likes or more ranks its feed with an SVM: importing and first
            # fitting it took 1.3 s of the first such feed
            likes = [hit.paper.id for hit in hits[:5]]
            step("feed (svm)", lambda: ix.feed(likes, [], newest, k=5, method="svm"))
    if ix.has_topics():
        for level in ("fine", "coarse"):
            step(f"{level} topics", lambda level=level: answers.topics_answer(ix, level, members=False))
            step(f"{level} trends", lambda level=level: answers.trends_answer(ix, level, None, 3))
        fine = ix.topics("fine")
        if fine:  # the biggest, which the Topics view opens on
            step("a topic's papers", lambda: answers.topic_answer(ix, fine[0].id, "fine", 25))
        step("map", lambda: maps.get(ix, "points"))  # the page's form; the JSON one is built when asked
    return timings
