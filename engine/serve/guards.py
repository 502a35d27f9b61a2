"""Guards that act before a request reaches FastAPI, at two levels.

Connections: :class:`GuardedH11`, uvicorn's HTTP/1.1 protocol with deadlines and a cap
on open sockets, decides which connections are kept. Requests: the ASGI guards, which
:func:`engine.serve.api.create_app` stacks outermost first as listed here, decide which
requests are answered. ``SecurityHeaders`` puts the safety headers (the CSP among them)
on every answer, refusals included; ``TrustedHosts`` refuses a Host header that does not
name this server (DNS rebinding); ``BodyLimit`` refuses an oversized body before it is
read; ``InFlightLimit`` lets a bounded number of whole requests into the app at once.
Every refusal is JSON, ``{"error": ...}``, like the API's other errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")  # the Host names a loopback server always answers

# The Content-Security-Policy of every answer: scripts only from this server (no inline
# script, no eval, no other origin), requests only to it, no framing. Styles may be
# inline because plotly and Swagger UI set them from script; images may be data: or
# blob: URLs (Swagger UI's icons, plotly's snapshots). Swagger UI 5's one `new Function`
# is a fallback for engines without `globalThis`, never reached in a current browser.
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    )
)
# The page alone adds 'unsafe-eval': its topic map draws with plotly's WebGL traces,
# and regl, their renderer, compiles each draw command with `Function.apply` at run
# time (plotly.min.js 7.1; its other `new Function` is a fallback never reached). With
# no eval, plotly shows "WebGL is not supported" instead of the map (checked in
# Chromium). plotly.js's CSP-safe "strict" bundle is not in the plotly package on PyPI.
# Scripts still come only from this server, and the page passes no text of its own to
# eval; the docs and every API answer keep the policy without it.
PAGE_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'")
SAFETY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


async def refuse(send, status: int, message: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message}).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol, made to hold up against clients that connect and then say
    nothing, or too little too slowly (slowloris).

    * A request must arrive whole, head and body, within ``request_timeout`` seconds of
      the connection opening or of the previous answer on it; otherwise the connection is
      closed. Idle keep-alive connections still close after uvicorn's ``timeout_keep_alive``.
    * A client that stops reading an answer (the send buffer stays full) for
      ``stall_timeout`` seconds is cut off, so it cannot hold a request in flight forever.
    * At most ``max_connections`` sockets are open (a bound on file descriptors). At the
      cap, the oldest connection with no request in progress is closed to make room; a
      newcomer is turned away only when every open connection is busy. uvicorn's own
      ``limit_concurrency`` counts idle sockets as load, which let 64 silent sockets
      lock every client out with 503s; requests in flight are bounded by
      :class:`InFlightLimit` instead.

    Use :func:`guarded_protocol`, which gives each server its own registry.
    """

    request_timeout = 10.0
    stall_timeout = 30.0
    max_connections = 1000
    open_connections: ClassVar[dict[GuardedH11, None]] = {}  # insertion order: oldest first

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline = self._stall = None
        if not self._make_room():
            transport.close()
            return
        self.open_connections[self] = None
        self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.open_connections.pop(self, None)
        for timer in (self._deadline, self._stall):
            if timer is not None:
                timer.cancel()

    def on_response_complete(self) -> None:
        # The next request on this connection gets a fresh deadline.
        self._arm_deadline()
        super().on_response_complete()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall is None:
            self._stall = self.loop.call_later(self.stall_timeout, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def shutdown(self) -> None:
        # On SIGTERM/SIGINT: a request still arriving will never be answered, so its
        # connection closes now instead of holding up the graceful stop.
        if self.busy() and self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self.transport.close()
            return
        super().shutdown()

    def busy(self) -> bool:
        """A whole request head arrived and its answer is not complete."""
        return self.cycle is not None and not self.cycle.response_complete

    def _make_room(self) -> bool:
        if len(self.open_connections) < self.max_connections:
            return True
        for other in self.open_connections:
            if not other.busy():
                del self.open_connections[other]
                other.transport.close()
                return True
        return False

    def _arm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.request_timeout, self._deadline_passed)

    def _deadline_passed(self) -> None:
        # IDLE: the head is still incomplete; SEND_BODY: the body is. Once the request is
        # whole (DONE), answering it may take as long as it takes.
        self._deadline = None
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.transport.close()

    def _stalled(self) -> None:
        # abort, not close: close would wait to flush the very buffer nobody reads.
        self._stall = None
        self.transport.abort()


def guarded_protocol(
    max_connections: int, request_timeout: float = 10.0, stall_timeout: float = 30.0
) -> type[GuardedH11]:
    """A :class:`GuardedH11` class for one server: its own limits and its own registry of
    open connections (two servers in one process never evict each other's)."""
    limits = {"max_connections": max_connections, "request_timeout": request_timeout, "stall_timeout": stall_timeout}
    return type("GuardedH11", (GuardedH11,), {**limits, "open_connections": {}})


class SecurityHeaders:
    """Adds ``headers`` to every answer that does not set them itself: the app's answers,
    static files, and the refusals of the guards inside this one."""

    def __init__(self, app, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {bytes(name).lower() for name, _ in headers}
                headers += [(name, value) for name, value in self.headers if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def host_name(host: str) -> str:
    """The name in a Host header, lowercased, without port or final dot:
    ``LocalHost.:8000`` → ``localhost``, ``[::1]:8000`` → ``[::1]``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0].rstrip(".") if ":" in host else host.rstrip(".")


class TrustedHosts:
    """Refuses (400, JSON) a request whose Host header names none of ``names``.

    A web page the user visits can point its own domain at 127.0.0.1 (DNS rebinding) and
    then read this server as same-origin; its requests still carry the attacker's name
    in Host, so answering only our own names closes that door. (Starlette's
    TrustedHostMiddleware answers in plain text and cuts ``[::1]:8000`` at the first colon.)
    """

    def __init__(self, app, names: Iterable[str]) -> None:
        self.app = app
        self.names = frozenset(host_name(name) for name in names)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if host_name(given) not in self.names:
            shown = given[:100] or "(none)"
            await refuse(
                send, 400, f"this server does not answer for the host {shown!r}; see paperscope serve --allow-host"
            )
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuses a request body over ``limit`` bytes with 413, whether its size is declared
    (Content-Length) or not (chunked): nothing over the limit is ever read."""

    def __init__(self, app, limit: int) -> None:
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
        await refuse(send, 413, f"the request body is over {self.limit:,} bytes")


class InFlightLimit:
    """At most ``limit`` requests being worked on at once; one more gets a quick 503.

    A request takes its place only once it is whole: its body (at most the body limit,
    enforced outside this guard) is read first and replayed to the app, so a client
    that sends slowly holds no place. It gives the place back as its answer starts:
    what is bounded is the work (the thread pool, the CPU), not the delivery, so a
    client that reads slowly holds a connection (bounded, and cut off when it stalls)
    but no place. Everything runs on the event loop's one thread, so a plain counter
    is exact.
    """

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.active = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left, or BodyLimit has answered already
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        if self.active >= self.limit:
            await refuse(send, 503, "the server is busy: try again in a moment", [(b"retry-after", b"1")])
            return
        replayed = released = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: waits for the client to leave
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.active -= 1

        async def answering(message) -> None:
            if message["type"] == "http.response.start":
                release()
            await send(message)

        self.active += 1
        try:
            await self.app(scope, replay, answering)
        finally:
            release()
