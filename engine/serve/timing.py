"""``Server-Timing: app;dur=MS`` on every answer: how long the server took from the
request's arrival to its answer's first byte. Browsers show it in their network panel
and expose it to the page's Performance API, so a slow interaction can be told apart:
waiting on the server, or on the page (benchmarks/page.py reports both)."""

from __future__ import annotations

import time


class ServerTiming:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed(message) -> None:
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - start) * 1000:.1f}".encode()
                message = {**message, "headers": [*(message.get("headers") or []), (b"server-timing", took)]}
            await send(message)

        await self.app(scope, receive, timed)
