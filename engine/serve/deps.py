"""What the endpoints share: the bounds on every request, the index of the request,
the token check and the filter parameters."""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from pydantic import StringConstraints
from starlette.exceptions import HTTPException

from engine.errors import QueryError
from engine.query.facade import PaperIndex
from engine.query.filters import Filters

MAX_API_K = 100  # the CLI allows 1,000; a web request has no use for more than a page
MAX_BODY_BYTES = 64 * 1024
MAX_ID_CHARS = 64
MAX_CATEGORIES = 20

PaperId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS)]
Category = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Level = Literal["fine", "coarse"]
K = Annotated[int, Query(ge=1, le=MAX_API_K)]


def current_index(request: Request) -> PaperIndex:
    """The live version of the served index: one request is answered from one version."""
    return request.app.state.live.current()


Index = Annotated[PaperIndex, Depends(current_index)]


def authorized(request: Request) -> None:
    """With a token configured, the request must send ``Authorization: Bearer TOKEN``."""
    token = request.app.state.token
    if token is None:
        return
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise HTTPException(401, "this server needs a token: send Authorization: Bearer <token>")


def authorized_feed(request: Request) -> None:
    """As ``authorized``, or ``?token=TOKEN`` in the URL: feed readers can keep a URL but
    seldom send headers. The token then sits in the reader's settings, as with any
    private feed."""
    token = request.app.state.token
    given = request.query_params.get("token")
    if token is not None and given is not None and hmac.compare_digest(given.encode(), token.encode()):
        return
    authorized(request)


def make_filters(category: list[str], since: str | None, until: str | None, topic: int | None, level: str) -> Filters:
    return Filters(categories=tuple(category), since=since, until=until, topic=topic, level=level)


def filter_params(
    category: Annotated[list[Category], Query(max_length=MAX_CATEGORIES)] = [],  # noqa: B006 (FastAPI copies it)
    since: Annotated[str | None, Query(max_length=10, description="YYYY, YYYY-MM or YYYY-MM-DD")] = None,
    until: Annotated[str | None, Query(max_length=10, description="inclusive, as since")] = None,
    topic: Annotated[int | None, Query(ge=-1, le=1_000_000)] = None,
    level: Level = "fine",
) -> Filters:
    """The filters of a GET query, shared by search and related."""
    return make_filters(category, since, until, topic, level)


QueryFilters = Annotated[Filters, Depends(filter_params)]


def check_id(paper_id: str) -> None:
    if not paper_id or len(paper_id) > MAX_ID_CHARS:
        raise QueryError(f"a paper id has 1 to {MAX_ID_CHARS} characters")
