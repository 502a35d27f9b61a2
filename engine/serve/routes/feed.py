"""The feed of a library (new papers, best fit first, each with why), marking papers
read, and following categories and topics: the same store as ``paperscope feed`` and
``paperscope library read|follow``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from engine.daily.feed import build_feed
from engine.errors import LibraryError
from engine.library.store import LibraryStore
from engine.serve.deps import Index, K, authorized, check_id
from engine.serve.routes.library import LibraryName

router = APIRouter(tags=["feed"], dependencies=[Depends(authorized)])

Since = Annotated[
    str,
    Query(max_length=10, description="last (since the previous visit), Nd (N days up to the newest paper), or a date"),
]


class ReadMarks(BaseModel):
    ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(max_length=1000)
    read: bool = True


def _store(request: Request) -> LibraryStore:
    return LibraryStore.for_index(request.app.state.live.path)


@router.get("/api/feed")
def feed(
    request: Request,
    ix: Index,
    library: Annotated[str, Query(min_length=1, max_length=64)] = "likes",
    since: Since = "last",
    k: K = 50,
    include_read: bool = False,
    visit: Annotated[bool, Query(description="Record this as the last visit (what 'last' starts from next).")] = False,
    method: Literal["fused", "rocchio", "svm", "measured"] | None = None,
) -> dict:
    """New papers for a library, ranked by its likes (fused under 5 likes, a linear SVM
    from 5, as measured best; or ``method``), each with a reason and an abstract snippet."""
    return build_feed(ix, _store(request), library, since, k, include_read, visit, method)


@router.post("/api/libraries/{name}/read")
def mark_read(name: LibraryName, body: ReadMarks, request: Request) -> dict:
    """Mark papers read (the feed leaves them out), or unread with ``"read": false``."""
    for pid in body.ids:
        check_id(pid)
    changed = _store(request).mark_read(name, body.ids, read=body.read)
    return {"library": name, "changed": changed, "read": body.read}


@router.put("/api/libraries/{name}/follows/{kind}/{value}")
def follow(name: LibraryName, kind: Literal["category", "topic"], value: str, request: Request, ix: Index) -> dict:
    """Follow a category (``cs.CV``, ``cs.``) or a topic (``fine:12``): the feed keeps to
    papers in any followed one."""
    label = ""
    if kind == "topic":
        level, _, raw = value.partition(":")
        if level not in ("fine", "coarse") or not raw.lstrip("-").isdigit() or len(raw) > 9:
            raise LibraryError(f"follow: {value!r} is not a topic (e.g. fine:12 or coarse:3)")
        label = ix.topic(int(raw), level).label  # 404 for a topic the index lacks
    return _follows(name, _store(request).follow(name, kind, value, label))


@router.delete("/api/libraries/{name}/follows/{kind}/{value}")
def unfollow(name: LibraryName, kind: Literal["category", "topic"], value: str, request: Request) -> dict:
    """Stop following a category or topic."""
    return _follows(name, _store(request).follow(name, kind, value, on=False))


def _follows(name: str, follows: list) -> dict:
    return {"library": name, "follows": [f.__dict__ for f in follows]}
