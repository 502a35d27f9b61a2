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

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.errors import LibraryError, LibraryUnavailable, UnknownLibrary
from engine.papers import normalize_id

LIBRARY_FILE = "library.sqlite"
EXPORT_FORMAT = "paperscope-library"
EXPORT_VERSION = 1
VERDICTS = ("like", "unlike")
BUSY_SECONDS = 10.0
MAX_ENTRIES = 100_000  # per import: a library is a reader's list, not a corpus
# Names come from URLs and command lines: short, printable, no path separators.
_NAME = re.compile(r"^[\w][\w .+-]{0,63}$")
_ID = re.compile(r"^[\w./-]{1,64}$")

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
"""


@dataclass(frozen=True)
class Entry:
    paper_id: str
    verdict: str
    title: str
    added: str


@dataclass(frozen=True)
class LibrarySummary:
    name: str
    created: str
    likes: int
    unlikes: int


def listing(library: str, entries: list[Entry], in_index: Callable[[str], bool]) -> dict:
    """A library's entries as the CLI's ``--json`` and the HTTP API give them."""
    return {"library": library, "entries": [{**asdict(e), "in_index": in_index(e.paper_id)} for e in entries]}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_name(name: str, field: str = "library") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise LibraryError(
            f"{field}: {name!r} is not a library name (1-64 letters, digits, spaces, '.', '+', '-' or '_')"
        )
    return name


def check_paper_id(raw: str, field: str = "paper") -> str:
    paper_id = normalize_id(raw) if isinstance(raw, str) else ""
    if not _ID.match(paper_id):
        raise LibraryError(f"{field}: {raw!r} is not a paper id")
    return paper_id


def check_verdict(verdict: str, field: str = "verdict") -> str:
    if verdict not in VERDICTS:
        raise LibraryError(f"{field}: {verdict!r} must be 'like' or 'unlike'")
    return verdict


class LibraryStore:
    """The libraries of one index (or any file given). Opening costs nothing: each call
    opens its own short connection, so threads and processes can share the file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_index(cls, index_dir: str | Path) -> LibraryStore:
        return cls(Path(index_dir) / LIBRARY_FILE)

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        if not write and not self.path.exists():
            # reading never creates the file (a read-only index folder stays untouched)
            db = sqlite3.connect(":memory:", isolation_level=None)
            db.executescript(SCHEMA)
        else:
            db = self._open()
        try:
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):  # locked past the wait, read-only, disk full
                raise LibraryUnavailable(f"{self.path}: the library store cannot be written: {exc}") from None
            raise
        finally:
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

    # ------------------------------------------------------- export and import

    def export(self, names: Iterable[str] | None = None) -> dict:
        """Libraries as JSON-ready data (all of them, or ``names``)."""
        wanted = [check_name(n) for n in names] if names is not None else [s.name for s in self.libraries()]
        out = []
        with self._transaction(write=False) as db:
            for name in wanted:
                self._require(db, name)
                created = db.execute("SELECT created FROM libraries WHERE name = ?", (name,)).fetchone()[0]
                rows = db.execute(
                    "SELECT paper_id, verdict, title, added FROM entries WHERE library = ? ORDER BY added, paper_id",
                    (name,),
                ).fetchall()
                entries = [{"id": pid, **{k: v for k, v in asdict(Entry(pid, *rest)).items() if k != "paper_id"}}
                           for pid, *rest in rows]  # fmt: skip
                out.append({"name": name, "created": created, "entries": entries})
        return {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exported": now(), "libraries": out}

    def import_(self, data: object, source: str = "import", replace: bool = False) -> dict[str, int]:
        """Add the libraries of an export (``source`` names it in errors). Entries merge
        into existing libraries (the imported verdict wins) unless ``replace``, which
        empties each imported library first. All or nothing: one bad field and nothing
        is written. Returns entries written per library."""
        libraries = _parse_export(data, source)
        written: dict[str, int] = {}
        with self._transaction(write=True) as db:
            for name, created, entries in libraries:
                db.execute("INSERT OR IGNORE INTO libraries (name, created) VALUES (?, ?)", (name, created))
                if replace:
                    db.execute("DELETE FROM entries WHERE library = ?", (name,))
                db.executemany(
                    "INSERT INTO entries (library, paper_id, verdict, title, added) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (library, paper_id) DO UPDATE SET verdict = excluded.verdict, title = excluded.title",
                    [(name, e.paper_id, e.verdict, e.title, e.added) for e in entries],
                )
                written[name] = len(entries)
        return written


def _parse_export(data: object, source: str) -> list[tuple[str, str, list[Entry]]]:
    """An export's libraries, every field checked; errors name the field's path."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise LibraryError(f"{source}: not a paperscope library export (format must be {EXPORT_FORMAT!r})")
    if data.get("version") != EXPORT_VERSION:
        raise LibraryError(f"{source}: version: {data.get('version')!r} is not {EXPORT_VERSION}")
    libraries = data.get("libraries")
    if not isinstance(libraries, list):
        raise LibraryError(f"{source}: libraries: must be a list")
    out = []
    total = 0
    for i, item in enumerate(libraries):
        where = f"{source}: libraries[{i}]"
        if not isinstance(item, dict):
            raise LibraryError(f"{where}: must be an object")
        name = check_name(item.get("name"), f"{where}.name")
        created = item.get("created") if isinstance(item.get("created"), str) else now()
        raw = item.get("entries")
        if not isinstance(raw, list):
            raise LibraryError(f"{where}.entries: must be a list")
        total += len(raw)
        if total > MAX_ENTRIES:
            raise LibraryError(f"{source}: more than {MAX_ENTRIES:,} entries")
        entries = []
        for j, entry in enumerate(raw):
            at = f"{where}.entries[{j}]"
            if not isinstance(entry, dict):
                raise LibraryError(f"{at}: must be an object")
            title = entry.get("title", "")
            if not isinstance(title, str) or len(title) > 2000:
                raise LibraryError(f"{at}.title: must be a string of at most 2,000 characters")
            added = entry.get("added") if isinstance(entry.get("added"), str) else now()
            entries.append(
                Entry(
                    check_paper_id(entry.get("id"), f"{at}.id"),
                    check_verdict(entry.get("verdict"), f"{at}.verdict"),
                    title,
                    added[:40],
                )
            )
        out.append((name, created[:40], entries))
    return out
