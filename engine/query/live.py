"""An index that follows its writers: for long-lived processes such as the server.

``LiveIndex.current()`` hands out the ``PaperIndex`` of the live version. When a writer
publishes (swaps ``CURRENT``), the next call opens the new version, checks it, and
swaps it in under a lock; requests already holding the old one finish on it (its files
stay readable through open handles even after the writer prunes them), so every answer
comes whole from one version. A new version that fails its checks is not taken: the
old one keeps answering and the problem is logged.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from engine.artifact import store
from engine.embedding.embedder import Embedder
from engine.errors import PaperscopeError
from engine.query.facade import PaperIndex

log = logging.getLogger(__name__)


class LiveIndex:
    def __init__(self, path: str | Path, check_every: float = 0.5, embedder: Embedder | None = None) -> None:
        self.path = Path(path)
        self._check_every = check_every
        self._lock = threading.Lock()
        self._index = PaperIndex(store.Artifact.open(self.path), embedder)
        self._pointer = self._read_pointer()
        self._checked = time.monotonic()
        self.rejected: dict[str, str] = {}  # version -> why it was not taken

    @property
    def version(self) -> str:
        return self._index.manifest["version"]

    def current(self) -> PaperIndex:
        """The live version's index (at most ``check_every`` seconds stale)."""
        now = time.monotonic()
        if now - self._checked >= self._check_every:
            with self._lock:
                if now - self._checked >= self._check_every:
                    self._checked = now
                    pointer = self._read_pointer()
                    if pointer != self._pointer and pointer not in self.rejected:
                        self._switch(pointer)
        return self._index

    def _read_pointer(self) -> str | None:
        try:
            return os.readlink(self.path / store.CURRENT)
        except OSError:
            return None

    def _switch(self, pointer: str | None) -> None:
        old = self._index
        artifact = None
        try:
            artifact = store.Artifact.open(self.path)
            same_model = artifact.manifest["model"].get("cache_tag") == old.manifest["model"].get("cache_tag")
            fresh = PaperIndex(artifact, old.loaded_embedder if same_model else None)  # the loaded model carries over
        except PaperscopeError as exc:
            if artifact is not None:
                artifact.close()
            log.error("keeping %s: the new version %s cannot be used: %s", self.version, pointer, exc)
            if pointer:
                self.rejected[pointer] = str(exc)
            return
        self._index = fresh
        self._pointer = pointer
        log.info("now answering from %s (was %s)", fresh.manifest["version"], old.manifest["version"])
        # ``old`` is not closed here: requests may still be using it. Its SQLite handle
        # and memory maps are released when the last reference goes.

    def close(self) -> None:
        self._index.close()

    def __enter__(self) -> LiveIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
