"""Polite clients for arXiv: :class:`PoliteClient`, what every protocol shares, and
:class:`ArxivClient` for the API (``export.arxiv.org/api/query``); the OAI-PMH client
(:mod:`engine.ingest.oai_client`) is the other.

Polite means: one request at a time, at least ``delay`` seconds between the starts of
consecutive requests (arXiv asks for 3 s), retries included; exponential backoff with
jitter on what is worth retrying (connection errors, timeouts, HTTP 429/500/502/503/504,
and what the protocol's reader says is worth another try: for the API a page that is
not a feed, an empty page although ``totalResults`` says more exist); ``Retry-After``
honoured (OAI-PMH servers use 503 + ``Retry-After`` for flow control); a User-Agent that
names paperscope. Only the stdlib is used.
"""

from __future__ import annotations

import http.client
import logging
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib import metadata
from typing import NoReturn, TypeVar
from urllib.parse import urlencode, urlsplit

from engine.errors import ArxivRefused, ArxivUnavailable, SyncError
from engine.ingest import atom

log = logging.getLogger(__name__)

DEFAULT_API_URL = "http://export.arxiv.org/api/query"
MAX_PAGE_SIZE = 2000  # arXiv's limit on max_results per request
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RESPONSE_BYTES = 64 << 20  # a page of 2,000 entries is ~5 MB
T = TypeVar("T")


def user_agent() -> str:
    try:
        version = metadata.version("paperscope")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"paperscope/{version} (arXiv sync; Python urllib)"


@dataclass
class Retry:
    """An attempt that failed in a way worth another try."""

    reason: str
    retry_after: float | None = None


class PoliteClient:
    """Fetches URLs of one server politely; counts requests, retries and the time it
    waited. ``get`` takes the protocol's reader of a body (its answer, or a
    :class:`Retry`); subclasses name the service and read its error answers."""

    service = "the server"  # named in errors
    url_option = "--url"  # the option that gave the base URL, named if it is wrong
    accept = "*/*"

    def __init__(
        self,
        base_url: str,
        *,
        delay: float = 3.0,
        retries: int = 5,
        timeout: float = 30.0,
        backoff: float = 2.0,
        max_backoff: float = 120.0,
        max_retry_after: float = 600.0,
        rng: random.Random | None = None,
        on_request: Callable[[float], None] | None = None,
    ) -> None:
        """``on_request(time.time())`` is called as each request starts (to remember it
        across processes: see ``last_request``)."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise SyncError(f"{self.url_option} must be an http(s) URL without a query string, not {base_url!r}")
        self.base_url, self.delay, self.retries, self.timeout = base_url, delay, retries, timeout
        self.backoff, self.max_backoff, self.max_retry_after = backoff, max_backoff, max_retry_after
        self.rng = rng or random.Random()
        self.requests = 0
        self.retried = 0
        self.rate_wait = 0.0  # seconds slept to keep ``delay`` between requests
        self.backoff_wait = 0.0  # seconds slept backing off before retries
        self._last_start: float | None = None
        # time.time() of the latest request; set it to an earlier process's so that a
        # rerun straight after a failure keeps the spacing too.
        self.last_request: float | None = None
        self.on_request = on_request

    def get(self, url: str, read: Callable[[str, bytes], T | Retry]) -> T:
        """``read(url, body)`` of the answer, retried ``retries`` times (so up to
        ``retries + 1`` attempts) on transient failures.

        Raises:
            ArxivRefused: a permanent refusal; the message is the server's.
            ArxivUnavailable: still failing after the last attempt.
        """
        failure: Retry | None = None
        for attempt in range(self.retries + 1):
            if failure is not None:
                self._back_off(attempt, failure, url)
            self._wait_turn()
            outcome = self._attempt(url, read)
            if not isinstance(outcome, Retry):
                return outcome
            failure = outcome
            log.warning("%s: %s (attempt %d of %d)", url, failure.reason, attempt + 1, self.retries + 1)
        raise ArxivUnavailable(f"{url}: gave up after {self.retries + 1} attempts; last: {failure.reason}")

    def refuse(self, url: str, status: int, body: bytes, reason: str) -> NoReturn:
        """Raise the error for an HTTP error status not worth retrying (subclasses read
        their protocol's error answers in ``body``)."""
        raise ArxivRefused(f"{url}: {self.service} answered HTTP {status}: {_snippet(body) or reason}")

    def _wait_turn(self) -> None:
        """Sleep until ``delay`` seconds have passed since the previous request began."""
        if self._last_start is not None:
            wait = self._last_start + self.delay - time.monotonic()
        elif self.last_request is not None:  # another process's; clamped against clock jumps
            wait = min(self.delay, self.last_request + self.delay - time.time())
        else:
            wait = 0.0
        if wait > 0:
            time.sleep(wait)
            self.rate_wait += wait
        self._last_start, self.last_request = time.monotonic(), time.time()
        self.requests += 1
        if self.on_request is not None:
            self.on_request(self.last_request)

    def _back_off(self, attempt: int, failure: Retry, url: str) -> None:
        # "Equal jitter": half the exponential step is certain, half random, so retries
        # from many clients spread out while each still backs off.
        step = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        wait = step * self.rng.uniform(0.5, 1.0)
        if failure.retry_after is not None:
            if failure.retry_after > self.max_retry_after:
                raise ArxivUnavailable(
                    f"{url}: {failure.reason}, and the server asks to wait {failure.retry_after:.0f} s "
                    f"(more than {self.max_retry_after:.0f} s): try again later"
                )
            wait = max(wait, failure.retry_after)
        self.retried += 1
        self.backoff_wait += wait
        time.sleep(wait)

    def _attempt(self, url: str, read: Callable[[str, bytes], T | Retry]) -> T | Retry:
        request = urllib.request.Request(url, headers={"User-Agent": user_agent(), "Accept": self.accept})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read(MAX_RESPONSE_BYTES + 1)
            if len(body) > MAX_RESPONSE_BYTES:
                raise ArxivRefused(f"{url}: the answer is over {MAX_RESPONSE_BYTES:,} bytes")
        except urllib.error.HTTPError as exc:
            return self._http_error(url, exc)
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, cut short
            return Retry(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")
        return read(url, body)

    def _http_error(self, url: str, exc: urllib.error.HTTPError) -> Retry:
        try:
            body = exc.read(1 << 20)
        except (OSError, http.client.HTTPException):
            body = b""
        if exc.code in RETRY_STATUSES:
            return Retry(f"HTTP {exc.code}", _retry_after(exc.headers.get("Retry-After")))
        self.refuse(url, exc.code, body, str(exc.reason))


@dataclass
class Page:
    url: str
    body: bytes
    feed: atom.Feed


class ArxivClient(PoliteClient):
    """Fetches pages of an arXiv API query, newest first."""

    service = "the arXiv API"
    url_option = "--api-url"
    accept = "application/atom+xml"

    def __init__(self, api_url: str = DEFAULT_API_URL, *, sort_by: str = "submittedDate", **politeness) -> None:
        super().__init__(api_url, **politeness)
        self.api_url = api_url
        self.sort_by = sort_by  # submittedDate (new papers) or lastUpdatedDate (new versions too)

    def page_url(self, query: str, start: int, max_results: int) -> str:
        params = {
            "search_query": query,
            "start": start,
            "max_results": max_results,
            "sortBy": self.sort_by,
            "sortOrder": "descending",
        }
        return f"{self.api_url}?{urlencode(params)}"

    def fetch_page(self, query: str, start: int, max_results: int) -> Page:
        """One page of results (see :meth:`PoliteClient.get` for retries and errors)."""
        return self.get(self.page_url(query, start, max_results), lambda url, body: self._page(url, body, start))

    def refuse(self, url: str, status: int, body: bytes, reason: str) -> NoReturn:
        feed = atom.parse_feed(body, url) if body else None
        if feed is not None and feed.error:
            raise ArxivRefused(f"{url}: {self.service} answered HTTP {status}: {feed.error}")
        super().refuse(url, status, body, reason)

    def _page(self, url: str, body: bytes, start: int) -> Page | Retry:
        feed = atom.parse_feed(body, url)
        if feed.error is not None:
            raise ArxivRefused(f"{url}: the arXiv API answered: {feed.error}")
        if feed.broken is not None:
            # A truncated body or a proxy's HTML page: usually gone on the next try.
            return Retry(f"not a readable Atom feed ({feed.broken})")
        if not feed.entries and (feed.total_results or 0) > start:
            return Retry(f"an empty page although totalResults is {feed.total_results}")
        return Page(url, body, feed)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _snippet(body: bytes) -> str:
    """The start of an error page as one line of text (tags dropped)."""
    text = re.sub(r"<[^>]{0,200}>", " ", body[:2000].decode("utf-8", "replace"))
    return " ".join(text.split())[:300]
