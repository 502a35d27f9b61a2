"""An index that follows its writers: for long-lived processes such as the server.

``LiveIndex.current()`` hands out the ``PaperIndex`` of the live version. When a writer
publishes (swaps ``CURRENT``), the next call opens the new version, checks it, and
swaps it in under a lock; requests already holding the old one finish on it (its files
stay readable through open handles even after the writer prunes them), so every answer
comes whole from one version. A new version that fails its checks is not taken: the
old one keeps answering and the problem is logged.

Opening checks sizes and, unless the stamp shows the files untouched, checksums (see
:mod:`engine.artifact.integrity`); a byte changed behind the stamp's back is found only
by the full check of ``paperscope verify``. :meth:`LiveIndex.verify_every` runs that
check on the live version in a background thread; a version found damaged is dropped
for the newest older version that passes the same check, if one is still on disk.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from datetime import UTC, datetime
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
        self.rejected: dict[str, str] = {}  # version -> why it was not taken, or was dropped
        self.verified: dict | None = None  # the last full check: at, version, sound, problems
        self._stop = threading.Event()
        self._verifier: threading.Thread | None = None

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
        try:
            fresh = self._open(self.path)
        except PaperscopeError as exc:
            log.error("keeping %s: the new version %s cannot be used: %s", self.version, pointer, exc)
            if pointer:
                self.rejected[pointer] = str(exc)
            return
        self._take(fresh)
        self._pointer = pointer

    def _open(self, folder: Path) -> PaperIndex:
        """The index of a version (the live one when ``folder`` is the index), taking
        over the loaded model when the model is the same."""
        artifact = store.Artifact.open(folder)
        try:
            old = self._index.manifest["model"].get("cache_tag")
            same_model = artifact.manifest["model"].get("cache_tag") == old
            return PaperIndex(artifact, self._index.loaded_embedder if same_model else None)
        except PaperscopeError:
            artifact.close()
            raise

    def _take(self, fresh: PaperIndex) -> None:
        old, self._index = self._index, fresh
        log.info("now answering from %s (was %s)", fresh.manifest["version"], old.manifest["version"])
        # ``old`` is not closed here: requests may still be using it. Its SQLite handle
        # and memory maps are released when the last reference goes.

    def verify_every(self, seconds: float) -> None:
        """Runs :meth:`verify` now and then every ``seconds``, in a background thread
        (stopped by :meth:`close`)."""

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.verify()
                except Exception:  # a failed round must not end the checks
                    log.exception("verifying %s failed", self.path)
                self._stop.wait(seconds)

        self._verifier = threading.Thread(target=loop, name="paperscope-verify", daemon=True)
        self._verifier.start()

    def verify(self) -> bool:
        """The full check of ``paperscope verify`` (every checksum, SQLite's integrity
        check, vector norms, FAISS) on the version answering now. When it fails, that
        version is dropped for the newest older version that passes the same check,
        if one is still on disk; otherwise it keeps answering (there is nothing
        better) and the problem is logged. Returns whether the version was sound."""
        from engine.artifact.verify import verify_version

        version = self.current().path
        problems = verify_version(version).problems
        at = datetime.now(UTC).isoformat(timespec="seconds")
        self.verified = {"at": at, "version": version.name, "sound": not problems, "problems": len(problems)}
        if problems:
            log.error("%s is damaged (%d problems): %s", version, len(problems), "; ".join(problems[:3]))
            self._fall_back(version, problems[0])
        return not problems

    def _fall_back(self, damaged: Path, reason: str) -> None:
        from engine.artifact.verify import verify_version

        self.rejected[damaged.name] = reason  # CURRENT may still point to it: never taken again
        older = sorted(
            (p for p in self.path.iterdir() if re.fullmatch(r"v\d{6}", p.name) and p.name < damaged.name),
            reverse=True,
        )
        for candidate in older:
            if candidate.name in self.rejected:
                continue
            problems = verify_version(candidate, live=False).problems
            if problems:
                self.rejected[candidate.name] = problems[0]
                continue
            try:
                fresh = self._open(candidate)
            except PaperscopeError as exc:
                self.rejected[candidate.name] = str(exc)
                continue
            with self._lock:
                if self._index.path != damaged:  # a writer published meanwhile: that one answers
                    fresh.close()
                    return
                self._take(fresh)
            log.warning("answering from %s: %s is damaged (%s)", candidate.name, damaged.name, reason)
            return
        log.error("%s is damaged and no older version verifies: it keeps answering", damaged)

    def close(self) -> None:
        self._stop.set()
        if self._verifier is not None and self._verifier is not threading.current_thread():
            self._verifier.join(timeout=30)
        self._index.close()

    def __enter__(self) -> LiveIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
