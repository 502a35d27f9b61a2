"""The arXiv API's Atom 1.0 feed (``http://export.arxiv.org/api/query``) into papers.

A feed carries ``opensearch:totalResults``, ``startIndex`` and ``itemsPerPage`` and one
``<entry>`` per paper::

    <entry>
      <id>http://arxiv.org/abs/2501.01234v2</id>
      <updated>2025-01-09T18:00:00Z</updated>   (the newest version)
      <published>2025-01-02T17:59:59Z</published>   (version 1)
      <title>..</title> <summary>..</summary> <author><name>..</name></author> ..
      <arxiv:comment>..</arxiv:comment>
      <arxiv:primary_category term="cs.CL"/> <category term="cs.CL"/> <category term="cs.LG"/>
    </entry>

The API reports a bad request as a feed whose single entry has an id under
``http://arxiv.org/api/errors#`` and the message as its summary.

Parsing is :mod:`engine.ingest.xmlstream`'s (expat: a line for every entry, no DOCTYPE,
bounded depth and text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from engine.errors import RecordError
from engine.ingest import xmlstream
from engine.ingest.xmlstream import qname
from engine.papers import Paper, Problem, make_paper

ATOM_NS = "http://www.w3.org/2005/Atom"
ARXIV_NS = "http://arxiv.org/schemas/atom"
OPENSEARCH_NS = "http://a9.com/-/spec/opensearch/1.1/"
_FEED = qname(ATOM_NS, "feed")
_ENTRY = qname(ATOM_NS, "entry")
_AUTHOR = qname(ATOM_NS, "author")
_NAME = qname(ATOM_NS, "name")
_TEXT_FIELDS = {qname(ATOM_NS, n): n for n in ("id", "updated", "published", "title", "summary")}
_TEXT_FIELDS[qname(ARXIV_NS, "comment")] = "comment"
_COUNTS = {qname(OPENSEARCH_NS, n): n for n in ("totalResults", "startIndex", "itemsPerPage")}
_PRIMARY = qname(ARXIV_NS, "primary_category")
_CATEGORY = qname(ATOM_NS, "category")
_ABS_URL = re.compile(r"^https?://(?:export\.)?arxiv\.org/abs/(\S+)$")
_ERROR_ID = re.compile(r"^https?://(?:export\.)?arxiv\.org/api/errors")
# An Atom feed root within the first bytes: <feed xmlns="http://www.w3.org/2005/Atom" ...>
_SNIFF = xmlstream.root_sniffer("feed", ATOM_NS)
MAX_TEXT_CHARS = xmlstream.MAX_TEXT_CHARS


@dataclass
class Entry:
    """One ``<entry>``: the paper (or why it is skipped), its line, its v1 timestamp."""

    line: int
    published: datetime | None
    item: Paper | Problem
    updated: datetime | None = None  # the newest version's timestamp (published for a v1)


@dataclass
class Feed:
    entries: list[Entry] = field(default_factory=list)
    total_results: int | None = None
    start_index: int | None = None
    items_per_page: int | None = None
    error: str | None = None  # the API's error message, for an error feed
    broken: Problem | None = None  # not well-formed XML / not a feed: where it broke

    @property
    def papers(self) -> list[Paper]:
        return [e.item for e in self.entries if isinstance(e.item, Paper)]

    @property
    def problems(self) -> list[Problem]:
        found = [e.item for e in self.entries if isinstance(e.item, Problem)]
        return [*found, self.broken] if self.broken else found


def looks_like_atom(head: bytes) -> bool:
    """Whether the first few KB of a document open an Atom feed (markup first, then a
    ``<feed`` element of the Atom namespace)."""
    return _SNIFF(head)


def parse_feed(data: bytes, source: str) -> Feed:
    """A whole response body; entries before a syntax error are kept (``feed.broken``)."""
    return xmlstream.parse_bytes(_FeedParser(source), data)


def read_atom(path: Path) -> Iterator[Paper | Problem]:
    """Papers from a saved feed (plain or gzipped), streamed; problems name file:line."""
    return xmlstream.stream_file(path, _FeedParser(str(path)))


class _FeedParser(xmlstream.StreamParser):
    """Builds a :class:`Feed`, entry by entry."""

    root = _FEED
    what = "an Atom feed"

    def __init__(self, source: str) -> None:
        super().__init__(source, Feed())
        self.fields: dict[str, object] | None = None  # the entry being read

    def error_message(self) -> str | None:
        error = self.result.error
        return None if error is None else f"the arXiv API answered with an error: {error}"

    def start(self, name: str, attrs: dict[str, str], depth: int) -> None:
        if depth == 1 and name == _ENTRY:
            self.fields = {"line": self.line, "authors": [], "categories": []}
        elif self.fields is not None and depth == 2:
            if name == _PRIMARY and attrs.get("term"):
                self.fields["primary"] = attrs["term"]
            elif name == _CATEGORY and attrs.get("term"):
                self.fields["categories"].append(attrs["term"])

    def end(self, name: str, text: str, depth: int) -> None:
        if depth == 1 and name in _COUNTS:
            setattr(self.result, _snake(_COUNTS[name]), _int_or_none(text))
        elif depth == 1 and name == _ENTRY and self.fields is not None:
            self._finish_entry(self.fields)
            self.fields = None
        elif self.fields is not None and depth == 2 and name in _TEXT_FIELDS:
            self.fields.setdefault(_TEXT_FIELDS[name], text)
        elif self.fields is not None and depth == 3 and name == _NAME and self.parent() == _AUTHOR:
            self.fields["authors"].append(text.strip())

    def _finish_entry(self, fields: dict) -> None:
        raw_id = str(fields.get("id") or "").strip()
        if _ERROR_ID.match(raw_id):
            self.result.error = " ".join(str(fields.get("summary") or raw_id).split())
            return
        line = int(fields["line"])
        published = updated = None
        try:
            published = _timestamp("published", fields.get("published"))
            updated = _timestamp("updated", fields["updated"]) if fields.get("updated") else published
            item: Paper | Problem = _paper(fields, raw_id, published, f"{self.source}:{line}")
        except RecordError as exc:
            item = Problem(self.source, line, f"entry {raw_id or '(no id)'}: {exc}")
        self.result.entries.append(Entry(line, published, item, updated))
        self.items.append(item)


def _paper(fields: dict, raw_id: str, published: datetime, source: str) -> Paper:
    match = _ABS_URL.match(raw_id)
    if not match:
        what = "missing" if not raw_id else f"not an arXiv abstract URL: {raw_id[:100]!r}"
        raise RecordError(f"field 'id' is {what}")
    updated = _timestamp("updated", fields.get("updated")) if fields.get("updated") else None
    primary = fields.get("primary")
    categories = ([primary] if primary else []) + list(fields["categories"])
    return make_paper(
        match.group(1),
        fields.get("title"),
        fields.get("summary"),
        authors=fields["authors"],
        categories=categories,
        date=published.date().isoformat(),
        updated=updated.date().isoformat() if updated else None,
        comment=fields.get("comment"),
        source=source,
    )


def _timestamp(name: str, value: object) -> datetime:
    """An RFC 3339 timestamp as an aware UTC datetime (naive ones are taken as UTC)."""
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"field '{name}' is missing")
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise RecordError(f"field '{name}' is not a timestamp: {value.strip()[:60]!r}") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _int_or_none(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
