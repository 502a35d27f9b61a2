"""The HTTP API and the web page: a FastAPI app over one index.

Answers have the shapes of the CLI's ``--json`` (:mod:`engine.query.answers`). The
index is a :class:`~engine.query.live.LiveIndex`, opened once, read-only: when
``paperscope build`` or ``add`` publishes a new version, requests move to it atomically
while earlier ones finish on the old. Endpoints (:mod:`engine.serve.routes`) are plain
functions, which FastAPI runs on its thread pool; FAISS, ONNX Runtime and SQLite
(serialized mode) are safe to share across them.

Every request is bounded: k, query length, example papers, body size (an ASGI guard,
so an oversized body is refused before it is read), and so is the number being worked
on at once. Errors are JSON,
``{"error": message}``, with the status each error class names (:mod:`engine.errors`).
With a token, every ``/api`` call but ``/api/health`` needs ``Authorization: Bearer TOKEN``.
Only requests whose Host header names this server are answered, and every answer
carries a strict Content-Security-Policy; the guards and the policy are in
:mod:`engine.serve.guards`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from engine.errors import PaperscopeError
from engine.query.live import LiveIndex
from engine.query.map_points import OVERVIEW_POINTS
from engine.serve.deps import MAX_BODY_BYTES
from engine.serve.guards import (
    LOOPBACK_NAMES,
    SAFETY_HEADERS,
    BodyLimit,
    InFlightLimit,
    SecurityHeaders,
    TrustedHosts,
)
from engine.serve.routes import exports, feed, health, library, page, papers, search, topics
from engine.serve.timing import ServerTiming

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 64  # whole requests being worked on at once (until their answer starts); more get 503


def create_app(
    index: str | Path | LiveIndex,
    token: str | None = None,
    hosts: Iterable[str] = LOOPBACK_NAMES,
    map_points: int = OVERVIEW_POINTS,
) -> FastAPI:
    """The app for one index (a folder, or a LiveIndex already open). ``token``: when
    given, ``/api`` calls other than health need ``Authorization: Bearer <token>``.
    ``hosts``: the names a request's Host header may give (any port). ``map_points``:
    the points the page's map draws at the overview."""
    app = FastAPI(
        title="paperscope",
        summary="Semantic search, related papers, recommendations and topics over arXiv papers.",
        version=_version(),
        docs_url=None,  # FastAPI's /docs loads Swagger UI from a CDN with an inline script:
        redoc_url=None,  # routes/page.py serves it from the installed package instead
    )
    app.state.live = index if isinstance(index, LiveIndex) else LiveIndex(index)
    app.state.token = token
    app.state.started = time.time()
    app.state.maps = topics.MapCache(map_points)
    _answer_errors_as_json(app)
    for module in (health, search, papers, topics, library, feed, exports, page):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(page.WEB)), name="static")
    # The last added is the outermost: headers on everything, then the Host check,
    # the body limit, and only then a place among the requests in flight.
    # compresslevel 9 (the default) costs ~3x the time of 6 for ~2% smaller answers
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=6)
    app.add_middleware(InFlightLimit, limit=MAX_IN_FLIGHT)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.add_middleware(TrustedHosts, names=hosts)
    app.add_middleware(SecurityHeaders, headers=SAFETY_HEADERS)
    app.add_middleware(ServerTiming)  # outermost: from arrival to the answer's first byte
    return app


def _answer_errors_as_json(app: FastAPI) -> None:
    @app.exception_handler(PaperscopeError)
    async def paperscope_error(request: Request, exc: PaperscopeError) -> JSONResponse:
        if exc.http_status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"error": str(exc)}, status_code=exc.http_status)

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
        # Starlette answers this one outside every middleware, SecurityHeaders included.
        body = {"error": "internal error (logged on the server)"}
        return JSONResponse(body, status_code=500, headers=SAFETY_HEADERS)


def _validation_message(exc: RequestValidationError) -> str:
    """'k: Input should be less than or equal to 100' for the first problem, and a count."""
    problems = exc.errors()
    if not problems:
        return "invalid request"
    first = problems[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("query", "body", "path"))
    message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
    return message + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else "")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("paperscope")
    except PackageNotFoundError:
        return "0"
