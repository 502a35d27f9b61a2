"""Exports (BibTeX, CSL-JSON, CSV) of a library, a search, a topic or given ids, and the
Atom feeds of a library and of a topic that any feed reader can follow."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam

from engine.daily import atom_feed, exports, selection
from engine.daily.feed import build_feed, topic_feed
from engine.library.store import LibraryStore
from engine.serve.deps import Index, K, Level, authorized, authorized_feed, check_id
from engine.serve.routes.library import LibraryName

router = APIRouter(tags=["exports"])

FeedSince = Annotated[str, Query(max_length=10, description="Nd (N days up to the newest paper) or a date")]


def _store(request: Request) -> LibraryStore:
    return LibraryStore.for_index(request.app.state.live.path)


@router.get("/api/export", dependencies=[Depends(authorized)])
def export(
    request: Request,
    ix: Index,
    format: Literal["bibtex", "csl-json", "csv"] = "bibtex",
    library: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=2000, description="a search's hits")] = None,
    topic: Annotated[int | None, Query(ge=-1, le=1_000_000)] = None,
    level: Level = "fine",
    # a URL longer than ~16 KB never reaches the app (uvicorn refuses it): ~700 ids fit in 8,000 characters
    ids: Annotated[str | None, Query(max_length=8000, description="comma-separated paper ids")] = None,
    k: K = 100,
) -> Response:
    """Papers as a file to download: exactly one of ``library`` (its liked papers), ``q``
    (a search's hits, k of them), ``topic`` or ``ids``."""
    id_list = [pid.strip() for pid in ids.split(",") if pid.strip()] if ids else None
    for pid in id_list or ():
        check_id(pid)
    found = selection.records(ix, _store(request), library, q, topic, level, id_list, k)
    suffix, media_type = exports.FORMATS[format]
    name = library or (f"topic-{level}-{topic}" if topic is not None else "search" if q else "papers")
    filename = quote(f"paperscope-{name}{suffix}")
    return Response(
        exports.render(format, found),
        media_type=media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )


def _atom(request: Request, answer: dict, title: str, feed_id: str, alternate: str) -> Response:
    body = atom_feed.render_atom(
        title=title,
        feed_id=feed_id,
        self_url=str(request.url.remove_query_params("token")),  # the token never goes into a feed
        alternate_url=alternate,
        items=answer["items"],
        subtitle=f"{answer['unread']} new papers since {answer['since']}, {answer['method_reason']}",
    )
    return Response(body, media_type=atom_feed.MEDIA_TYPE)


@router.get("/feeds/library/{name}.atom", dependencies=[Depends(authorized_feed)])
def library_atom(name: LibraryName, request: Request, ix: Index, since: FeedSince = "7d", k: K = 50) -> Response:
    """A library's feed (new papers, best fit first) as Atom 1.0."""
    answer = build_feed(ix, _store(request), name, since, k)
    base = str(request.base_url).rstrip("/")
    return _atom(request, answer, f"paperscope: {name}", f"{base}/feeds/library/{quote(name)}", f"{base}/?tab=feed")


@router.get("/feeds/topic/{level}/{topic_id}.atom", dependencies=[Depends(authorized_feed)])
def topic_atom(
    level: Literal["fine", "coarse"],
    topic_id: Annotated[int, PathParam(ge=-1, le=1_000_000)],
    request: Request,
    ix: Index,
    since: FeedSince = "30d",
    k: K = 50,
) -> Response:
    """A topic's newest papers as Atom 1.0."""
    answer = topic_feed(ix, topic_id, level, since, k)
    base = str(request.base_url).rstrip("/")
    label = answer["topic"]["label"]
    return _atom(request, answer, f"paperscope: {label}", f"{base}/feeds/topic/{level}/{topic_id}", f"{base}/")
