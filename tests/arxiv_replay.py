"""A real HTTP server on loopback that answers like the arXiv API from recorded entries.

It pages over its entries (newest first) by ``start`` and ``max_results`` exactly as
``export.arxiv.org/api/query`` does, wraps them in the API's feed header, logs every
request with its arrival time, and can inject the faults the real API shows: 5xx, 429
with ``Retry-After``, a dropped connection, a slow answer, no answer at all, an empty page although
``totalResults`` says more exist, and the API's error feed.

``feed_xml`` is also what ``scripts/make-atom-fixtures`` renders recorded pages with.
The server and its faults (``FaultyServer``, ``serve``) are shared with the OAI-PMH
replay (tests/oai_replay.py).
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar, TypeVar
from urllib.parse import parse_qs, quote, urlsplit
from xml.dom import minidom
from xml.sax.saxutils import escape

S = TypeVar("S", bound="FaultyServer")
OPENSEARCH = 'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"'
_ENTRY = re.compile(r"  <entry>\n.*?\n  </entry>\n", re.DOTALL)


def feed_xml(
    entries: list[str], query: str, start: int, per_page: int, total: int, updated: str, id_list: str = ""
) -> str:
    """A whole API response around already rendered ``<entry>`` blocks (the legacy
    export.arxiv.org layout: namespaces declared on the elements that use them)."""
    asked = f"search_query={query}&id_list={id_list}&start={start}&max_results={per_page}"
    feed_id = base64.urlsafe_b64encode(hashlib.sha1(asked.encode()).digest()).decode().rstrip("=")
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f'  <link href="http://arxiv.org/api/query?{quote(asked, safe="")}" rel="self" type="application/atom+xml"/>\n'
        f'  <title type="html">ArXiv Query: {escape(asked)}</title>\n'
        f"  <id>http://arxiv.org/api/{feed_id}</id>\n"
        f"  <updated>{updated}</updated>\n"
        f"  <opensearch:totalResults {OPENSEARCH}>{total}</opensearch:totalResults>\n"
        f"  <opensearch:startIndex {OPENSEARCH}>{start}</opensearch:startIndex>\n"
        f"  <opensearch:itemsPerPage {OPENSEARCH}>{per_page}</opensearch:itemsPerPage>\n"
    )
    return head + "".join(entries) + "</feed>\n"


def recorded_entries(*pages: Path) -> list[str]:
    """The ``<entry>`` blocks of recorded pages, in order (give the pages newest first)."""
    return [block for page in pages for block in _ENTRY.findall(page.read_text(encoding="utf-8"))]


def expected_papers(entries: list[str]) -> list[dict]:
    """What each recorded entry says, read with minidom (an oracle independent of
    engine.atom): id without version, version, title, authors, categories, date."""
    papers = []
    for block in entries:
        doc = minidom.parseString(f'<feed xmlns="http://www.w3.org/2005/Atom">{block}</feed>')

        def text(tag: str, doc=doc) -> str:
            found = doc.getElementsByTagName(tag)
            return " ".join(found[0].firstChild.data.split()) if found and found[0].firstChild else ""

        raw_id = text("id").rsplit("/abs/", 1)[-1]
        number, _, version = raw_id.rpartition("v")
        papers.append(
            {
                "id": number,
                "version": int(version),
                "title": text("title"),
                "abstract": text("summary"),
                "authors": [" ".join(n.firstChild.data.split()) for n in doc.getElementsByTagName("name")],
                "categories": [c.getAttribute("term") for c in doc.getElementsByTagName("category")],
                "primary": doc.getElementsByTagName("arxiv:primary_category")[0].getAttribute("term"),
                "date": text("published")[:10],
                "published": text("published"),
            }
        )
    return papers


@dataclass
class Request:
    at: float  # time.monotonic() when the request arrived
    params: dict[str, str]
    answer: str  # "200", "503", "drop", ...
    body: bytes = b""
    agent: str = ""
    path: str = ""  # as requested: /api/query?search_query=...

    @property
    def start(self) -> int:
        return int(self.params.get("start", "0"))


Outcome = tuple[int, dict[str, str], bytes] | None  # status, headers, body; None: drop the connection
SERVE = object()  # a fault after which the request is answered as usual (a slow answer)


@dataclass(kw_only=True)
class FaultyServer:
    """What a replayed server shares: the request log, one-shot faults, the release of
    hung requests and its address. Subclasses answer requests to ``path``.

    Faults (tuples): ``("drop",)``, ``("hang",)`` (no answer until ``release`` is set,
    then none at all), ``("slow", seconds)``, ``("status", code[, retry_after])``; a
    subclass may add its own."""

    path: ClassVar[str] = "/"
    content_type: ClassVar[str] = "application/xml; charset=utf-8"
    faults: deque = field(default_factory=deque)  # one-shot, in request order
    log: list[Request] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)  # ends ("hang",)
    base: str = ""

    @property
    def url(self) -> str:
        return f"{self.base}{self.path}"

    def answer(self, params: dict[str, str]) -> Outcome:
        raise NotImplementedError

    def next_fault(self, failing: tuple | None) -> tuple | None:
        """The fault for this request: the one for what it asks for, else the next one-shot."""
        return failing or (self.faults.popleft() if self.faults else None)

    def common_fault(self, fault: tuple) -> Outcome | object:
        """What a shared fault does: an outcome, ``SERVE`` or ``NotImplemented`` (the
        subclass's own kind)."""
        kind = fault[0]
        if kind == "drop":
            return None
        if kind == "hang":
            self.release.wait(60)
            return None
        if kind == "slow":
            time.sleep(fault[1])
            return SERVE
        if kind == "status":
            headers = {"Retry-After": fault[2]} if len(fault) > 2 else {}
            return fault[1], headers, f"<html><body>Error {fault[1]}</body></html>".encode()
        return NotImplemented


@dataclass
class Replay(FaultyServer):
    """The arXiv API's state; tests change ``entries`` and the faults between syncs.
    Its own faults: ``("error-feed",)``, ``("empty",)`` (no entries although
    ``totalResults`` says more exist)."""

    path: ClassVar[str] = "/api/query"
    content_type: ClassVar[str] = "application/atom+xml; charset=utf-8"
    entries: list[str]
    error_feed: str = ""
    failing_starts: dict[int, tuple] = field(default_factory=dict)  # every request at that start
    query_updated: str = "2026-06-20T00:00:00-04:00"

    def starts(self, since: int = 0) -> list[int]:
        return [r.start for r in self.log[since:]]

    def answer(self, params: dict[str, str]) -> Outcome:
        """Status, headers and body for a request (None: drop the connection)."""
        start, size = int(params.get("start", "0")), int(params.get("max_results", "10"))
        fault = self.next_fault(self.failing_starts.get(start))
        if fault is not None:
            done = self.common_fault(fault)
            if done is NotImplemented and fault[0] == "error-feed":
                return 400, {}, self.error_feed.encode()
            if done is NotImplemented and fault[0] == "empty":
                return 200, {}, self._page([], params, start, size)
            if done is not SERVE:
                return done
        return 200, {}, self._page(self.entries[start : start + size], params, start, size)

    def _page(self, entries: list[str], params: dict[str, str], start: int, size: int) -> bytes:
        query = params.get("search_query", "")
        return feed_xml(entries, query, start, size, len(self.entries), self.query_updated).encode("utf-8")


def assert_polite(replay: FaultyServer, delay: float) -> None:
    """Server-side: consecutive requests began at least ``delay`` apart, retries too.
    Arrival times carry the loopback's scheduling jitter: on a loaded 2-core host one
    request reached the replay server 47 ms after the client sent it and the next on time,
    so a gap may read up to ~50 ms short; a client ignoring ``delay`` shows gaps near 0."""
    gaps = [b.at - a.at for a, b in zip(replay.log, replay.log[1:], strict=False)]
    assert min(gaps, default=delay) >= delay - 0.06, gaps


def killed_when(code: str, reached: Callable[[], bool], seconds: float = 60.0) -> int:
    """Run ``code`` in a Python child process and SIGKILL it once ``reached()`` holds (or
    after ``seconds``, or sooner if it ends by itself); its return code."""
    process = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + seconds
        while not reached() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait()
    return process.returncode


def _handler(replay: FaultyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            arrived = time.monotonic()
            parts = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path != replay.path:
                self.send_error(404)
                return
            request = Request(arrived, params, "pending", agent=self.headers.get("User-Agent", ""), path=self.path)
            replay.log.append(request)  # at arrival: a slow answer must not reorder the log
            outcome = replay.answer(params)
            if outcome is None:
                request.answer = "drop"
                self.close_connection = True
                return
            status, headers, body = outcome
            request.answer, request.body = str(status), body
            try:
                self.send_response(status)
                self.send_header("Content-Type", replay.content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (timeout): nothing to answer

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve(replay: S) -> Iterator[S]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(replay))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    replay.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield replay
    finally:
        server.shutdown()
        server.server_close()
