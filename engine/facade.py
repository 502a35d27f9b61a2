"""The public Python API: ``engine.open(path)`` → a ``PaperIndex``.

The CLI and (later) the HTTP API are thin layers over this same object, so the three
never drift apart. Opening is cheap (no model load); the embedding model is loaded on
the first text search, once per process, with the model and backend the index was
built with.
"""

from __future__ import annotations

import threading
from pathlib import Path

from engine import query, store, vectors
from engine.embed import Embedder, embedder_like
from engine.papers import Paper, normalize_id

DEFAULT_INDEX = Path("indexes") / "default"


class PaperIndex:
    """A built index, opened read-only."""

    def __init__(self, artifact: store.Artifact, embedder: Embedder | None = None) -> None:
        self._artifact = artifact
        self._faiss = vectors.load_index(artifact.faiss_path)
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

    def embedder(self) -> Embedder:
        """The model this index was built with, loaded on first use."""
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = embedder_like(self.manifest["model"])
            return self._embedder

    def search(self, text: str, k: int = 10) -> list[query.Hit]:
        """Papers nearest in meaning to ``text``."""
        text = query.check_query(text)
        k = query.check_k(k)
        vector = self.embedder().embed([text])
        return query.nearest(self._artifact, self._faiss, vector, k)

    def related(self, paper_id: str, k: int = 10) -> list[query.Hit]:
        """Papers nearest to the paper ``paper_id`` (which must be in the index)."""
        return query.related(self._artifact, self._faiss, paper_id, query.check_k(k))

    def paper(self, paper_id: str) -> Paper:
        row = query.row_for_id(self._artifact, paper_id)
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
