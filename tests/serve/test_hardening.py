"""``paperscope serve`` against a hostile tester's findings (issue 18), each on a real
server process over loopback with real sockets and real signals: silent and slow
sockets cannot lock clients out; only requests naming this server are answered; every
answer carries a Content-Security-Policy and /docs needs no CDN; SIGTERM and SIGINT stop
the server whole; ``--verify-every`` finds a byte changed behind the stamp's back and
falls back to the last sound version. (The page under the policy, in Chromium, is in
test_web_page.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import httpx
import plotly
import pytest

from engine.artifact import store
from engine.pipeline.build import Options, add
from engine.serve.server import free_port, server_process
from tests.conftest import GA_DIGEST_2

# What the server must hold to (engine/serve/server.py has the same numbers).
REQUEST_TIMEOUT = 10.0  # a request that is not whole by then is cut off
MAX_OPEN_CONNECTIONS = 1000  # past it, the oldest idle connections make room
GRACEFUL_STOP = 5.0  # requests in progress get this long after SIGTERM
QUERY = "dark matter in dwarf galaxies"
PLOTLY_BYTES = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").stat().st_size


# -- 1. silent and slow sockets ------------------------------------------------------


def _address(base: str) -> tuple[str, int]:
    return "127.0.0.1", int(base.rsplit(":", 1)[1])


def _sockets(base: str, count: int, first_bytes: bytes = b"") -> list[socket.socket]:
    opened = []
    for _ in range(count):
        sock = socket.create_connection(_address(base), timeout=5)
        if first_bytes:
            sock.sendall(first_bytes)
        opened.append(sock)
    return opened


def _slowloris(base: str, count: int) -> list[socket.socket]:
    """Sockets that have sent the start of a request head (and will trickle more)."""
    return _sockets(base, count, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-0: 1\r\n")


def _slow_bodies(base: str, count: int) -> list[socket.socket]:
    """Whole request heads whose bodies never finish: 100 bytes declared, 1 sent."""
    head = b"POST /api/recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    return _sockets(base, count, head + b"Content-Length: 100\r\n\r\n{")


def _trickle(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.send(b"X-Slow: 1\r\n")


def _warm(base: str) -> None:
    """One search first: the first one after a start loads what searching needs, and this
    is about being locked out, not about a cold start."""
    assert httpx.get(f"{base}/api/search", params={"q": QUERY, "k": 5}, timeout=60).status_code == 200


def _clients_are_served(base: str, clients: int = 4) -> list[str]:
    """New clients one after another, each on a new connection: what went wrong (status
    or time) for any that was not answered 200 within 1 s. (The time counts from the
    request, not from building the client, which the machine's load would dominate.)"""
    failures: list[str] = []
    for number in range(clients):
        with httpx.Client(base_url=base, timeout=1.0) as client:
            tick = time.monotonic()
            try:
                answer = client.get("/api/search", params={"q": QUERY, "k": 5})
            except httpx.HTTPError as exc:
                failures.append(f"client {number}: {exc!r}")
                continue
            took = time.monotonic() - tick
            if answer.status_code != 200 or took > 1.0:
                failures.append(f"client {number}: {answer.status_code} in {took:.2f} s {answer.text[:80]}")
    return failures


def _closed_by_server(sockets: list[socket.socket], seconds: float, trickle=()) -> dict[socket.socket, float]:
    """When the server closed each socket (EOF or reset), waiting at most ``seconds``;
    meanwhile each socket of ``trickle`` sends one more header line every 2 s."""
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
    closed: dict[socket.socket, float] = {}
    deadline = time.monotonic() + seconds
    next_line = time.monotonic() + 2
    while len(closed) < len(sockets) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.2):
            try:
                data = key.fileobj.recv(65536)
            except OSError:
                data = b""
            if not data:
                closed[key.fileobj] = time.monotonic()
                selector.unregister(key.fileobj)
        if time.monotonic() >= next_line:
            _trickle([s for s in trickle if s not in closed])
            next_line += 2
    selector.close()
    return closed


def _close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


def test_silent_and_slow_sockets_do_not_lock_clients_out(served_corpus: str) -> None:
    """80 silent sockets, 20 slowloris heads and 70 unfinished bodies: past the old cap of
    64 connections and past the 64 requests in flight. Clients are served at once; the
    server closes every one of those sockets once the request deadline passes."""
    _warm(served_corpus)
    started = time.monotonic()
    idle = _sockets(served_corpus, 80)
    slow = _slowloris(served_corpus, 20)
    bodies = _slow_bodies(served_corpus, 70)
    held = idle + slow + bodies
    try:
        _trickle(slow)
        assert _clients_are_served(served_corpus) == []
        closed = _closed_by_server(held, REQUEST_TIMEOUT + 8, trickle=slow)
        assert len(closed) == len(held), f"{len(held) - len(closed)} sockets still open"
        times = sorted(at - started for at in closed.values())
        assert times[0] >= REQUEST_TIMEOUT - 1 and times[-1] <= REQUEST_TIMEOUT + 4, (times[0], times[-1])
        assert _clients_are_served(served_corpus) == []
    finally:
        _close_all(held)


def test_at_the_connection_cap_the_oldest_idle_connections_make_room(served_corpus: str) -> None:
    """1,050 silent sockets, past the cap of 1,000 open connections: a client is still
    served at once, and the connections closed to make room are the oldest."""
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2 * MAX_OPEN_CONNECTIONS:
        pytest.skip("the file-descriptor limit is too low for this test")
    _warm(served_corpus)
    held = _sockets(served_corpus, MAX_OPEN_CONNECTIONS + 50)
    try:
        assert _clients_are_served(served_corpus) == []
        closed = _closed_by_server(held, 2.0)
        order = sorted(held.index(sock) for sock in closed)
        assert len(order) >= 50, f"only {len(order)} connections were closed"
        assert order[-1] < 100, f"closed: {order}"  # the oldest, not newer ones
    finally:
        _close_all(held)


@pytest.mark.slow
def test_held_idle_and_slowloris_sockets_never_lock_clients_out(served_corpus: str) -> None:
    """The finding at full size, for 40 s: 200 silent sockets and 100 slowloris sockets
    (one header line every 2 s), each reopened as soon as the server closes it; every
    second, 4 new clients must each get 200 within 1 s."""
    _warm(served_corpus)
    idle = _sockets(served_corpus, 200)
    slow = _slowloris(served_corpus, 100)
    failures: list[str] = []
    rounds = 0
    deadline = time.monotonic() + 40
    try:
        while time.monotonic() < deadline:
            for group, reopen in (
                (idle, lambda: _sockets(served_corpus, 1)),
                (slow, lambda: _slowloris(served_corpus, 1)),
            ):
                gone = _closed_by_server(group, 0.05)
                for sock in gone:
                    group.remove(sock)
                    sock.close()
                    group.extend(reopen())
            _trickle(slow)
            failures += _clients_are_served(served_corpus)
            rounds += 1
            time.sleep(1.0)
        assert not failures, failures[:5]
        assert rounds >= 20
    finally:
        _close_all(idle + slow)


@pytest.mark.slow
def test_clients_that_stop_reading_are_cut_off_and_hold_no_place(served_corpus: str) -> None:
    """100 clients ask for plotly.min.js (4.8 MB, more than the kernel's buffers hold)
    and never read it, in two waves of 50: more than the 64 places for requests in
    flight, yet every one gets its answer started and other clients are served at once;
    after the stall timeout the server has cut every one of them off."""
    assert PLOTLY_BYTES > 4_000_000
    _warm(served_corpus)
    stalled: list[socket.socket] = []
    try:
        for _ in range(2):
            stalled += _stalled_readers(served_corpus, 50)
            time.sleep(1.5)  # their answers have started
        heads = [sock.recv(12, socket.MSG_PEEK) for sock in stalled]  # peeked: nothing is read
        assert heads == [b"HTTP/1.1 200"] * len(stalled), sorted(set(heads))
        assert _clients_are_served(served_corpus) == []
        time.sleep(30 + 5)  # the stall timeout, and some
        assert sum(_cut_off(sock) for sock in stalled) == len(stalled)
    finally:
        _close_all(stalled)


def _stalled_readers(base: str, count: int) -> list[socket.socket]:
    head = b"GET /static/vendor/plotly.min.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    opened = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, soon full
        sock.connect(_address(base))
        sock.sendall(head)
        opened.append(sock)
    return opened


def _cut_off(sock: socket.socket) -> bool:
    """Whether the server cut this connection off before its answer was whole. Reading
    now delivers what the kernel still held; a connection the server kept would go on
    to deliver the whole file and stay open (keep-alive), one it closed ends early."""
    sock.settimeout(3)
    received = 0
    try:
        while chunk := sock.recv(1 << 20):
            received += len(chunk)
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return received < PLOTLY_BYTES


def test_past_the_requests_in_flight_a_quick_503() -> None:
    """The guard that bounds work (InFlightLimit, limit 2 here), on an event loop with a
    stand-in for the app that holds each request until released: a request whose body
    never finishes takes no place, whole requests take one each, the next one gets 503
    at once, and a place comes back as soon as an answer starts."""
    from engine.serve.guards import InFlightLimit

    async def scenario() -> list[int]:
        release = asyncio.Event()

        async def app(scope, receive, send) -> None:
            assert (await receive())["body"] == b"{}"
            await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await asyncio.sleep(0.2)  # still sending: the place is already free
            await send({"type": "http.response.body", "body": b"ok"})

        guard = InFlightLimit(app, limit=2)
        statuses: list[int] = []

        def request(*parts: bytes, finished: bool = True):
            messages = [{"type": "http.request", "body": p, "more_body": True} for p in parts]
            messages[-1]["more_body"] = not finished

            async def receive():
                return messages.pop(0) if messages else await asyncio.Event().wait()

            async def send(message) -> None:
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])

            return asyncio.create_task(guard({"type": "http"}, receive, send))

        slow = request(b"{", finished=False)
        held = [request(b"{", b"}"), request(b"{}")]
        await asyncio.sleep(0.05)
        await asyncio.wait_for(request(b"{}"), 1)  # refused at once
        release.set()
        await asyncio.sleep(0.05)
        quick = request(b"{}")  # the answers above have started: their places are free
        await asyncio.wait_for(asyncio.gather(*held, quick), 2)
        slow.cancel()
        return statuses

    assert asyncio.run(scenario()) == [503, 200, 200, 200]


# -- 2. the Host header (DNS rebinding) ------------------------------------------------


def _raw(base: str, request: bytes) -> tuple[int, bytes]:
    """One raw HTTP/1.x exchange (httpx always sends a Host header of its own)."""
    with socket.create_connection(_address(base), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("path", ["/api/health", "/api/papers/2401.00001", "/api/search?q=galaxy", "/", "/docs"])
def test_requests_for_other_hosts_are_refused(served_corpus: str, path: str) -> None:
    for host in ("attacker.example", "attacker.example:80", "127.0.0.1.attacker.example", "localhost.evil"):
        refused = httpx.get(served_corpus + path, headers={"Host": host})
        assert refused.status_code in (400, 421), (host, refused.status_code)
        assert host.split(":")[0] in refused.json()["error"]
    port = served_corpus.rsplit(":", 1)[1]
    for host in ("127.0.0.1", f"127.0.0.1:{port}", f"localhost:{port}", f"LocalHost.:{port}", f"[::1]:{port}"):
        assert httpx.get(served_corpus + path, headers={"Host": host}).status_code in (200, 404), host
    status, body = _raw(served_corpus, f"GET {path} HTTP/1.0\r\n\r\n".encode())  # no Host at all
    assert status == 400 and b"error" in body


def test_allow_host_adds_names_and_a_wildcard_bind_names_none(corpus_index: Path) -> None:
    with server_process(corpus_index, extra=("--allow-host", "papers.example.org")) as base:
        port = base.rsplit(":", 1)[1]
        assert httpx.get(f"{base}/api/health", headers={"Host": f"papers.example.org:{port}"}).status_code == 200
        assert httpx.get(f"{base}/api/health", headers={"Host": "other.example.org"}).status_code == 400
    from engine.serve.server import trusted_hosts

    loopback = {"localhost", "127.0.0.1", "[::1]"}
    assert set(trusted_hosts("0.0.0.0")) == set(trusted_hosts("::")) == loopback
    assert set(trusted_hosts("0.0.0.0", ["Box.lan"])) == loopback | {"box.lan"}
    assert set(trusted_hosts("192.168.1.5")) == loopback | {"192.168.1.5"}
    assert set(trusted_hosts("fe80::1")) == loopback | {"[fe80::1]"}
    help_text = subprocess.run(
        [sys.executable, "-m", "engine.cli", "serve", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--allow-host" in help_text and "wildcard" in help_text


# -- 3. the Content-Security-Policy and /docs without a CDN ----------------------------


def _policy(answer: httpx.Response) -> dict[str, str]:
    header = answer.headers.get("content-security-policy", "")
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


def test_every_answer_carries_a_strict_policy(served_corpus: str) -> None:
    answers = {
        "api": httpx.get(f"{served_corpus}/api/search", params={"q": QUERY}),
        "not found": httpx.get(f"{served_corpus}/api/nowhere"),
        "invalid": httpx.get(f"{served_corpus}/api/search", params={"q": "x", "k": 0}),
        "too big": httpx.post(f"{served_corpus}/api/recommend", content=b" " * 70_000),
        "other host": httpx.get(f"{served_corpus}/api/health", headers={"Host": "attacker.example"}),
        "schema": httpx.get(f"{served_corpus}/openapi.json"),
        "docs": httpx.get(f"{served_corpus}/docs"),
        "static": httpx.get(f"{served_corpus}/static/app.css"),
    }
    for name, answer in answers.items():
        policy = _policy(answer)
        assert policy.get("script-src") == "script-src 'self'", (name, policy)
        for directive in ("frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'", "connect-src 'self'"):
            assert directive in policy.values(), (name, directive)
    page = _policy(httpx.get(f"{served_corpus}/"))
    # the page alone may eval (plotly's WebGL renderer compiles its shaders' code)
    assert page["script-src"] == "script-src 'self' 'unsafe-eval'"
    assert {k: v for k, v in page.items() if k != "script-src"} == {
        k: v for k, v in _policy(answers["docs"]).items() if k != "script-src"
    }
    docs = answers["docs"].text
    assert "<script>" not in docs and "cdn" not in docs.lower() and "http" not in docs.replace("http-equiv", "")
    bundle = httpx.get(f"{served_corpus}/static/vendor/swagger-ui-bundle.js")
    shipped = resources.files("fastapi_offline") / "static" / "swagger-ui-bundle.js"
    assert bundle.status_code == 200 and bundle.content == shipped.read_bytes()
    assert httpx.get(f"{served_corpus}/redoc").status_code == 404  # FastAPI's CDN page is gone


# -- 4. stopping: SIGTERM and SIGINT ----------------------------------------------------


def _port_free(port: int) -> bool:
    """Whether a new server could listen on the port now (as uvicorn binds: with
    SO_REUSEADDR, so closed connections waiting out TIME_WAIT do not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
    return True


def _up(port: int, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else process.returncode
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError("the server did not come up")


def _group_gone(pgid: int, seconds: float) -> bool:
    """Whether no live process (zombies aside: whoever adopted them reaps them) is left
    in a process group, waiting up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _group_members(pgid):
            return True
        time.sleep(0.1)
    return False


def _group_members(pgid: int) -> list[int]:
    members = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            state, _, group = stat.rpartition(")")[2].split()[:3]
            if int(group) == pgid and state != "Z":
                members.append(int(pid))
    return members


def _serve_command(index: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "engine.cli", "serve", "--index", str(index), "--port", str(port)]


def test_sigterm_to_a_wrapper_script_s_group_stops_the_server_whole(corpus_index: Path) -> None:
    """A user's script runs the server and more after it; a service manager stops it with
    SIGTERM to the script's process group while a client holds a request half-sent. The
    port is freed at once and no process of the group is left after the grace period."""
    port = free_port()
    script = " ".join(_serve_command(corpus_index, port)) + "; echo done"
    wrapper = subprocess.Popen(["bash", "-c", script], start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        _up(port, wrapper)
        held = _slow_bodies(f"http://127.0.0.1:{port}", 1)
        os.killpg(wrapper.pid, signal.SIGTERM)
        wrapper.wait(timeout=GRACEFUL_STOP + 5)
        deadline = time.monotonic() + 3
        while not _port_free(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _port_free(port)
        assert _group_gone(wrapper.pid, GRACEFUL_STOP + 5), "a process of the group is still running"
        _close_all(held)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(wrapper.pid, signal.SIGKILL)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_and_sigint_stop_the_server_with_exit_status_0(corpus_index: Path, stop: int) -> None:
    port = free_port()
    server = subprocess.Popen(
        _serve_command(corpus_index, port), start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        _up(port, server)
        held = _slow_bodies(f"http://127.0.0.1:{port}", 1)  # a request in progress must not hold the stop
        server.send_signal(stop)
        out, _ = server.communicate(timeout=GRACEFUL_STOP + 10)
        assert server.returncode == 0, out.decode(errors="replace")[-2000:]
        assert _port_free(port)
        assert b"Traceback" not in out
        _close_all(held)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)


def _listener_pid(port: int) -> int:
    """The pid of the process listening on a loopback TCP port (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                    inodes.add(fields[9])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] in inodes:
                        return int(pid)
    raise AssertionError(f"nothing listens on port {port}")


def test_server_process_runs_its_own_group_and_leaves_nothing_behind(corpus_index: Path) -> None:
    """``server_process()`` starts the server as the leader of its own session and stops
    the group; a parent killed outright (SIGKILL, no clean-up) leaves no server behind."""
    with server_process(corpus_index) as base:
        pid = _listener_pid(int(base.rsplit(":", 1)[1]))
        assert os.getsid(pid) == os.getpgid(pid) == pid
    assert _group_gone(pid, 1)

    code = (
        "import sys, time\nfrom pathlib import Path\nfrom engine.serve.server import server_process\n"
        "with server_process(Path(sys.argv[1])) as base:\n    print(base, flush=True)\n    time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code, str(corpus_index)], stdout=subprocess.PIPE, text=True)
    try:
        base = parent.stdout.readline().strip()
        port = int(base.rsplit(":", 1)[1])
        pid = _listener_pid(port)
        parent.kill()
        parent.wait()
        assert _group_gone(pid, 10), "the server outlived its parent"
        assert _port_free(port)
    finally:
        parent.kill()


# -- 5. --verify-every --------------------------------------------------------------------


def _flip_behind_the_stamp(path: Path, offset: int) -> None:
    """Changes one byte in place and puts size, mtime and inode back as they were: the
    stamp that spares opening from re-hashing cannot see it."""
    before = path.stat()
    path.chmod(0o644)
    with open(path, "r+b") as f:
        f.seek(offset, os.SEEK_END if offset < 0 else os.SEEK_SET)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    path.chmod(before.st_mode & 0o777)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)


def _health_until(base: str, condition, seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            health = httpx.get(f"{base}/api/health", timeout=5).json()
            if condition(health):
                return health
        assert time.monotonic() < deadline, f"health never changed as expected: {health}"
        time.sleep(0.3)


def test_verify_every_reports_a_byte_changed_behind_the_stamp(corpus_index: Path, tmp_path: Path) -> None:
    import engine

    index = shutil.copytree(corpus_index, tmp_path / "ix", symlinks=True)
    with server_process(index, extra=("--verify-every", "1s")) as base:
        first = _health_until(base, lambda h: h["verified"] is not None)
        assert first["verified"]["sound"] is True and first["verified"]["problems"] == 0
        _flip_behind_the_stamp(store.resolve_version(index) / store.VECTORS, -100)
        with engine.open(index) as ix:  # opening does not see it: that is the stamp's design
            assert len(ix) == first["papers"]
        damaged = _health_until(base, lambda h: h["verified"]["sound"] is False)
        assert damaged["verified"]["problems"] >= 1 and damaged["verified"]["version"] == first["version"]
        assert damaged["version"] == first["version"]  # no older version: it keeps answering
        assert httpx.get(f"{base}/api/search", params={"q": QUERY}).status_code == 200


def test_a_version_found_damaged_gives_way_to_the_last_sound_one(corpus_index: Path, tmp_path: Path) -> None:
    import engine
    from engine.ingest.sources import read_papers

    index = shutil.copytree(corpus_index, tmp_path / "ix", symlinks=True)
    with engine.open(index) as ix:
        newcomer = next(p for p in read_papers(GA_DIGEST_2).papers if p.id not in ix)
    add([GA_DIGEST_2], index, Options(backend="static", progress=False))
    older, newest = sorted(p.name for p in index.iterdir() if p.name.startswith("v"))
    with server_process(index, extra=("--verify-every", "1s")) as base:
        _health_until(base, lambda h: (h["verified"] or {}).get("sound") is True and h["version"] == newest)
        assert httpx.get(f"{base}/api/papers/{newcomer.id}").status_code == 200
        _flip_behind_the_stamp(index / newest / store.PAPERS_DB, -100)
        health = _health_until(base, lambda h: h["version"] == older)
        assert health["rejected"] == [newest]
        assert httpx.get(f"{base}/api/papers/{newcomer.id}").status_code == 404  # answers come from the older
        assert httpx.get(f"{base}/api/search", params={"q": "galaxy"}).json()["hits"]
        healed = _health_until(base, lambda h: h["verified"]["version"] == older)
        assert healed["verified"]["sound"] is True and healed["version"] == older
