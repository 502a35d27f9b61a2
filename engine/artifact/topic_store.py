"""The topic tables of ``papers.sqlite``: write them in a new version, read them back.

Two levels, ``fine`` and ``coarse``; every paper row has a fine topic, a coarse topic
(-1 for outliers) and map coordinates. Functions take an open SQLite connection; the
file itself belongs to :mod:`engine.store`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEVELS = ("fine", "coarse")
OUTLIER_LABEL = "outliers"

SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    level TEXT NOT NULL CHECK (level IN ('fine', 'coarse')),
    id INTEGER NOT NULL,
    parent INTEGER,                   -- the coarse topic of a fine topic
    label TEXT NOT NULL,
    size INTEGER NOT NULL,
    keywords TEXT NOT NULL,           -- JSON list
    representatives TEXT NOT NULL,    -- JSON list of paper ids, nearest the centroid first
    x REAL,                           -- where the label sits on the map
    y REAL,
    PRIMARY KEY (level, id)
);
CREATE TABLE IF NOT EXISTS paper_topics (
    row INTEGER PRIMARY KEY,          -- the papers table's row
    fine INTEGER NOT NULL,
    coarse INTEGER NOT NULL,
    x REAL NOT NULL,                  -- map coordinates
    y REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS paper_topics_fine ON paper_topics(fine);
CREATE INDEX IF NOT EXISTS paper_topics_coarse ON paper_topics(coarse);
"""


@dataclass
class Topic:
    level: str
    id: int
    label: str
    size: int
    keywords: list[str]
    representatives: list[str]
    parent: int | None = None
    x: float | None = None
    y: float | None = None


def check_level(level: str) -> str:
    if level not in LEVELS:
        from engine.errors import QueryError

        raise QueryError(f"level must be 'fine' or 'coarse', not {level!r}")
    return level


def write(
    db: sqlite3.Connection, topics: Sequence[Topic], fine: np.ndarray, coarse: np.ndarray, xy: np.ndarray
) -> None:
    """Replace the topic tables' contents (rows 0..n-1 of the papers table)."""
    db.executescript(SCHEMA)
    db.execute("DELETE FROM topics")
    db.execute("DELETE FROM paper_topics")
    db.executemany(
        "INSERT INTO topics (level, id, parent, label, size, keywords, representatives, x, y) VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (t.level, t.id, t.parent, t.label, t.size, json.dumps(t.keywords), json.dumps(t.representatives), t.x, t.y)
            for t in topics
        ],
    )
    db.executemany(
        "INSERT INTO paper_topics (row, fine, coarse, x, y) VALUES (?,?,?,?,?)",
        (
            (row, int(f), int(c), float(x), float(y))
            for row, (f, c, (x, y)) in enumerate(zip(fine, coarse, xy, strict=True))
        ),
    )
    db.commit()


def has_topics(db: sqlite3.Connection) -> bool:
    found = db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='topics'").fetchone()
    return bool(found) and db.execute("SELECT 1 FROM topics LIMIT 1").fetchone() is not None


def _topic(record: tuple) -> Topic:
    level, tid, parent, label, size, keywords, reps, x, y = record
    return Topic(level, tid, label, size, json.loads(keywords), json.loads(reps), parent, x, y)


_TOPIC_COLUMNS = "level, id, parent, label, size, keywords, representatives, x, y"


def all_topics(db: sqlite3.Connection, level: str) -> list[Topic]:
    """Topics of a level, largest first."""
    if not has_topics(db):
        return []
    cursor = db.execute(f"SELECT {_TOPIC_COLUMNS} FROM topics WHERE level = ? ORDER BY size DESC, id", (level,))
    return [_topic(r) for r in cursor]


def get_topic(db: sqlite3.Connection, level: str, topic_id: int) -> Topic | None:
    if not has_topics(db):
        return None
    found = db.execute(f"SELECT {_TOPIC_COLUMNS} FROM topics WHERE level = ? AND id = ?", (level, topic_id)).fetchone()
    return _topic(found) if found else None


def assignments(db: sqlite3.Connection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fine, coarse, xy) for every paper row, in row order (empty without topics)."""
    rows = db.execute("SELECT fine, coarse, x, y FROM paper_topics ORDER BY row").fetchall() if has_topics(db) else []
    if not rows:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros((0, 2), np.float32)
    data = np.array(rows, dtype=np.float64)
    return data[:, 0].astype(np.int32), data[:, 1].astype(np.int32), data[:, 2:4].astype(np.float32)


def assignments_of(db: sqlite3.Connection, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fine, coarse, xy) of the given paper rows, in their order."""
    found: dict[int, tuple] = {}
    wanted = [int(r) for r in rows]
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = f"SELECT row, fine, coarse, x, y FROM paper_topics WHERE row IN ({','.join('?' * len(chunk))})"
        found.update((r[0], r[1:]) for r in db.execute(query, chunk))
    data = np.array([found[r] for r in wanted], dtype=np.float64).reshape(len(wanted), 4)
    return data[:, 0].astype(np.int32), data[:, 1].astype(np.int32), data[:, 2:4].astype(np.float32)


def outlier_count(db: sqlite3.Connection) -> int:
    """Papers in no fine topic."""
    return db.execute("SELECT COUNT(*) FROM paper_topics WHERE fine < 0").fetchone()[0]


def update_rows(db: sqlite3.Connection, rows: np.ndarray, fine: np.ndarray, coarse: np.ndarray, xy: np.ndarray) -> None:
    """Set the topics and map positions of some paper rows (new or rewritten papers) and
    recount topic sizes; labels, keywords and every other paper stay as they are."""
    with db:
        db.executemany(
            "INSERT OR REPLACE INTO paper_topics (row, fine, coarse, x, y) VALUES (?,?,?,?,?)",
            (
                (int(r), int(f), int(c), float(x), float(y))
                for r, f, c, (x, y) in zip(rows, fine, coarse, xy, strict=True)
            ),
        )
        for level in LEVELS:  # one indexed count per topic
            db.execute(
                f"UPDATE topics SET size = (SELECT COUNT(*) FROM paper_topics WHERE {level} = topics.id) WHERE level = ?",
                (level,),
            )


def rows_in(db: sqlite3.Connection, level: str, topic_id: int) -> list[int]:
    column = check_level(level)
    return [r[0] for r in db.execute(f"SELECT row FROM paper_topics WHERE {column} = ? ORDER BY row", (topic_id,))]


def refs_for_rows(db: sqlite3.Connection, rows: Sequence[int]) -> dict[int, dict | None]:
    """The topic reference a hit carries: ``{"id", "label", "parent": {"id", "label"}}``;
    outliers get id -1 and the label "outliers"; None when the index has no topics."""
    if not rows or not has_topics(db):
        return dict.fromkeys(rows)
    marks = ",".join("?" * len(rows))
    query = f"""
        SELECT p.row, p.fine, f.label, p.coarse, c.label FROM paper_topics p
        LEFT JOIN topics f ON f.level = 'fine' AND f.id = p.fine
        LEFT JOIN topics c ON c.level = 'coarse' AND c.id = p.coarse
        WHERE p.row IN ({marks})"""
    out: dict[int, dict | None] = {}
    for row, fine, fine_label, coarse, coarse_label in db.execute(query, [int(r) for r in rows]):
        if fine < 0:
            out[row] = {"id": -1, "label": OUTLIER_LABEL, "parent": None}
        else:
            parent = {"id": coarse, "label": coarse_label} if coarse >= 0 else None
            out[row] = {"id": fine, "label": fine_label, "parent": parent}
    return out
