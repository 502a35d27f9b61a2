"""The artifact directory: the only module that knows file names and layouts.

An index is a folder of immutable versions and a ``CURRENT`` pointer::

    indexes/cv/
      CURRENT -> v000002        symlink, swapped with an atomic rename
      v000002/                  the live version
        manifest.json           schema, model, counts, library versions, checksums
        papers.sqlite           papers (row = vector row)
        vectors.npy             float32 [n, d], unit norm, memory-mapped on read
        faiss.index
        sentences.npy           only with --sentences: float16 sentence vectors, and
        sentence-offsets.npy    where each paper's sentences start (artifact/sentences.py)
                                (topic tables and map coordinates live in papers.sqlite)
      v000001/                  the previous version, kept for readers still on it
      .lock                     held by the one writer

A new version is written into a hidden temporary sibling, synced to disk, renamed to
its final name, and only then published by swapping ``CURRENT``. A crash at any
moment leaves the previous version intact; leftovers are removed by the next writer.
Readers open a version's files once, read-only, so a writer never disturbs them.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.artifact import integrity
from engine.artifact.exact import RowReader
from engine.artifact.integrity import MANIFEST
from engine.artifact.sentences import SentenceVectors
from engine.errors import IndexCorrupt, IndexNotFound, QueryError
from engine.papers import Paper

SCHEMA_VERSION = 3  # 2: topic tables; 3: FTS5 lexical index
READABLE_SCHEMAS = (2, 3)  # a version-2 index answers everything but lexical and hybrid search
PAPERS_DB = "papers.sqlite"
VECTORS = "vectors.npy"
FAISS_INDEX = "faiss.index"
CURRENT = "CURRENT"
LOCK = ".lock"

SCHEMA = """
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
INSERT = f"INSERT INTO papers ({_COLUMNS}) VALUES ({','.join('?' * 13)})"
UPSERT = INSERT.replace("INSERT", "INSERT OR REPLACE", 1)  # a row rewritten or appended by add


_VERSION_NAME = re.compile(r"v\d{6}")
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


def read_pointer(index_dir: Path) -> str | None:
    """The name of the live version ``CURRENT`` points to; None when there is no
    ``CURRENT``. A pointer that is not a link to a version name is damage, reported as
    such (and never taken as "no live version", which would let a writer tidy every
    version away as unpublished)."""
    pointer = Path(index_dir) / CURRENT
    if not pointer.is_symlink():
        if pointer.exists() or os.path.lexists(pointer):
            raise IndexCorrupt(
                f"{pointer}: not a link to a version; point it at the live one, e.g. ln -sfn v000001 {pointer}"
            )
        return None
    target = os.readlink(pointer)
    if not _VERSION_NAME.fullmatch(target):
        raise IndexCorrupt(f"{pointer}: points to {target[:80]!r}, not to a version folder (vNNNNNN)")
    return target


def resolve_version(index_dir: Path) -> Path:
    """The folder of the live version of an index (or the folder itself if it is one)."""
    index_dir = Path(index_dir)
    if (index_dir / MANIFEST).is_file():
        return index_dir
    name = read_pointer(index_dir)
    if name is None:
        raise IndexNotFound(f"no index at {index_dir} (build one with: paperscope build FILES --index {index_dir})")
    version = index_dir / name
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
    sentences: SentenceVectors | None = None  # only in an index built with --sentences

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
        found = None
        if manifest.get("sentences"):
            found = SentenceVectors.open(version, expected[0], expected[1])
        return cls(version, manifest, db, vectors, found)

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

    def texts(self, rows: Sequence[int]) -> dict[int, str]:
        """The embedded text (title and abstract) of each of ``rows``, without parsing records."""
        found: dict[int, str] = {}
        rows = [int(r) for r in rows]
        for start in range(0, len(rows), 500):  # SQLite caps the number of bound parameters
            chunk = rows[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                self.db.execute(f"SELECT row, title || '. ' || abstract FROM papers WHERE row IN ({marks})", chunk)
            )
        return found

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
        return RowReader(self.path / VECTORS)

    def close(self) -> None:
        self.db.close()
        if "row_reader" in self.__dict__:
            self.row_reader.close()


def paper_record(row: int, p: Paper, text_hash: str) -> tuple:
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
