"""Libraries in and out as JSON: the export a reader keeps or moves to another machine,
and an import that checks every field before writing anything (errors name the field's
path, e.g. ``likes.json: libraries[0].entries[3].verdict``)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from engine.errors import LibraryError
from engine.library.records import Entry, Follow, check_follow, check_name, check_paper_id, check_verdict, now

EXPORT_FORMAT = "paperscope-library"
EXPORT_VERSION = 1  # ``read`` and ``follows`` are optional additions: version 1 files stay valid
MAX_ENTRIES = 100_000  # per import: a library is a reader's list, not a corpus


@dataclass
class Imported:
    name: str
    created: str
    entries: list[Entry]
    read: list[str] = field(default_factory=list)
    follows: list[Follow] = field(default_factory=list)


def export(db: sqlite3.Connection, names: list[str]) -> dict:
    """The named libraries (already known to exist) as JSON-ready data."""
    out = []
    for name in names:
        created = db.execute("SELECT created FROM libraries WHERE name = ?", (name,)).fetchone()[0]
        rows = db.execute(
            "SELECT paper_id, verdict, title, added FROM entries WHERE library = ? ORDER BY added, paper_id", (name,)
        ).fetchall()
        read = [r[0] for r in db.execute("SELECT paper_id FROM reads WHERE library = ? ORDER BY at, paper_id", (name,))]
        follows = db.execute("SELECT kind, value, label FROM follows WHERE library = ? ORDER BY kind, value", (name,))
        out.append(
            {
                "name": name,
                "created": created,
                "entries": [{"id": pid, "verdict": v, "title": t, "added": a} for pid, v, t, a in rows],
                "read": read,
                "follows": [{"kind": k, "value": v, "label": label} for k, v, label in follows],
            }
        )
    return {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exported": now(), "libraries": out}


def write(db: sqlite3.Connection, libraries: list[Imported], replace: bool) -> dict[str, int]:
    """Write parsed libraries inside the caller's transaction; entries written per library."""
    written: dict[str, int] = {}
    for lib in libraries:
        db.execute("INSERT OR IGNORE INTO libraries (name, created) VALUES (?, ?)", (lib.name, lib.created))
        if replace:
            for table in ("entries", "reads", "follows"):
                db.execute(f"DELETE FROM {table} WHERE library = ?", (lib.name,))
        db.executemany(
            "INSERT INTO entries (library, paper_id, verdict, title, added) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (library, paper_id) DO UPDATE SET verdict = excluded.verdict, title = excluded.title",
            [(lib.name, e.paper_id, e.verdict, e.title, e.added) for e in lib.entries],
        )
        stamp = now()
        db.executemany(
            "INSERT OR IGNORE INTO reads (library, paper_id, at) VALUES (?, ?, ?)",
            [(lib.name, pid, stamp) for pid in lib.read],
        )
        db.executemany(
            "INSERT OR REPLACE INTO follows (library, kind, value, label) VALUES (?, ?, ?, ?)",
            [(lib.name, f.kind, f.value, f.label) for f in lib.follows],
        )
        written[lib.name] = len(lib.entries)
    return written


def parse(data: object, source: str) -> list[Imported]:
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
        raw = _list(item, "entries", where, required=True)
        total += len(raw) + len(_list(item, "read", where))
        if total > MAX_ENTRIES:
            raise LibraryError(f"{source}: more than {MAX_ENTRIES:,} entries")
        entries = [_entry(entry, f"{where}.entries[{j}]") for j, entry in enumerate(raw)]
        read = [check_paper_id(pid, f"{where}.read[{j}]") for j, pid in enumerate(_list(item, "read", where))]
        follows = [_follow(f, f"{where}.follows[{j}]") for j, f in enumerate(_list(item, "follows", where))]
        out.append(Imported(name, created[:40], entries, read, follows))
    return out


def _list(item: dict, key: str, where: str, required: bool = False) -> list:
    value = item.get(key, None if required else [])
    if not isinstance(value, list):
        raise LibraryError(f"{where}.{key}: must be a list")
    return value


def _entry(entry: object, at: str) -> Entry:
    if not isinstance(entry, dict):
        raise LibraryError(f"{at}: must be an object")
    title = entry.get("title", "")
    if not isinstance(title, str) or len(title) > 2000:
        raise LibraryError(f"{at}.title: must be a string of at most 2,000 characters")
    added = entry.get("added") if isinstance(entry.get("added"), str) else now()
    return Entry(
        check_paper_id(entry.get("id"), f"{at}.id"),
        check_verdict(entry.get("verdict"), f"{at}.verdict"),
        title,
        added[:40],
    )


def _follow(follow: object, at: str) -> Follow:
    if not isinstance(follow, dict):
        raise LibraryError(f"{at}: must be an object")
    kind, value, label = follow.get("kind"), follow.get("value"), follow.get("label", "")
    try:
        check_follow(kind, value)
    except LibraryError as exc:
        raise LibraryError(f"{at}: {exc}") from None
    if not isinstance(label, str):
        raise LibraryError(f"{at}.label: must be a string")
    return Follow(kind, value, label[:200])
