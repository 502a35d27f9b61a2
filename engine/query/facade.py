"""The public Python API: ``engine.open(path)`` → a ``PaperIndex``.

The CLI and (later) the HTTP API are thin layers over this same object, so the three
never drift apart. Opening is cheap (no model load); the embedding model is loaded on
the first text search, once per process, with the model and backend the index was
built with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.artifact import DEFAULT_INDEX, lexical, store, topic_store, vectors
from engine.artifact.topic_store import Topic
from engine.embedding.embedder import Embedder, embedder_like
from engine.errors import QueryError, UnknownTopic
from engine.papers import Paper, normalize_id
from engine.query import feed as feed_mod
from engine.query import ranking, snippets, trends
from engine.query import recommend as recommend_mod
from engine.query import related as related_mod
from engine.query.filters import Filters, allowed_rows
from engine.query.maps import MapData

DEFAULT_MODE = "hybrid"  # measured best by benchmarks/search.py (see README)
FUSION_DEPTH = 50  # candidates taken from each ranking before fusion
SORTS = ("relevance", "date")
DATE_SORT_POOL = 100  # sorted by date: the newest of this many most relevant papers


_word_pool: ThreadPoolExecutor | None = None
_word_pool_lock = threading.Lock()


def _word_threads() -> ThreadPoolExecutor:
    """The threads that run hybrid searches' word rankings (one process-wide pool)."""
    global _word_pool
    with _word_pool_lock:
        if _word_pool is None:
            _word_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="paperscope-words")
        return _word_pool


class PaperIndex:
    """A built index, opened read-only."""

    def __init__(self, artifact: store.Artifact, embedder: Embedder | None = None) -> None:
        self._artifact = artifact
        self._faiss = vectors.VectorIndex.load(
            artifact.faiss_path, int(artifact.manifest["counts"]["papers"]), artifact.manifest.get("index")
        )
        self._embedder = embedder
        self._embedder_lock = threading.Lock()

    @property
    def manifest(self) -> dict:
        return self._artifact.manifest

    @property
    def path(self) -> Path:
        return self._artifact.path

    def __len__(self) -> int:
        return int(self._artifact.manifest["counts"]["papers"])

    @property
    def loaded_embedder(self) -> Embedder | None:
        """The model if it has been loaded already (a newer version can take it over)."""
        return self._embedder

    def embedder(self) -> Embedder:
        """The model this index was built with, loaded on first use."""
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = embedder_like(self.manifest["model"])
            return self._embedder

    def search(
        self,
        text: str,
        k: int = 10,
        topic: int | None = None,
        level: str = "fine",
        filters: Filters | None = None,
        mode: str = DEFAULT_MODE,
        sort: str = "relevance",
    ) -> list[ranking.Hit]:
        """Papers for a text query, optionally within one topic or filters. ``mode``:
        ``dense`` (meaning), ``lexical`` (BM25 words, phrases, author names) or ``hybrid``
        (both, fused by reciprocal rank). ``sort="date"``: the most relevant papers
        (up to :data:`DATE_SORT_POOL`), newest first. Each hit carries its relevance (the
        query's cosine) and a snippet of its abstract with the query's words marked."""
        text = ranking.check_query(text)
        k = ranking.check_k(k)
        mode = lexical.check_mode(mode)
        if sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
        allowed = self._allowed(topic, level, filters)
        pool = min(max(k, DATE_SORT_POOL) if sort == "date" else k, ranking.MAX_K)
        words = self._words_beside(text, pool, allowed) if mode == "hybrid" else None
        query_vector = self.embedder().embed([text])
        hits = self._search(text, pool, allowed, mode, query_vector, words)
        if sort == "date":
            hits = ranking.newest_first(hits)[:k]
        return snippets.attach(self._artifact, hits, snippets.terms_of([text]), query_vector)

    def _search(
        self,
        text: str,
        k: int,
        allowed: list[int] | None,
        mode: str,
        query_vector: np.ndarray | None = None,
        words: Future | None = None,
    ) -> list[ranking.Hit]:
        """``query_vector``: the text's embedding when the caller has it (lexical mode
        needs it only for the hits' relevance); ``words``: a hybrid search's word
        ranking already under way (:meth:`_words_beside`)."""
        if mode == "lexical":
            picked = lexical.lexical_rows(self._artifact.db, text, k, None if allowed is None else set(allowed))
            return ranking.hits_for(self._artifact, picked, query_vector)
        if mode == "hybrid" and words is None:
            words = self._words_beside(text, k, allowed)
        if query_vector is None:
            query_vector = self.embedder().embed([text])
        if mode == "dense":
            return ranking.nearest(self._artifact, self._faiss, query_vector, k, allowed=allowed)
        dense = ranking.dense_rows(self._artifact, self._faiss, query_vector, max(FUSION_DEPTH, 2 * k), allowed)
        fused = lexical.fuse([[r for r, _ in dense], [r for r, _ in words.result()]], k)
        return ranking.hits_for(self._artifact, fused, query_vector)

    def _words_beside(self, text: str, k: int, allowed: list[int] | None) -> Future:
        """A hybrid search's word ranking, started on another thread: BM25 in SQLite needs
        no query vector and lets go of the GIL, so it runs while the model embeds the
        query and FAISS searches (as do they), and a search takes the longer of the two
        rather than their sum."""
        allowed_set = None if allowed is None else set(allowed)
        depth = max(FUSION_DEPTH, 2 * k)
        budget = lexical.HYBRID_MATCH_BUDGET
        return _word_threads().submit(
            lexical.lexical_rows, self._artifact.db, text, depth, allowed_set, fill=False, budget=budget
        )

    def search_many(
        self,
        queries: Iterable[str | tuple[int, str]],
        k: int = 10,
        filters: Filters | None = None,
        mode: str = DEFAULT_MODE,
    ) -> Iterator[ranking.BatchAnswer]:
        """Answers for many queries, one at a time as they come (the model loads once).
        Items are texts or (line number, text); a bad query is an answer with an error,
        not the end of the batch."""
        k = ranking.check_k(k)
        mode = lexical.check_mode(mode)
        allowed = self._allowed(None, "fine", filters)  # the same rows for every query
        for number, item in enumerate(queries, start=1):
            line, text = item if isinstance(item, tuple) else (number, item)
            tick = time.perf_counter()
            try:
                hits = self._search(ranking.check_query(text), k, allowed, mode)
                yield ranking.BatchAnswer(line, text, hits, (time.perf_counter() - tick) * 1000)
            except QueryError as exc:
                yield ranking.BatchAnswer(line, text, [], (time.perf_counter() - tick) * 1000, error=str(exc))

    def recommend(
        self,
        like: Sequence[str],
        unlike: Sequence[str] = (),
        k: int = 10,
        filters: Filters | None = None,
        method: str = recommend_mod.DEFAULT_METHOD,
    ) -> list[ranking.Hit]:
        """Papers like ``like`` and unlike ``unlike`` (ids in the index), inputs excluded,
        each with what drove it in ``because`` (see :mod:`engine.query.recommend`)."""
        allowed = self._allowed(None, "fine", filters)
        found = recommend_mod.recommend(
            self._artifact, self._faiss, list(like), list(unlike), ranking.check_k(k), allowed, method
        )
        return snippets.attach_reasons(found)

    def related(
        self, paper_id: str, k: int = 10, topic: int | None = None, level: str = "fine", filters: Filters | None = None
    ) -> list[ranking.Hit]:
        """Papers related to the paper ``paper_id`` (which must be in the index), each with
        why in ``because`` (see :mod:`engine.query.related`)."""
        allowed = self._allowed(topic, level, filters)
        found = related_mod.related(self._artifact, self._faiss, paper_id, ranking.check_k(k), allowed)
        return snippets.attach_reasons(found)

    def newest_date(self) -> str | None:
        """The date of the newest paper: where relative windows ("7d") of the feed end."""
        return feed_mod.newest_date(self._artifact)

    def feed(
        self,
        like: Sequence[str],
        unlike: Sequence[str],
        since: str,
        categories: Sequence[str] = (),
        topics: Sequence[tuple[str, int]] = (),
        exclude: Iterable[str] = (),
        k: int = 50,
        method: str | None = None,
    ) -> feed_mod.FeedRanking:
        """Papers dated ``since`` or later (within any followed category or (level, id)
        topic), minus ``exclude`` and the examples, ranked by the liked and unliked ids
        that are in the index with ``method``: a ranker, ``measured`` (the one that finds
        these likes best, k-fold), or None for the benchmark's rule by library size (see
        :mod:`engine.query.feed`)."""
        since = Filters(since=since).since  # checked like every date filter
        if method is not None and method not in feed_mod.METHODS:
            raise QueryError(f"method must be one of {', '.join(feed_mod.METHODS)}, not {method!r}")
        for level, topic_id in topics:
            self.topic(topic_id, level)  # an unknown followed topic is an error, not an empty feed
        like_rows = [r for r in map(self._artifact.row_of, map(normalize_id, like)) if r is not None]
        unlike_rows = [r for r in map(self._artifact.row_of, map(normalize_id, unlike)) if r is not None]
        fresh = feed_mod.new_rows(self._artifact, since, tuple(categories), tuple(topics))
        skip = {r for r in map(self._artifact.row_of, map(normalize_id, exclude)) if r is not None}
        skip |= set(like_rows) | set(unlike_rows)
        candidates = [r for r in fresh if r not in skip]
        if method == "measured":
            choice = feed_mod.choose_ranker(self._artifact, self._faiss, like_rows, unlike_rows)
        else:
            choice = feed_mod.Choice(method, asked=True) if method else feed_mod.default_choice(len(like_rows))
        hits = feed_mod.rank_new(
            self._artifact, self._faiss, like_rows, unlike_rows, candidates, ranking.check_k(k), choice.method
        )
        hits = snippets.attach_reasons(hits)
        return feed_mod.FeedRanking(
            hits, choice if like_rows else feed_mod.Choice("newest"), len(fresh), len(candidates)
        )

    def prepare_feed(self, like: Sequence[str], unlike: Sequence[str]) -> None:
        """Fit ahead what the feed of a library with these verdicts will rank with (the
        server calls this when a library changes, so the reader's next feed is quick)."""
        like_rows = [r for r in map(self._artifact.row_of, map(normalize_id, like)) if r is not None]
        unlike_rows = [r for r in map(self._artifact.row_of, map(normalize_id, unlike)) if r is not None]
        feed_mod.prepare(self._artifact, like_rows, unlike_rows)

    # --- topics ---------------------------------------------------------------

    def has_topics(self) -> bool:
        return topic_store.has_topics(self._artifact.db)

    def topics(self, level: str = "fine") -> list[Topic]:
        """Every topic of a level, largest first."""
        return topic_store.all_topics(self._artifact.db, topic_store.check_level(level))

    def topic(self, topic_id: int, level: str = "fine") -> Topic:
        found = topic_store.get_topic(self._artifact.db, topic_store.check_level(level), int(topic_id))
        if found is None:
            raise UnknownTopic(self._no_topic_message(topic_id, level))
        return found

    def topic_papers(self, topic_id: int, level: str = "fine", k: int = 0) -> list[ranking.Hit]:
        """A topic's papers, nearest its centre first (score = cosine to the centroid);
        the first ``k`` when k > 0 (only those are read: a broad topic holds thousands)."""
        self.topic(topic_id, level)
        rows = topic_store.rows_in(self._artifact.db, level, int(topic_id))
        centroid = np.asarray(self._artifact.vectors[rows], dtype=np.float32).mean(axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        wanted = min(k, len(rows)) if k > 0 else len(rows)
        return ranking.nearest(self._artifact, self._faiss, centroid, wanted, allowed=rows)

    def topic_members(self, topic_id: int, level: str = "fine") -> list[str]:
        """Ids of every paper in a topic."""
        rows = topic_store.rows_in(self._artifact.db, topic_store.check_level(level), int(topic_id))
        return self._artifact.ids(rows) if rows else []

    def topic_trends(self, level: str = "fine", since: str | None = None, recent: int = trends.RECENT_MONTHS):
        """Papers per month of every topic (dated from ``since`` on), and which topics
        emerged over the last ``recent`` months (see :mod:`engine.query.trends`)."""
        if not self.has_topics():
            raise UnknownTopic(self._no_topic_message(0, level))
        if not isinstance(recent, int) or isinstance(recent, bool) or not 1 <= recent <= 24:
            raise QueryError(f"recent must be a whole number of months from 1 to 24, not {recent!r}")
        return trends.trends(self._artifact, level, since, recent)

    def map_data(self) -> MapData:
        if not self.has_topics():
            raise UnknownTopic(f"the index at {self.path.parent} has no topics: run paperscope topics --refit")
        fine, coarse, xy = topic_store.assignments(self._artifact.db)

        def summary(t: Topic) -> dict:
            return {"id": t.id, "label": t.label, "size": t.size, "x": t.x, "y": t.y}

        return MapData(
            ids=self._artifact.ids(),
            titles=self._artifact.titles(),
            xy=xy,
            fine=fine,
            coarse=coarse,
            fine_topics=[summary(t) for t in self.topics("fine")],
            coarse_topics=[summary(t) for t in self.topics("coarse")],
        )

    def _allowed(self, topic: int | None, level: str, filters: Filters | None) -> list[int] | None:
        """Rows a query may return (None: all); ``topic``/``level`` are shorthand for a topic filter."""
        if topic is not None:
            filters = replace(filters or Filters(), topic=topic, level=level)
        if filters is not None and filters.topic is not None:
            self.topic(filters.topic, filters.level)  # an unknown topic is an error, not an empty answer
        return allowed_rows(self._artifact, filters)

    def _no_topic_message(self, topic_id: int, level: str) -> str:
        if not self.has_topics():
            return f"the index at {self.path.parent} has no topics: run paperscope topics --refit"
        return f"no {level} topic {topic_id} in the index at {self.path.parent} (see paperscope topics)"

    def ids(self) -> list[str]:
        """Every paper's id, in index order."""
        return self._artifact.ids()

    def topic_of(self, paper_id: str) -> dict | None:
        """The topic reference of a paper in the index, as hits carry it."""
        row = ranking.row_for_id(self._artifact, paper_id)
        return topic_store.refs_for_rows(self._artifact.db, [row]).get(row)

    def paper(self, paper_id: str) -> Paper:
        row = ranking.row_for_id(self._artifact, paper_id)
        return self._artifact.papers_by_rows([row])[row]

    def __contains__(self, paper_id: str) -> bool:
        return self._artifact.row_of(normalize_id(paper_id)) is not None

    def info(self) -> dict:
        """What the index holds and how it was built (the manifest, plus its location)."""
        return {"path": str(self.path), **self.manifest}

    def close(self) -> None:
        self._artifact.close()

    def __enter__(self) -> PaperIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_index(path: str | Path = DEFAULT_INDEX, embedder: Embedder | None = None) -> PaperIndex:
    """Open the live version of the index at ``path`` for queries."""
    return PaperIndex(store.Artifact.open(path), embedder)
