"""The embedding cache: vectors keyed by (model fingerprint, backend, text hash).

One SQLite file per model and backend under ``$PAPERSCOPE_CACHE/embeddings/``
(default ``~/.cache/paperscope``), so a rebuild, or ``add`` of a listing that overlaps
an earlier one, embeds only new or changed texts. Vectors are stored as raw float32
bytes (no pickle). WAL mode lets several builds share the cache at once.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

_LOOKUP_CHUNK = 500  # stays under SQLite's bound-parameter limit


def cache_root() -> Path:
    return Path(os.environ.get("PAPERSCOPE_CACHE") or Path.home() / ".cache" / "paperscope")


class EmbeddingCache:
    """Maps text hashes to vectors for one (model, backend) pair."""

    def __init__(self, model_fingerprint: str, backend: str, root: Path | None = None) -> None:
        folder = (root or cache_root()) / "embeddings"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{model_fingerprint}-{backend}.sqlite"
        self._db = sqlite3.connect(self.path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID"
        )
        self._db.commit()

    def get_many(self, hashes: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        """The cached vectors among ``hashes``; an entry of the wrong size is a miss."""
        found: dict[str, np.ndarray] = {}
        expected = dimension * 4
        for start in range(0, len(hashes), _LOOKUP_CHUNK):
            chunk = list(hashes[start : start + _LOOKUP_CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT hash, vector FROM vectors WHERE hash IN ({marks})", chunk)
            for key, blob in rows:
                if len(blob) == expected:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        rows = [(key, np.ascontiguousarray(vec, dtype=np.float32).tobytes()) for key, vec in items]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors (hash, vector) VALUES (?, ?)", rows)

    def dimension(self) -> int | None:
        """The length of the cached vectors (None while the cache is empty)."""
        row = self._db.execute("SELECT length(vector) FROM vectors LIMIT 1").fetchone()
        return row[0] // 4 if row else None

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        self._db.close()
