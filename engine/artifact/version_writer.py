"""Writing an index: the one writer's lock, and :class:`VersionWriter`, which fills a
hidden temporary folder and publishes it as the next version atomically.

A new version is written into a hidden temporary sibling, synced to disk, renamed to
its final name, and only then published by swapping ``CURRENT``. A crash at any
moment leaves the previous version intact; leftovers are removed by the next writer
(see :mod:`engine.artifact.store` for the layout).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from engine.artifact import integrity, lexical, topic_store
from engine.artifact.integrity import MANIFEST, TEMP_PREFIX
from engine.artifact.store import (
    CURRENT,
    INSERT,
    LOCK,
    PAPERS_DB,
    SCHEMA,
    SCHEMA_VERSION,
    UPSERT,
    VECTORS,
    paper_record,
    read_pointer,
)
from engine.errors import IndexBusy
from engine.fsutil import copy_file, exclusive_lock, fsync_path
from engine.papers import Paper

KEEP_VERSIONS = 2  # the live version and the one before it, for readers still on it
COPY_ROWS = 65_536  # vectors copied per block when a version extends another (~100 MB)


def writer_lock(index_dir: Path, wait_seconds: float = 0.0):
    """Exclusive right to write ``index_dir``; a second writer gets :class:`IndexBusy`."""

    def busy(holder: str) -> IndexBusy:
        return IndexBusy(f"{index_dir} is being written by {holder}; try again when it finishes")

    return exclusive_lock(Path(index_dir) / LOCK, wait_seconds, busy)


@contextmanager
def scratch_dir(index_dir: Path, purpose: str) -> Iterator[Path]:
    """A private folder beside the versions for a writer's intermediate files (e.g.
    embedding shards); removed afterwards, or by the next writer if this one dies."""
    path = index_dir / f"{TEMP_PREFIX}{purpose}-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class VersionWriter:
    """Writes one new version of an index; ``publish()`` makes it live atomically.

    Use under :func:`writer_lock`. Nothing is visible to readers before ``publish``.
    """

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        remove_leftovers(self.index_dir)
        self.name = f"v{_latest_version_number(self.index_dir) + 1:06d}"
        self.temp = self.index_dir / f"{TEMP_PREFIX}{self.name}-{os.getpid()}"
        self.temp.mkdir()

    def file(self, name: str) -> Path:
        return self.temp / name

    def write_papers(self, papers: Sequence[Paper], text_hashes: Sequence[str]) -> None:
        db = sqlite3.connect(self.temp / PAPERS_DB)
        try:
            db.executescript(SCHEMA)
            db.executemany(
                INSERT,
                (paper_record(row, p, h) for row, (p, h) in enumerate(zip(papers, text_hashes, strict=True))),
            )
            db.commit()
            lexical.write_fts(db)
        finally:
            db.close()

    def update_papers(self, changed: Sequence[tuple[int, Paper, str]]) -> None:
        """The papers database brought over from the live version (:meth:`reuse_files`)
        with (row, paper, text hash) records written over existing rows or appended, its
        FTS index and document counts kept in step, all in one transaction."""
        db = sqlite3.connect(self.temp / PAPERS_DB)
        try:
            with db:
                rows = [row for row, _, _ in changed]
                lexical.forget_rows(db, rows)  # needs the old contents, so before they change
                db.executemany(UPSERT, (paper_record(*c) for c in changed))
                lexical.index_rows(db, rows)
        finally:
            db.close()

    def write_vectors(self, vectors: np.ndarray) -> None:
        np.save(self.temp / VECTORS, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)

    def extend_vectors(
        self, version_dir: Path, rows: Sequence[int], replacements: np.ndarray, appended: np.ndarray
    ) -> np.ndarray:
        """``version_dir``'s vectors with ``rows`` overwritten and ``appended`` added at the
        end, written through a memory map block by block (never two copies in RAM);
        returns the new file, mapped read-only."""
        old = np.load(version_dir / VECTORS, mmap_mode="r", allow_pickle=False)
        shape = (len(old) + len(appended), old.shape[1])
        out = np.lib.format.open_memmap(self.temp / VECTORS, mode="w+", dtype=np.float32, shape=shape)
        for start in range(0, len(old), COPY_ROWS):
            stop = min(start + COPY_ROWS, len(old))
            out[start:stop] = old[start:stop]
        if len(rows):
            out[np.asarray(rows, dtype=np.int64)] = replacements
        out[len(old) :] = appended
        out.flush()
        del out
        return np.load(self.temp / VECTORS, mmap_mode="r", allow_pickle=False)

    def write_topics(self, topics: Sequence, fine: np.ndarray, coarse: np.ndarray, xy: np.ndarray) -> None:
        with self.database() as db:
            topic_store.write(db, topics, fine, coarse, xy)

    @contextmanager
    def database(self) -> Iterator[sqlite3.Connection]:
        """The new version's papers database, open for writing until the block ends."""
        db = sqlite3.connect(self.temp / PAPERS_DB)
        try:
            yield db
        finally:
            db.close()

    def reuse_files(self, version_dir: Path, names: Sequence[str]) -> None:
        """Bring unchanged files over from a published version: hard links where the
        file system allows (published files are never modified), copies otherwise.
        The papers database is always copied, since the new version rewrites it."""
        for name in names:
            source, target = version_dir / name, self.temp / name
            if name != PAPERS_DB:
                try:
                    os.link(source, target)
                    continue
                except OSError:
                    pass
            copy_file(source, target)  # contents only: the published copy is read-only
            if name == PAPERS_DB:
                db = sqlite3.connect(target)
                try:
                    if not lexical.has_fts(db):  # from a schema-2 version: add what 3 has
                        lexical.write_fts(db)
                    elif not lexical.has_document_counts(db):  # from an early schema-3 version
                        lexical.write_document_counts(db)
                finally:
                    db.close()

    def publish(self, manifest: dict) -> Path:
        """Checksum, sync, rename into place, swap ``CURRENT``; returns the version folder."""
        manifest = dict(manifest, schema_version=SCHEMA_VERSION, version=self.name)
        files = sorted(self.temp.iterdir())
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:  # hashlib lets go of the GIL
            digests = list(pool.map(integrity.file_sha256, files))
        manifest["files"] = {
            p.name: {"bytes": p.stat().st_size, "sha256": digest} for p, digest in zip(files, digests, strict=True)
        }
        (self.temp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        for path in self.temp.iterdir():
            path.chmod(0o444)  # a published version is immutable; say so to the file system too
            fsync_path(path)
        fsync_path(self.temp)
        crash_point("before-rename")
        final = self.index_dir / self.name
        os.rename(self.temp, final)
        crash_point("before-pointer")
        pointer_temp = self.index_dir / f"{TEMP_PREFIX}{CURRENT}-{os.getpid()}"
        if pointer_temp.is_symlink():
            pointer_temp.unlink()
        os.symlink(self.name, pointer_temp)
        crash_point("before-pointer-swap")
        os.replace(pointer_temp, self.index_dir / CURRENT)
        fsync_path(self.index_dir)
        crash_point("after-publish")
        integrity.write_stamp(final, manifest["files"])
        _prune_old_versions(self.index_dir)
        return final

    def abandon(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)


def _version_numbers(index_dir: Path) -> list[int]:
    numbers = []
    for child in index_dir.iterdir():
        if child.name.startswith("v") and child.name[1:].isdigit() and child.is_dir():
            numbers.append(int(child.name[1:]))
    return sorted(numbers)


def _latest_version_number(index_dir: Path) -> int:
    numbers = _version_numbers(index_dir)
    return numbers[-1] if numbers else 0


def _current_number(index_dir: Path) -> int:
    """The live version's number; 0 before the first publish. A damaged pointer stops
    the writer (IndexCorrupt): guessing would let it remove versions as unpublished."""
    name = read_pointer(index_dir)
    return int(name[1:]) if name else 0


def remove_leftovers(index_dir: Path) -> None:
    """What writers that died left behind (we hold the lock): temporary folders and
    pointers, and versions renamed into place but never published."""
    ours = f"-{os.getpid()}"  # this writer's own scratch space (we hold the lock)
    for child in index_dir.iterdir():
        if child.name.startswith(TEMP_PREFIX) and not child.name.endswith(ours):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    current = _current_number(index_dir)
    for number in _version_numbers(index_dir):
        if number > current:
            _remove_version(index_dir, number)


def _prune_old_versions(index_dir: Path) -> None:
    current = _current_number(index_dir)
    for number in _version_numbers(index_dir)[:-KEEP_VERSIONS]:
        if number != current:
            _remove_version(index_dir, number)


def _remove_version(index_dir: Path, number: int) -> None:
    """Rename first, then delete: a crash mid-delete leaves a ``.tmp-`` leftover the next
    writer removes, never a half-deleted ``vNNNNNN`` that looks like a version."""
    doomed = index_dir / f"{TEMP_PREFIX}gone-v{number:06d}-{os.getpid()}"
    integrity.stamp_path(index_dir / f"v{number:06d}").unlink(missing_ok=True)
    try:
        os.rename(index_dir / f"v{number:06d}", doomed)
    except OSError:
        return
    crash_point("mid-prune")
    shutil.rmtree(doomed, ignore_errors=True)


def crash_point(name: str) -> None:
    """Fault injection for the crash tests: ``PAPERSCOPE_CRASH_AT=name`` kills this
    process right here with SIGKILL, exactly as ``kill -9`` would (no cleanup runs)."""
    if os.environ.get("PAPERSCOPE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
