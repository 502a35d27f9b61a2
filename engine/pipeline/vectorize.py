"""Vectors for papers, running the model only on texts not already known.

Known vectors come first from the live version of the index (same model, backend and
text) and then from the embedding cache; the rest are embedded in chunks, each
written to the cache as soon as it is done, so an interrupted build keeps its work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.artifact.store import Artifact
from engine.embedding.cache import EmbeddingCache
from engine.embedding.embedder import Embedder, chunk_bounds, text_hash
from engine.papers import Paper
from engine.progress import progress_bar

if TYPE_CHECKING:
    from engine.embedding.ray_embed import RayPlan

# Texts per model call: long enough to bucket by length, short enough that a killed
# build loses under a minute of work (each chunk is committed to the cache at once).
EMBED_CHUNK = 512
CACHE_CHUNK = 50_000  # cached vectors looked up at a time


@dataclass
class Vectorized:
    vectors: np.ndarray  # [n, d] (float32 unless asked otherwise), row i for text i
    hashes: list[str]  # text hash per paper
    reused: int  # taken from the live version
    cached: int  # taken from the cache
    embedded: int  # computed now


def reusable_vectors(previous: Artifact | None, embedder: Embedder) -> dict[str, np.ndarray]:
    """The live version's vectors by text hash, when made by the same model, backend and recipe."""
    if previous is None:
        return {}
    model = previous.manifest["model"]
    if (
        model["fingerprint"] != embedder.model.fingerprint
        or model.get("cache_tag", model["backend"]) != embedder.cache_tag
    ):
        return {}
    return {digest: previous.vectors[row] for row, digest in enumerate(previous.text_hashes())}


def vectorize(papers: Sequence[Paper], embedder: Embedder, known: dict[str, np.ndarray], *args, **kwargs) -> Vectorized:
    """Vectors for ``papers`` (their title and abstract); the other arguments are
    :func:`embed_texts`'s (with ``ray``, the model runs in a Ray actor pool, see
    :mod:`engine.ray_embed`; ``on_vectors(rows, vectors)`` sees each embedded batch)."""
    return embed_texts(_Texts(papers), embedder, known, *args, **kwargs)


class _Texts(Sequence[str]):
    """The papers' texts, made when asked: a list of them all would be a second copy of
    every abstract (~1.3 GB at 1M papers) beside the papers themselves."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self._papers = papers

    def __len__(self) -> int:
        return len(self._papers)

    def __getitem__(self, i):
        return self._papers[i].text


def sentence_vectors(
    papers: Sequence[Paper],
    embedder: Embedder,
    use_cache: bool = True,
    progress: bool = True,
    chunk_size: int = EMBED_CHUNK,
    ray: RayPlan | None = None,
) -> tuple[np.ndarray, list[int]]:
    """The vectors of every paper's sentences (``Paper.sentences``), stacked in paper
    order as float16, and how many each paper has. Sentences go through the same cache
    as abstracts (keyed by their text), so a rebuild embeds only new ones."""
    blocks = [paper.sentences for paper in papers]
    texts = [sentence for block in blocks for sentence in block]
    done = embed_texts(texts, embedder, {}, use_cache, progress, chunk_size, ray, dtype=np.float16, label="sentences")
    return done.vectors, [len(block) for block in blocks]


def embed_texts(
    texts: Sequence[str],
    embedder: Embedder,
    known: dict[str, np.ndarray],
    use_cache: bool = True,
    progress: bool = True,
    chunk_size: int = EMBED_CHUNK,
    ray: RayPlan | None = None,
    on_vectors: Callable[[np.ndarray, np.ndarray], None] | None = None,
    dtype: type = np.float32,
    label: str = "embedding",
) -> Vectorized:
    """Vectors (``dtype``) for ``texts``: from ``known`` (by text hash), then the cache,
    then the model."""
    hashes = [text_hash(text) for text in texts]
    cache = EmbeddingCache(embedder.model.fingerprint, embedder.cache_tag) if use_cache else None
    try:
        # Take the dimension from vectors we already have: when nothing needs
        # embedding, the model is never loaded.
        sample = next(iter(known.values()), None)
        dimension = (len(sample) if sample is not None else None) or (cache and cache.dimension()) or embedder.dimension
        out = np.empty((len(texts), dimension), dtype=dtype)
        missing: list[int] = []
        for i, digest in enumerate(hashes):
            vector = known.get(digest)
            if vector is None:
                missing.append(i)
            else:
                out[i] = vector
        reused = len(texts) - len(missing)
        cached = 0
        if cache is not None and missing:
            still: list[int] = []
            # A chunk at a time: the cache's answer holds a Python object per vector.
            for start in range(0, len(missing), CACHE_CHUNK):
                part = missing[start : start + CACHE_CHUNK]
                hits = cache.get_many([hashes[i] for i in part], dimension)
                for i in part:
                    if hashes[i] in hits:
                        out[i] = hits[hashes[i]]
                    else:
                        still.append(i)
            cached = len(missing) - len(still)  # papers, not distinct texts
            missing = still
        where = np.asarray(missing, dtype=np.int64)
        with progress_bar(len(missing), label, enabled=progress) as advance:
            for positions, vecs in _batches([texts[i] for i in missing], embedder, chunk_size, ray):
                rows = where[positions]
                out[rows] = vecs
                if cache is not None:
                    cache.put_many(zip((hashes[i] for i in rows), vecs, strict=True))
                if on_vectors is not None:
                    on_vectors(rows, vecs)
                advance(len(rows))
        return Vectorized(out, hashes, reused, cached, len(missing))
    finally:
        if cache is not None:
            cache.close()


def _batches(
    texts: list[str], embedder: Embedder, chunk_size: int, ray: RayPlan | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(positions in ``texts``, vectors) per chunk: here in order, or from Ray as
    chunks finish. Both cut the same chunks, so both give the same vectors."""
    if not texts:
        return
    if ray is not None:
        from engine.embedding import ray_embed

        yield from ray_embed.embed_batches(texts, str(embedder.model.path), embedder.backend, ray, chunk_size)
        return
    for start, stop in chunk_bounds(len(texts), chunk_size):
        yield np.arange(start, stop), embedder.embed(texts[start:stop])
