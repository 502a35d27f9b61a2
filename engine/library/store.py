"""Libraries: named collections of papers a reader likes or does not (arxiv-sanity-lite's
tags, Semantic Scholar's libraries), kept in one SQLite file beside an index's versions
(``<index>/library.sqlite``), never inside one: builds, ``add`` and ``sync`` publish new
versions and leave it alone, so a library outlives them all. An entry keeps the paper's
title as it was when marked, so a paper that later leaves the index still says what it
was.

Every change is one SQLite transaction (WAL journal, synchronous=FULL): a crash leaves
either the old library or the new one, and the CLI and a running server can write at
the same time (each waits up to ``BUSY_SECONDS`` for the other).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import LibraryUnavailable, UnknownLibrary
from engine.library import transfer
from engine.library.records import (
    Entry,
    Follow,
    LibrarySummary,
    check_follow,
    check_name,
    check_paper_id,
    check_verdict,
    now,
)

LIBRARY_FILE = "library.sqlite"
BUSY_SECONDS = 10.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS libraries (
    name TEXT PRIMARY KEY,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    library TEXT NOT NULL REFERENCES libraries(name) ON DELETE CASCADE,
    paper_id TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('like', 'unlike')),
    title TEXT NOT NULL DEFAULT '',   -- as it was when marked: the paper may leave the index
    added TEXT NOT NULL,
    PRIMARY KEY (library, paper_id)
);
-- papers the reader has seen in the feed ("mark as read"); the feed leaves them out
CREATE TABLE IF NOT EXISTS reads (
    library TEXT NOT NULL REFERENCES libraries(name) ON DELETE CASCADE,
    paper_id TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (library, paper_id)
);
-- what the feed is limited to: categories (or prefixes) and topics ("fine:12")
CREATE TABLE IF NOT EXISTS follows (
    library TEXT NOT NULL REFERENCES libraries(name) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('category', 'topic')),
    value TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (library, kind, value)
);
-- the last visit: the newest paper date the feed showed then (dates of the index, not the clock)
CREATE TABLE IF NOT EXISTS visits (
    library TEXT PRIMARY KEY REFERENCES libraries(name) ON DELETE CASCADE,
    newest TEXT NOT NULL,
    at TEXT NOT NULL
);
-- the feed's ranker as measured on this library's own likes, valid while ``key`` matches
CREATE TABLE IF NOT EXISTS choices (
    library TEXT PRIMARY KEY REFERENCES libraries(name) ON DELETE CASCADE,
    key TEXT NOT NULL,
    method TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""


_connections = threading.local()  # per thread: {path: (connection, inode)}


class LibraryStore:
    """The libraries of one index (or any file given). Opening costs nothing: each thread
    keeps one connection to the file and each call is its own transaction, so threads
    and processes share the file (SQLite's WAL and locks order them)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_index(cls, index_dir: str | Path) -> LibraryStore:
        return cls(Path(index_dir) / LIBRARY_FILE)

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        # reading never creates the file (a read-only index folder stays untouched)
        stand_in = not write and not self.path.exists()
        if stand_in:
            db = sqlite3.connect(":memory:", isolation_level=None)
            db.executescript(SCHEMA)
        else:
            db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):  # locked past the wait, read-only, disk full
                self._forget(db)
                raise LibraryUnavailable(f"{self.path}: the library store cannot be written: {exc}") from None
            raise
        finally:
            if stand_in:
                db.close()

    def _connection(self) -> sqlite3.Connection:
        """This thread's open connection to the store, kept between transactions: opening
        one per transaction set up WAL and the schema each time, and the last close
        checkpointed the log (fsyncs) on every request; a feed made six. Reopened when
        the file was replaced or deleted since (its inode changed)."""
        key = str(self.path)
        kept = _connections.__dict__.setdefault("open", {})
        try:
            stamp = self.path.stat().st_ino
        except OSError:
            stamp = None
        found = kept.get(key)
        if found is not None and found[1] == stamp and stamp is not None:
            return found[0]
        if found is not None:
            found[0].close()
        db = self._open()
        kept[key] = (db, self.path.stat().st_ino)
        return db

    def _forget(self, db: sqlite3.Connection) -> None:
        kept = _connections.__dict__.get("open", {})
        if kept.get(str(self.path), (None,))[0] is db:
            del kept[str(self.path)]
            db.close()

    def _open(self) -> sqlite3.Connection:
        db = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            if db is not None:
                db.close()
            raise LibraryUnavailable(f"{self.path}: the library store cannot be opened: {exc}") from None
        return db

    # ----------------------------------------------------------------- reading

    def libraries(self) -> list[LibrarySummary]:
        with self._transaction(write=False) as db:
            rows = db.execute(
                "SELECT l.name, l.created, COALESCE(SUM(e.verdict = 'like'), 0), COALESCE(SUM(e.verdict = 'unlike'), 0)"
                " FROM libraries l LEFT JOIN entries e ON e.library = l.name GROUP BY l.name ORDER BY l.name"
            ).fetchall()
        return [LibrarySummary(*row) for row in rows]

    def entries(self, library: str) -> list[Entry]:
        """A library's entries, newest first."""
        check_name(library)
        with self._transaction(write=False) as db:
            self._require(db, library)
            rows = db.execute(
                "SELECT paper_id, verdict, title, added FROM entries WHERE library = ? ORDER BY added DESC, paper_id",
                (library,),
            ).fetchall()
        return [Entry(*row) for row in rows]

    def verdicts(self, library: str) -> tuple[list[str], list[str]]:
        """The ids a library likes and unlikes (what recommendations are made from)."""
        entries = self.entries(library)
        return (
            [e.paper_id for e in entries if e.verdict == "like"],
            [e.paper_id for e in entries if e.verdict == "unlike"],
        )

    @staticmethod
    def _require(db: sqlite3.Connection, library: str) -> None:
        if db.execute("SELECT 1 FROM libraries WHERE name = ?", (library,)).fetchone() is None:
            raise UnknownLibrary(f"no library named {library!r} (see paperscope library list)")

    # ----------------------------------------------------------------- writing

    def mark(self, library: str, papers: Iterable[tuple[str, str]], verdict: str) -> list[Entry]:
        """Like (or unlike) ``papers`` ((id, title) pairs) in ``library``, creating it
        when new; a paper already in it takes the new verdict and keeps its date."""
        check_name(library)
        check_verdict(verdict)
        marked = [(check_paper_id(pid), str(title or "")) for pid, title in papers]
        stamp = now()
        with self._transaction(write=True) as db:
            db.execute("INSERT OR IGNORE INTO libraries (name, created) VALUES (?, ?)", (library, stamp))
            db.executemany(
                "INSERT INTO entries (library, paper_id, verdict, title, added) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (library, paper_id) DO UPDATE SET verdict = excluded.verdict,"
                " title = CASE WHEN excluded.title != '' THEN excluded.title ELSE entries.title END",
                [(library, pid, verdict, title, stamp) for pid, title in marked],
            )
        return [Entry(pid, verdict, title, stamp) for pid, title in marked]

    def remove(self, library: str, paper_ids: Iterable[str]) -> int:
        """Drop papers from a library; returns how many were in it."""
        check_name(library)
        ids = [check_paper_id(pid) for pid in paper_ids]
        with self._transaction(write=True) as db:
            self._require(db, library)
            before = db.total_changes
            db.executemany("DELETE FROM entries WHERE library = ? AND paper_id = ?", [(library, pid) for pid in ids])
            return db.total_changes - before

    def delete(self, library: str) -> None:
        """Remove a library with its entries, read marks, follows and visit."""
        check_name(library)
        with self._transaction(write=True) as db:
            self._require(db, library)
            db.execute("DELETE FROM libraries WHERE name = ?", (library,))

    # ------------------------------------------------------- the feed's state

    def mark_read(self, library: str, paper_ids: Iterable[str], read: bool = True) -> int:
        """Mark papers read (the feed leaves them out) or unread again; returns how many changed."""
        check_name(library)
        ids = [check_paper_id(pid) for pid in paper_ids]
        stamp = now()
        with self._transaction(write=True) as db:
            self._require(db, library)
            before = db.total_changes
            if read:
                db.executemany(
                    "INSERT OR IGNORE INTO reads (library, paper_id, at) VALUES (?, ?, ?)",
                    [(library, pid, stamp) for pid in ids],
                )
            else:
                db.executemany("DELETE FROM reads WHERE library = ? AND paper_id = ?", [(library, pid) for pid in ids])
            return db.total_changes - before

    def read_ids(self, library: str) -> set[str]:
        check_name(library)
        with self._transaction(write=False) as db:
            self._require(db, library)
            return {row[0] for row in db.execute("SELECT paper_id FROM reads WHERE library = ?", (library,))}

    def follow(self, library: str, kind: str, value: str, label: str = "", on: bool = True) -> list[Follow]:
        """Limit the feed to a category or topic as well (``on``: creating the library when
        new), or stop (the library must exist); returns the follows."""
        check_name(library)
        value = check_follow(kind, value)
        with self._transaction(write=True) as db:
            if on:
                db.execute("INSERT OR IGNORE INTO libraries (name, created) VALUES (?, ?)", (library, now()))
                db.execute(
                    "INSERT INTO follows (library, kind, value, label) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (library, kind, value) DO UPDATE SET label = excluded.label",
                    (library, kind, value, str(label or "")[:200]),
                )
            else:
                self._require(db, library)
                db.execute("DELETE FROM follows WHERE library = ? AND kind = ? AND value = ?", (library, kind, value))
        return self.follows(library)

    def follows(self, library: str) -> list[Follow]:
        check_name(library)
        with self._transaction(write=False) as db:
            self._require(db, library)
            rows = db.execute(
                "SELECT kind, value, label FROM follows WHERE library = ? ORDER BY kind, value", (library,)
            ).fetchall()
        return [Follow(*row) for row in rows]

    def last_visit(self, library: str) -> str | None:
        """The newest paper date the feed showed at the last visit, if any."""
        check_name(library)
        with self._transaction(write=False) as db:
            row = db.execute("SELECT newest FROM visits WHERE library = ?", (library,)).fetchone()
        return row[0] if row else None

    def record_visit(self, library: str, newest: str) -> None:
        check_name(library)
        with self._transaction(write=True) as db:
            self._require(db, library)
            db.execute(
                "INSERT INTO visits (library, newest, at) VALUES (?, ?, ?)"
                " ON CONFLICT (library) DO UPDATE SET newest = excluded.newest, at = excluded.at",
                (library, str(newest)[:10], now()),
            )

    def choice(self, library: str, key: str) -> tuple[str, str] | None:
        """The ranker measured for this library (method, detail), if measured for ``key``."""
        with self._transaction(write=False) as db:
            row = db.execute("SELECT key, method, detail FROM choices WHERE library = ?", (library,)).fetchone()
        return (row[1], row[2]) if row and row[0] == key else None

    def record_choice(self, library: str, key: str, method: str, detail: str) -> None:
        with self._transaction(write=True) as db:
            self._require(db, library)
            db.execute(
                "INSERT INTO choices (library, key, method, detail) VALUES (?, ?, ?, ?) ON CONFLICT (library)"
                " DO UPDATE SET key = excluded.key, method = excluded.method, detail = excluded.detail",
                (library, key, method, detail),
            )

    # ------------------------------------------------------- export and import

    def export(self, names: Iterable[str] | None = None) -> dict:
        """Libraries as JSON-ready data (all of them, or ``names``): entries, read marks, follows."""
        wanted = [check_name(n) for n in names] if names is not None else [s.name for s in self.libraries()]
        with self._transaction(write=False) as db:
            for name in wanted:
                self._require(db, name)
            return transfer.export(db, wanted)

    def import_(self, data: object, source: str = "import", replace: bool = False) -> dict[str, int]:
        """Add the libraries of an export (``source`` names it in errors). Entries merge
        into existing libraries (the imported verdict wins) unless ``replace``, which
        empties each imported library first. All or nothing: one bad field and nothing
        is written. Returns entries written per library."""
        libraries = transfer.parse(data, source)
        with self._transaction(write=True) as db:
            return transfer.write(db, libraries, replace)
