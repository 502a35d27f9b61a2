"""paperscope: semantic search and topic clustering for scientific papers.

    import engine
    ix = engine.open("indexes/cv")
    for hit in ix.search("neural architecture search", k=5):
        print(hit.score, hit.paper.title)

Importing ``engine`` is cheap; FAISS and the model load when first needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from engine.query.facade import PaperIndex

__version__ = "0.1.0"
__all__ = ["__version__", "open"]


def open(path: str | Path | None = None) -> PaperIndex:
    """Open a built index for queries (default: ``indexes/default``; see
    :class:`engine.query.facade.PaperIndex`)."""
    from engine.artifact import DEFAULT_INDEX
    from engine.query.facade import open_index

    return open_index(DEFAULT_INDEX if path is None else path)
