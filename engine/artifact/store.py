"""The artifact directory: the only module that knows file names and layouts.

An index is a folder of immutable versions and a ``CURRENT`` pointer::

    indexes/cv/
      CURRENT -> v000002        symlink, swapped with an atomic rename
      v000002/                  the live version
        manifest.json           schema, model, counts, library versions, checksums
        papers.sqlite           papers (row = vector row)
        vectors.npy             float32 [n, d], unit norm, memory-mapped on read
        faiss.index
                                (topic tables and map coordinates live in papers.sqlite)
      v000001/                  the previous version, kept for readers still on it
      .lock                     held by the one writer

A new version is written into a hidden temporary sibling, synced to disk, renamed to
its final name, and only then published by swapping ``CURRENT``. A crash at any
moment leaves the previous version intact; leftovers are removed by the next writer.
Readers open a version's files once, read-only, so a writer never disturbs them.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import shutil
import signal
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import integrity, lexical
from engine.errors import IndexBusy, IndexCorrupt, IndexNotFound, QueryError
from engine.integrity import MANIFEST, TEMP_PREFIX
from engine.papers import Paper

SCHEMA_VERSION = 3  # 2: topic tables; 3: FTS5 lexical index
READABLE_SCHEMAS = (2, 3)  # a version-2 index answers everything but lexical and hybrid search
PAPERS_DB = "papers.sqlite"
VECTORS = "vectors.npy"
FAISS_INDEX = "faiss.index"
CURRENT = "CURRENT"
LOCK = ".lock"
KEEP_VERSIONS = 2
_TEMP_PREFIX = TEMP_PREFIX

_SCHEMA = """
CREATE TABLE papers (
    row INTEGER PRIMARY KEY,          -- row in vectors.npy and in the FAISS index
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    abstract TEXT NOT NULL,
    authors TEXT NOT NULL,            -- JSON list
    categories TEXT NOT NULL,         -- JSON list, primary first
    primary_category TEXT,
    date TEXT,
    updated TEXT,
    version INTEGER,
    comment TEXT,
    text_hash TEXT NOT NULL,          -- hash of the embedded text (reuse on add)
    source TEXT
);
CREATE INDEX papers_primary_category ON papers(primary_category);
CREATE INDEX papers_date ON papers(date);
"""
_COLUMNS = "row, id, title, abstract, authors, categories, primary_category, date, updated, version, comment, text_hash, source"
_INSERT = f"INSERT INTO papers ({_COLUMNS}) VALUES ({','.join('?' * 13)})"
_UPSERT = _INSERT.replace("INSERT", "INSERT OR REPLACE", 1)  # a row rewritten or appended by add
_COPY_ROWS = 65_536  # vectors copied per block when a version extends another (~100 MB)


_INDEX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def index_in(root: str | Path, name: str) -> Path:
    """The folder of the index called ``name`` under ``root``, for names that arrive in
    requests: a plain name only (no separators, no leading dot, no ``..``), and its real
    path (symlinks followed) must stay inside ``root``."""
    if not isinstance(name, str) or not _INDEX_NAME.fullmatch(name) or ".." in name:
        raise QueryError(f"invalid index name {name!r}: use letters, digits, '.', '_' or '-'")
    base = Path(root).resolve()
    path = (base / name).resolve()
    if path.parent != base:
        raise QueryError(f"invalid index name {name!r}: it leads outside {base}")
    return path


def resolve_version(index_dir: Path) -> Path:
    """The folder of the live version of an index (or the folder itself if it is one)."""
    index_dir = Path(index_dir)
    if (index_dir / MANIFEST).is_file():
        return index_dir
    pointer = index_dir / CURRENT
    if not pointer.is_symlink() and not pointer.exists():
        raise IndexNotFound(f"no index at {index_dir} (build one with: paperscope build FILES --index {index_dir})")
    version = index_dir / os.readlink(pointer)
    if not (version / MANIFEST).is_file():
        raise IndexCorrupt(f"{version}: the current version has no {MANIFEST}")
    return version


def read_manifest(version_dir: Path) -> dict:
    path = version_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{path}: unreadable manifest ({exc})") from exc
    if manifest.get("schema_version") not in READABLE_SCHEMAS:
        raise IndexCorrupt(
            f"{path}: schema version {manifest.get('schema_version')!r}, this paperscope reads {SCHEMA_VERSION}; rebuild the index"
        )
    return manifest


@dataclass
class Artifact:
    """One version of an index, opened read-only."""

    path: Path
    manifest: dict
    db: sqlite3.Connection
    vectors: np.ndarray  # memory-mapped, read-only

    @classmethod
    def open(cls, index_dir: str | Path) -> Artifact:
        """Opens the live version after checking its files against the manifest (see
        ``check_files``), its shapes and its counts."""
        version = resolve_version(Path(index_dir))
        manifest = read_manifest(version)
        integrity.check_files(version, manifest)
        db_path = version / PAPERS_DB
        if not db_path.is_file():
            raise IndexCorrupt(f"{db_path}: missing")
        # immutable=1: a published version never changes, so SQLite may skip locking.
        db = sqlite3.connect(f"file:{db_path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        try:
            vectors = np.load(version / VECTORS, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"{version / VECTORS}: unreadable ({exc})") from exc
        expected = (manifest["counts"]["papers"], manifest["model"]["dimension"])
        if vectors.shape != expected:
            raise IndexCorrupt(f"{version / VECTORS}: shape {vectors.shape}, manifest says {expected}")
        try:
            rows = db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"{db_path}: unreadable ({exc}); run: paperscope verify --index {index_dir}") from exc
        if rows != expected[0]:
            raise IndexCorrupt(f"{db_path}: {rows} papers, the manifest says {expected[0]}")
        return cls(version, manifest, db, vectors)

    @property
    def faiss_path(self) -> Path:
        return self.path / FAISS_INDEX

    def papers_by_rows(self, rows: Sequence[int]) -> dict[int, Paper]:
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        cursor = self.db.execute(f"SELECT {_COLUMNS} FROM papers WHERE row IN ({marks})", [int(r) for r in rows])
        return {record[0]: _paper_from_row(record) for record in cursor}

    def row_of(self, paper_id: str) -> int | None:
        found = self.db.execute("SELECT row FROM papers WHERE id = ?", (paper_id,)).fetchone()
        return found[0] if found else None

    def ids(self, rows: Sequence[int] | None = None) -> list[str]:
        """Paper ids in row order (of ``rows``, or of the whole index): no record parsing."""
        if rows is None:
            return [r[0] for r in self.db.execute("SELECT id FROM papers ORDER BY row")]
        found = dict(
            self.db.execute(f"SELECT row, id FROM papers WHERE row IN ({','.join('?' * len(rows))})", list(rows))
        )
        return [found[row] for row in rows]

    def records_for_ids(self, ids: Sequence[str]) -> dict[str, tuple[int, Paper, str]]:
        """(row, paper, text hash) of the given ids that this version holds."""
        out: dict[str, tuple[int, Paper, str]] = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):  # SQLite caps the number of bound parameters
            chunk = ids[start : start + 500]
            cursor = self.db.execute(f"SELECT {_COLUMNS} FROM papers WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            for record in cursor:
                out[record[1]] = (record[0], _paper_from_row(record), record[11])
        return out

    def text_hashes(self) -> list[str]:
        """Hash of each paper's embedded text, in row order."""
        return [r[0] for r in self.db.execute("SELECT text_hash FROM papers ORDER BY row")]

    def titles(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT title FROM papers ORDER BY row")]

    def all_papers(self) -> Iterator[tuple[int, Paper, str]]:
        """Every (row, paper, text hash), in row order."""
        for record in self.db.execute(f"SELECT {_COLUMNS} FROM papers ORDER BY row"):
            yield record[0], _paper_from_row(record), record[11]

    @functools.cached_property
    def row_reader(self):
        """The vectors read row by row with ``pread`` (for re-ranking without mapping)."""
        from engine.vectors import RowReader

        return RowReader(self.path / VECTORS)

    def close(self) -> None:
        self.db.close()
        if "row_reader" in self.__dict__:
            self.row_reader.close()


def _record(row: int, p: Paper, text_hash: str) -> tuple:
    return (
        row,
        p.id,
        p.title,
        p.abstract,
        json.dumps(list(p.authors), ensure_ascii=False),
        json.dumps(list(p.categories)),
        p.primary_category,
        p.date,
        p.updated,
        p.version,
        p.comment,
        text_hash,
        p.source,
    )


def _paper_from_row(record: tuple) -> Paper:
    _, pid, title, abstract, authors, categories, _, date, updated, version, comment, _, source = record
    return Paper(
        id=pid,
        title=title,
        abstract=abstract,
        authors=tuple(json.loads(authors)),
        categories=tuple(json.loads(categories)),
        date=date,
        updated=updated,
        version=version,
        comment=comment,
        source=source,
    )


@contextmanager
def writer_lock(index_dir: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Exclusive right to write ``index_dir``; a second writer gets :class:`IndexBusy`."""
    index_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    with open(index_dir / LOCK, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise IndexBusy(f"{index_dir} is being written by {holder}; try again when it finishes") from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield


@contextmanager
def scratch_dir(index_dir: Path, purpose: str) -> Iterator[Path]:
    """A private folder beside the versions for a writer's intermediate files (e.g.
    embedding shards); removed afterwards, or by the next writer if this one dies."""
    path = index_dir / f"{_TEMP_PREFIX}{purpose}-{os.getpid()}"
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
        self.temp = self.index_dir / f"{_TEMP_PREFIX}{self.name}-{os.getpid()}"
        self.temp.mkdir()

    def file(self, name: str) -> Path:
        return self.temp / name

    def write_papers(self, papers: Sequence[Paper], text_hashes: Sequence[str]) -> None:
        db = sqlite3.connect(self.temp / PAPERS_DB)
        try:
            db.executescript(_SCHEMA)
            db.executemany(
                _INSERT,
                (_record(row, p, h) for row, (p, h) in enumerate(zip(papers, text_hashes, strict=True))),
            )
            db.commit()
            lexical.write_fts(db)
        finally:
            db.close()

    def update_papers(self, version_dir: Path, changed: Sequence[tuple[int, Paper, str]]) -> None:
        """The papers database of ``version_dir`` with (row, paper, text hash) records
        written over existing rows or appended, its FTS index and document counts kept
        in step, all in one transaction."""
        self.reuse_files(version_dir, [PAPERS_DB])
        db = sqlite3.connect(self.temp / PAPERS_DB)
        try:
            with db:
                rows = [row for row, _, _ in changed]
                lexical.forget_rows(db, rows)  # needs the old contents, so before they change
                db.executemany(_UPSERT, (_record(*c) for c in changed))
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
        for start in range(0, len(old), _COPY_ROWS):
            stop = min(start + _COPY_ROWS, len(old))
            out[start:stop] = old[start:stop]
        if len(rows):
            out[np.asarray(rows, dtype=np.int64)] = replacements
        out[len(old) :] = appended
        out.flush()
        del out
        return np.load(self.temp / VECTORS, mmap_mode="r", allow_pickle=False)

    def write_topics(self, topics: Sequence, fine: np.ndarray, coarse: np.ndarray, xy: np.ndarray) -> None:
        from engine import topic_store

        db = sqlite3.connect(self.temp / PAPERS_DB)
        try:
            topic_store.write(db, topics, fine, coarse, xy)
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
            shutil.copyfile(source, target)  # contents only: the published copy is read-only
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
        manifest["files"] = {
            p.name: {"bytes": p.stat().st_size, "sha256": integrity.file_sha256(p)} for p in sorted(self.temp.iterdir())
        }
        (self.temp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        for path in self.temp.iterdir():
            path.chmod(0o444)  # a published version is immutable; say so to the file system too
            _fsync_file(path)
        _fsync_file(self.temp)
        crash_point("before-rename")
        final = self.index_dir / self.name
        os.rename(self.temp, final)
        crash_point("before-pointer")
        pointer_temp = self.index_dir / f"{_TEMP_PREFIX}{CURRENT}-{os.getpid()}"
        if pointer_temp.is_symlink():
            pointer_temp.unlink()
        os.symlink(self.name, pointer_temp)
        crash_point("before-pointer-swap")
        os.replace(pointer_temp, self.index_dir / CURRENT)
        _fsync_file(self.index_dir)
        crash_point("after-publish")
        integrity.write_stamp(final, manifest["files"])
        _prune_old_versions(self.index_dir)
        return final

    def abandon(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    try:
        return int(os.readlink(index_dir / CURRENT)[1:])
    except (OSError, ValueError):
        return 0


def remove_leftovers(index_dir: Path) -> None:
    """What writers that died left behind (we hold the lock): temporary folders and
    pointers, and versions renamed into place but never published."""
    ours = f"-{os.getpid()}"  # this writer's own scratch space (we hold the lock)
    for child in index_dir.iterdir():
        if child.name.startswith(_TEMP_PREFIX) and not child.name.endswith(ours):
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
    doomed = index_dir / f"{_TEMP_PREFIX}gone-v{number:06d}-{os.getpid()}"
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
