"""Libraries of liked and unliked papers, the same store the CLI's ``paperscope
library`` writes (``<index>/library.sqlite``): listed, shown, marked, unmarked, exported."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from pydantic import BaseModel, StringConstraints

from engine.errors import PaperscopeError
from engine.library.records import listing
from engine.library.store import LibraryStore
from engine.serve.deps import Index, authorized, check_id

router = APIRouter(tags=["library"], dependencies=[Depends(authorized)])
log = logging.getLogger(__name__)

LibraryName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Mark(BaseModel):
    verdict: Literal["like", "unlike"]


def _store(request: Request) -> LibraryStore:
    return LibraryStore.for_index(request.app.state.live.path)


def _entries_answer(name: str, store: LibraryStore, ix) -> dict:
    return listing(name, store.entries(name), ix.__contains__)


@router.get("/api/libraries")
def libraries(request: Request) -> dict:
    """Every library, with its counts of liked and unliked papers."""
    return {"libraries": [s.__dict__ for s in _store(request).libraries()]}


@router.get("/api/libraries/{name}")
def library(name: LibraryName, request: Request, ix: Index) -> dict:
    """A library's papers, newest first; ``in_index`` is false for a paper the index
    no longer holds (the entry keeps its title)."""
    return _entries_answer(name, _store(request), ix)


@router.get("/api/libraries/{name}/export")
def export(name: LibraryName, request: Request) -> dict:
    """The library in the JSON form ``paperscope library import`` reads."""
    return _store(request).export([name])


@router.put("/api/libraries/{name}/papers/{paper_id:path}")
def mark(
    name: LibraryName, paper_id: str, body: Mark, request: Request, ix: Index, later: BackgroundTasks
) -> dict:
    """Like or unlike a paper of the index in a library (created when new)."""
    check_id(paper_id)
    title = ix.paper(paper_id).title  # 404 for a paper the index lacks
    store = _store(request)
    store.mark(name, [(paper_id, title)], body.verdict)
    later.add_task(_prepare_feed, ix, store, name)
    return _entries_answer(name, store, ix)


@router.delete("/api/libraries/{name}/papers/{paper_id:path}")
def unmark(name: LibraryName, paper_id: str, request: Request, ix: Index, later: BackgroundTasks) -> dict:
    """Take a paper out of a library."""
    check_id(paper_id)
    store = _store(request)
    store.remove(name, [paper_id])
    later.add_task(_prepare_feed, ix, store, name)
    return _entries_answer(name, store, ix)


def _prepare_feed(ix, store: LibraryStore, name: str) -> None:
    """After the answer: fit what the library's next feed ranks with (a feed ranked by
    SVM spent most of its 110-200 ms fitting). A failure here costs only that speed."""
    try:
        ix.prepare_feed(*store.verdicts(name))
    except PaperscopeError as exc:
        log.warning("could not prepare the feed of %s: %s", name, exc)


@router.delete("/api/libraries/{name}")
def delete(name: LibraryName, request: Request) -> dict:
    """Delete a library with its entries, read marks and follows."""
    _store(request).delete(name)
    return {"deleted": name}
