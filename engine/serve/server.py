"""``paperscope serve``: the HTTP API and web page on uvicorn.

Loopback by default. Binding any other address exposes the index to a network, so it
needs a token (``--token`` or ``PAPERSCOPE_TOKEN``); requests then carry it as
``Authorization: Bearer TOKEN``. Concurrency is capped so a burst gets quick 503s
rather than a queue that grows without bound.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from engine.errors import QueryError

MAX_CONNECTIONS = 64


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise QueryError(
            f"--host {host} makes the index reachable from other machines: give a token "
            "(--token or PAPERSCOPE_TOKEN) that clients must send, or keep the default 127.0.0.1"
        )
    if token is not None and len(token) < 16:
        raise QueryError("the API token must have at least 16 characters")


def serve(index: Path, host: str = "127.0.0.1", port: int = 8000, token: str | None = None) -> None:
    """Open the index, load the model, then answer until interrupted."""
    import uvicorn

    from engine.query.live import LiveIndex
    from engine.serve.api import create_app

    check_bind(host, token)
    live = LiveIndex(index)
    live.current().search("warm up the model", k=1, mode="dense")  # load before the first request
    app = create_app(live, token)
    ix = live.current()
    print(
        f"paperscope: serving {index} ({len(ix):,} papers, version {live.version}) on http://{host}:{port}/", flush=True
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=5,
        server_header=False,
        h11_max_incomplete_event_size=16 * 1024,  # bounds request lines and headers
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def server_process(index: Path, token: str | None = None, extra: tuple[str, ...] = ()) -> Iterator[str]:
    """``paperscope serve`` in a child process on a free loopback port (for tests,
    benchmarks and notebooks): waits until it answers, yields its base URL, stops it.
    Its output goes to a file that is shown if it fails to start."""
    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PAPERSCOPE_TOKEN"}
    if token:
        env["PAPERSCOPE_TOKEN"] = token
    command = [sys.executable, "-m", "engine.cli", "serve", "--index", str(index), "--port", str(port), *extra]
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, text=True)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        try:
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read()}")
                try:
                    if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"the server did not answer within 180 s:\n{log.read()}")
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
