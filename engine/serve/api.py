"""The HTTP API and the web page: a FastAPI app over one index.

Answers have the shapes of the CLI's ``--json`` (:mod:`engine.answers`). The index is a
:class:`~engine.live.LiveIndex`, opened once, read-only: when ``paperscope build`` or
``add`` publishes a new version, requests move to it atomically while earlier ones
finish on the old. Endpoints are plain functions, which FastAPI runs on its thread
pool; FAISS, ONNX Runtime and SQLite (serialized mode) are safe to share across them.

Every request is bounded: k, query length, example papers, body size (a small ASGI
guard, so an oversized body is refused before it is read). Errors are JSON,
``{"error": message}``, with the 4xx code that fits. With a token, every ``/api`` call
but ``/api/health`` needs ``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.exceptions import HTTPException

from engine import answers
from engine.errors import (
    IndexBusy,
    IndexCorrupt,
    IndexNotFound,
    PaperscopeError,
    QueryError,
    UnknownPaper,
    UnknownTopic,
)
from engine.filters import Filters
from engine.live import LiveIndex
from engine.query import MAX_QUERY_CHARS
from engine.recommend import MAX_EXAMPLES

log = logging.getLogger(__name__)

MAX_API_K = 100  # the CLI allows 1,000; a web request has no use for more than a page
MAX_BODY_BYTES = 64 * 1024
MAX_ID_CHARS = 64
MAX_CATEGORIES = 20
WEB = resources.files("engine") / "web"

PaperId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS)]
Category = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Level = Literal["fine", "coarse"]


class RecommendRequest(BaseModel):
    """Papers liked and disliked; filters as on search."""

    model_config = ConfigDict(extra="forbid")

    like: list[PaperId] = Field(min_length=1, max_length=MAX_EXAMPLES)
    unlike: list[PaperId] = Field(default_factory=list, max_length=MAX_EXAMPLES)
    k: int = Field(10, ge=1, le=MAX_API_K)
    method: Literal["rocchio", "svm"] = "rocchio"
    category: list[Category] = Field(default_factory=list, max_length=MAX_CATEGORIES)
    since: str | None = Field(None, max_length=10)
    until: str | None = Field(None, max_length=10)
    topic: int | None = Field(None, ge=-1, le=1_000_000)
    level: Level = "fine"


def _status_for(exc: PaperscopeError) -> int:
    if isinstance(exc, UnknownPaper | UnknownTopic):
        return 404
    if isinstance(exc, QueryError):
        return 400
    if isinstance(exc, IndexBusy | IndexCorrupt | IndexNotFound):
        return 503
    return 500


def _validation_message(exc: RequestValidationError) -> str:
    """'k: Input should be less than or equal to 100' for the first problem, and a count."""
    problems = exc.errors()
    if not problems:
        return "invalid request"
    first = problems[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("query", "body", "path"))
    message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
    return message + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else "")


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, by Content-Length when given
    and by counting otherwise (chunked uploads), before the endpoint reads them."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send)
            return
        seen = 0
        started = refused = False

        async def counted_receive():
            # Past the limit: answer 413 here and tell the app the client left, so it
            # stops reading (an exception would be turned into a 400 by the body parser).
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit and not refused:
                    refused = True
                    if not started:
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message) -> None:
            nonlocal started
            if refused:  # the app's own answer after the refusal goes nowhere
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, tracked_send)

    async def _refuse(self, send) -> None:
        body = json.dumps({"error": f"the request body is over {self.limit:,} bytes"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class MapCache:
    """The map answer of each version, built once (it is the largest answer: ~10 MB at 87k)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self._answer: dict | None = None

    def get(self, ix) -> dict:
        version = ix.manifest["version"]
        with self._lock:
            if self._version != version:
                self._answer, self._version = answers.map_answer(ix), version
            return self._answer


def _filters(category: list[str], since: str | None, until: str | None, topic: int | None, level: str) -> Filters:
    return Filters(categories=tuple(category), since=since, until=until, topic=topic, level=level)


def filter_params(
    category: Annotated[list[Category], Query(max_length=MAX_CATEGORIES)] = [],  # noqa: B006 (FastAPI copies it)
    since: Annotated[str | None, Query(max_length=10, description="YYYY, YYYY-MM or YYYY-MM-DD")] = None,
    until: Annotated[str | None, Query(max_length=10, description="inclusive, as since")] = None,
    topic: Annotated[int | None, Query(ge=-1, le=1_000_000)] = None,
    level: Level = "fine",
) -> Filters:
    """The filters of a GET query, shared by search and related."""
    return _filters(category, since, until, topic, level)


QueryFilters = Annotated[Filters, Depends(filter_params)]


def create_app(index: str | Path | LiveIndex, token: str | None = None) -> FastAPI:
    """The app for one index (a folder, or a LiveIndex already open). ``token``: when
    given, ``/api`` calls other than health need ``Authorization: Bearer <token>``."""
    live = index if isinstance(index, LiveIndex) else LiveIndex(index)
    started = time.time()
    maps = MapCache()
    app = FastAPI(
        title="paperscope",
        summary="Semantic search, related papers, recommendations and topics over arXiv papers.",
        version=_version(),
    )
    app.state.live = live

    def authorized(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise HTTPException(401, "this server needs a token: send Authorization: Bearer <token>")

    guarded = [Depends(authorized)]

    @app.exception_handler(PaperscopeError)
    async def paperscope_error(request: Request, exc: PaperscopeError) -> JSONResponse:
        status = _status_for(exc)
        if status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"error": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc)}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"error": "internal error (logged on the server)"}, status_code=500)

    @app.middleware("http")
    async def safety_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @app.get("/api/health", tags=["index"])
    def health() -> dict:
        """Whether the index answers, and which version."""
        ix = live.current()
        counts = (ix.manifest.get("topics") or {}) if ix.has_topics() else {}
        return {
            "status": "ok",
            "name": live.path.name,
            "version": ix.manifest["version"],
            "papers": len(ix),
            "fine_topics": counts.get("fine_topics", 0),
            "coarse_topics": counts.get("coarse_topics", 0),
            "index_type": (ix.manifest.get("index") or {}).get("type"),
            "backend": ix.manifest["model"].get("backend"),
            "topics": ix.has_topics(),
            "token_required": token is not None,
            "uptime_s": round(time.time() - started, 1),
        }

    @app.get("/api/search", tags=["search"], dependencies=guarded)
    def search(
        q: Annotated[
            str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="Free text; quotes keep phrases.")
        ],
        k: Annotated[int, Query(ge=1, le=MAX_API_K)] = 10,
        mode: Literal["hybrid", "dense", "lexical"] = "hybrid",
        filters: QueryFilters = None,
    ) -> dict:
        """Papers for a text query."""
        tick = time.perf_counter()
        hits = live.current().search(q, k=k, filters=filters, mode=mode)
        return answers.search_answer(q, mode, filters, hits, (time.perf_counter() - tick) * 1000)

    # ``:path`` because old-style arXiv ids hold a slash (hep-th/9901001); the related
    # route comes first so ".../related" is not read as part of an id.
    @app.get("/api/papers/{paper_id:path}/related", tags=["papers"], dependencies=guarded)
    def related(
        paper_id: str,
        k: Annotated[int, Query(ge=1, le=MAX_API_K)] = 10,
        filters: QueryFilters = None,
    ) -> dict:
        """Papers nearest to a paper of the index."""
        _check_id(paper_id)
        ix = live.current()
        hits = ix.related(paper_id, k=k, filters=filters)
        return answers.related_answer(ix.paper(paper_id), hits)

    @app.get("/api/papers/{paper_id:path}", tags=["papers"], dependencies=guarded)
    def paper(paper_id: str) -> dict:
        """A paper in full, with its topic."""
        _check_id(paper_id)
        return answers.paper_answer(live.current(), paper_id)

    @app.post("/api/recommend", tags=["search"], dependencies=guarded)
    def recommend(body: RecommendRequest) -> dict:
        """Papers like the liked ones and unlike the disliked ones, each with why."""
        filters = _filters(body.category, body.since, body.until, body.topic, body.level)
        found = live.current().recommend(body.like, body.unlike, k=body.k, filters=filters, method=body.method)
        return answers.recommend_answer(body.like, body.unlike, body.method, found)

    @app.get("/api/topics", tags=["topics"], dependencies=guarded)
    def topics(level: Level = "fine", papers: bool = True) -> dict:
        """Every topic with its label, keywords, representatives and (unless
        ``papers=false``) its members' ids."""
        ix = live.current()
        if not ix.has_topics():
            raise UnknownTopic("this index has no topics: run paperscope topics --refit")
        return answers.topics_answer(ix, level, members=papers)

    @app.get("/api/topics/{topic_id}", tags=["topics"], dependencies=guarded)
    def topic(
        topic_id: Annotated[int, PathParam(ge=-1, le=1_000_000)],
        level: Level = "fine",
        k: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> dict:
        """One topic and its papers, nearest its centre first."""
        return answers.topic_answer(live.current(), topic_id, level, k)

    @app.get("/api/map", tags=["topics"], dependencies=guarded)
    def topic_map() -> dict:
        """Every paper's map position and topics, column by column, and the topics' centres."""
        return maps.get(live.current())

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(str(WEB / "index.html"), media_type="text/html")

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        # plotly.js ships inside the plotly package: no CDN, works offline.
        import plotly

        return FileResponse(
            Path(plotly.__file__).parent / "package_data" / "plotly.min.js", media_type="text/javascript"
        )

    app.mount("/static", StaticFiles(directory=str(WEB)), name="static")
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    return app


def _check_id(paper_id: str) -> None:
    if not paper_id or len(paper_id) > MAX_ID_CHARS:
        raise QueryError(f"a paper id has 1 to {MAX_ID_CHARS} characters")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("paperscope")
    except PackageNotFoundError:
        return "0"
