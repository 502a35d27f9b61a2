"""``paperscope serve``: the HTTP API and web page on uvicorn.

Loopback by default. Binding any other address exposes the index to a network, so it
needs a token (``--token`` or ``PAPERSCOPE_TOKEN``); requests then carry it as
``Authorization: Bearer TOKEN``. Requests must name this server in their Host header
(:func:`trusted_hosts`). Connections are held to deadlines and a cap that silent or
slow sockets cannot fill (:class:`engine.serve.guards.GuardedH11`), and requests in
flight are bounded, so a burst gets quick 503s rather than a queue that grows without
bound. SIGTERM and SIGINT stop the server whole and it exits 0.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import uvicorn

from engine.errors import QueryError
from engine.serve.guards import LOOPBACK_NAMES, guarded_protocol

MAX_OPEN_CONNECTIONS = 1000  # bounds file descriptors; the oldest idle ones make room
REQUEST_TIMEOUT = 10.0  # a request must arrive whole within this, from connect or the previous answer
KEEP_ALIVE = 5  # an idle keep-alive connection closes after this
STALL_TIMEOUT = 30.0  # a client that reads none of an answer for this long is cut off
GRACEFUL_STOP = 5  # on SIGTERM/SIGINT, requests in progress get this long to finish
WILDCARDS = ("0.0.0.0", "::", "")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


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


def trusted_hosts(host: str, allowed: Iterable[str] = ()) -> tuple[str, ...]:
    """The names a request's Host header may give: the loopback names, the bound name
    (unless it is a wildcard, which names no host), and every ``--allow-host``."""
    names = [*LOOPBACK_NAMES, *allowed]
    if host not in WILDCARDS:
        names.append(f"[{host}]" if ":" in host and not host.startswith("[") else host)  # an IPv6 address
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]", name):
            raise QueryError(f"{name!r} is not a host name or address (give it without port or scheme)")
    return tuple(dict.fromkeys(name.lower() for name in names))


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``1h`` or a number of seconds → seconds (> 0)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text.lower())
    if not match or float(match[1]) <= 0:
        raise QueryError(f"{text!r} is not a duration: write e.g. 90s, 30m or 1h")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


def serve(
    index: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    allow_hosts: Iterable[str] = (),
    verify_every: float | None = None,
    exit_with_parent: bool = False,
    map_points: int | None = None,
) -> None:
    """Open the index, load the model, then answer until SIGTERM or SIGINT."""
    check_bind(host, token)
    hosts = trusted_hosts(host, allow_hosts)
    if exit_with_parent:
        _exit_with_parent()
    # Until uvicorn takes the signals over, a stop interrupts the start-up (model
    # loading can take seconds) and still counts as a clean exit.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        _serve(index, host, port, token, hosts, verify_every, map_points)


def _serve(
    index: Path, host: str, port: int, token: str | None, hosts: tuple[str, ...], verify_every, map_points
) -> None:
    from engine.query.live import LiveIndex
    from engine.serve.api import create_app
    from engine.serve.warmup import warm

    live = LiveIndex(index)
    if verify_every:
        live.verify_every(verify_every)
    app = create_app(live, token, hosts, **({"map_points": map_points} if map_points else {}))
    ix = live.current()
    tick = time.perf_counter()
    app.state.warm_up_ms = warm(ix, app.state.maps)  # before the socket opens: the first request is as quick as any
    ready = (
        f"paperscope: serving {index} ({len(ix):,} papers, version {live.version}) on http://{host}:{port}/"
        f" (warmed up in {time.perf_counter() - tick:.1f} s)"
    )
    protocol = guarded_protocol(_connection_cap(), REQUEST_TIMEOUT, STALL_TIMEOUT)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        ws="none",
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE,
        timeout_graceful_shutdown=GRACEFUL_STOP,
        server_header=False,
        h11_max_incomplete_event_size=16 * 1024,  # bounds request lines and headers
    )
    try:
        _Server(config, ready).run()
    finally:
        live.close()


class _Server(uvicorn.Server):
    """uvicorn's server, but a stop signal ends it with exit status 0: uvicorn re-raises
    the signal after its graceful shutdown, so the process would die *by* SIGTERM
    (status -15) and a supervisor would log a failure. It says it is serving once its
    socket listens, not before."""

    def __init__(self, config: uvicorn.Config, ready_message: str = "") -> None:
        super().__init__(config)
        self._ready_message = ready_message

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started and self._ready_message:
            print(self._ready_message, flush=True)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():  # only it may take signals
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: object) -> None:
        # A second signal of either kind skips the wait for requests in progress.
        self.force_exit = self.should_exit
        self.should_exit = True


def _connection_cap() -> int:
    """MAX_OPEN_CONNECTIONS, less when the file-descriptor limit would not allow it (the
    index's files, the model and the listening socket need some)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_OPEN_CONNECTIONS
    return max(16, min(MAX_OPEN_CONNECTIONS, soft - 128))


def _exit_with_parent() -> None:
    """Stops this server (SIGTERM to itself) when the process that started it is gone:
    :func:`server_process` runs the server in its own session, out of reach of signals
    sent to its parent's group, so a parent killed outright must not leave it behind."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="paperscope-parent-watch", daemon=True).start()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def server_process(index: Path, token: str | None = None, extra: tuple[str, ...] = ()) -> Iterator[str]:
    """``paperscope serve`` in a child process on a free loopback port (for tests,
    benchmarks and notebooks): waits until it answers, yields its base URL, stops it.
    Its output goes to a file that is shown if it fails to start.

    The child runs in its own session and is stopped as a group (SIGTERM, then SIGKILL
    after a grace period), so nothing it started outlives it; it stops by itself if
    this process dies without stopping it."""
    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PAPERSCOPE_TOKEN"}
    if token:
        env["PAPERSCOPE_TOKEN"] = token
    command = [sys.executable, "-m", "engine.cli", "serve", "--index", str(index), "--port", str(port)]
    command += ["--exit-with-parent", *extra]
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, text=True, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(process, base, log, httpx)
            yield base
        finally:
            stop_group(process)


def _wait_until_up(process: subprocess.Popen, base: str, log, httpx) -> None:
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read()}")
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            log.seek(0)
            raise RuntimeError(f"the server did not answer within 180 s:\n{log.read()}")
        time.sleep(0.2)


def stop_group(process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM to the process group led by ``process``; SIGKILL to the group once the
    leader has exited or after ``grace`` seconds, whichever comes first (stragglers it
    started die with it); then the leader is reaped. Until it is reaped, the leader
    holds its group id, so the SIGKILL cannot reach an unrelated group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while process.returncode is None and time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break  # exited, not yet reaped
        except ChildProcessError:
            break
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
