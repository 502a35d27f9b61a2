"""The artifact: one folder per index, a series of immutable versions.

Owns every file name and layout (store), writing and publishing versions
(version_writer), checksums (integrity), the FAISS index (vectors), embedding shards,
the topic tables, the lexical (FTS5) index and ``verify``. It stores what earlier stages
made and reads it back; it imports only the core modules (errors, papers, fsutil).
"""

from pathlib import Path

DEFAULT_INDEX = Path("indexes") / "default"  # where an index lives when none is named
