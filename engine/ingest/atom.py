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

Parsing uses the stdlib's expat (line numbers for every entry). Documents with a
DOCTYPE are refused outright: a feed never needs one, and refusing it closes the door
on entity-expansion tricks whatever the bundled expat's own defences.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from xml.parsers import expat

from engine.errors import RecordError
from engine.papers import Paper, Problem, make_paper

ATOM_NS = "http://www.w3.org/2005/Atom"
ARXIV_NS = "http://arxiv.org/schemas/atom"
OPENSEARCH_NS = "http://a9.com/-/spec/opensearch/1.1/"
_SEP = " "  # expat joins a namespace URI and a local name with this
_FEED = f"{ATOM_NS}{_SEP}feed"
_ENTRY = f"{ATOM_NS}{_SEP}entry"
_AUTHOR = f"{ATOM_NS}{_SEP}author"
_NAME = f"{ATOM_NS}{_SEP}name"
_TEXT_FIELDS = {f"{ATOM_NS}{_SEP}{n}": n for n in ("id", "updated", "published", "title", "summary")}
_TEXT_FIELDS[f"{ARXIV_NS}{_SEP}comment"] = "comment"
_COUNTS = {f"{OPENSEARCH_NS}{_SEP}{n}": n for n in ("totalResults", "startIndex", "itemsPerPage")}
_PRIMARY = f"{ARXIV_NS}{_SEP}primary_category"
_CATEGORY = f"{ATOM_NS}{_SEP}category"
_ABS_URL = re.compile(r"^https?://(?:export\.)?arxiv\.org/abs/(\S+)$")
_ERROR_ID = re.compile(r"^https?://(?:export\.)?arxiv\.org/api/errors")
# An Atom feed root within the first bytes: <feed xmlns="http://www.w3.org/2005/Atom" ...>
_SNIFF = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?feed\b[^>]*http://www\.w3\.org/2005/Atom", re.DOTALL)
_CHUNK = 1 << 16
# Bounds checked while parsing (expat keeps no tree, so these bound our own memory): a
# feed nests 4 levels (feed, entry, author, name); an abstract is a few kB.
MAX_DEPTH = 16
MAX_TEXT_CHARS = 1 << 20


class FeedRefused(Exception):
    """The document is not something this parser reads (a DOCTYPE, not an Atom feed)."""


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
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and bool(_SNIFF.search(head))


def parse_feed(data: bytes, source: str) -> Feed:
    """A whole response body; entries before a syntax error are kept (``feed.broken``)."""
    parser = _FeedParser(source)
    for start in range(0, max(len(data), 1), _CHUNK):
        if not parser.feed(data[start : start + _CHUNK], final=False):
            break
    else:
        parser.feed(b"", final=True)
    return parser.result


def read_atom(path: Path) -> Iterator[Paper | Problem]:
    """Papers from a saved feed (plain or gzipped), streamed; problems name file:line."""
    source = str(path)
    parser = _FeedParser(source)
    yielded = 0
    try:
        with path.open("rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
        with (gzip.open if gz else open)(path, "rb") as handle:
            while True:
                chunk = handle.read(_CHUNK)
                going = parser.feed(chunk, final=not chunk)
                yield from (e.item for e in parser.result.entries[yielded:])
                yielded = len(parser.result.entries)
                if not chunk or not going:
                    break
    except (OSError, EOFError) as exc:
        yield Problem(source, None, f"file ends early or is corrupt ({exc})")
        return
    feed = parser.result
    if feed.error is not None:
        yield Problem(source, None, f"the arXiv API answered with an error: {feed.error}")
    if feed.broken is not None:
        yield feed.broken


class _FeedParser:
    """Expat callbacks building a :class:`Feed`, entry by entry."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.result = Feed()
        self.stack: list[tuple[str, list[str]]] = []  # (element, its text pieces)
        self.sizes: list[int] = []  # characters of text held by each element of the stack
        self.fields: dict[str, object] | None = None  # the entry being read
        self.parser = expat.ParserCreate(namespace_separator=_SEP)
        self.parser.buffer_text = True
        self.parser.StartDoctypeDeclHandler = self._refuse_doctype
        self.parser.EntityDeclHandler = self._refuse_doctype
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._text

    def feed(self, data: bytes, final: bool) -> bool:
        """Parse more bytes; False once the document is found broken (stop feeding)."""
        if self.result.broken is not None:
            return False
        try:
            self.parser.Parse(data, final)
        except expat.ExpatError as exc:
            self._broken(exc.lineno, f"not well-formed XML: {expat.errors.messages[exc.code]} (column {exc.offset})")
        except FeedRefused as exc:
            self._broken(self.parser.CurrentLineNumber, str(exc))
        return self.result.broken is None

    def _broken(self, line: int, message: str) -> None:
        self.result.broken = Problem(self.source, line, message)

    def _refuse_doctype(self, *_args: object) -> None:
        raise FeedRefused("DOCTYPE declarations are not allowed in a feed")

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        depth = len(self.stack)
        if depth >= MAX_DEPTH:
            raise FeedRefused(f"elements nested deeper than {MAX_DEPTH} levels")
        if depth == 0 and name != _FEED:
            raise FeedRefused(f"not an Atom feed: the root element is <{name.split(_SEP)[-1]}>")
        if depth == 1 and name == _ENTRY:
            self.fields = {"line": self.parser.CurrentLineNumber, "authors": [], "categories": []}
        elif self.fields is not None and depth == 2:
            if name == _PRIMARY and attrs.get("term"):
                self.fields["primary"] = attrs["term"]
            elif name == _CATEGORY and attrs.get("term"):
                self.fields["categories"].append(attrs["term"])
        self.stack.append((name, []))
        self.sizes.append(0)

    def _text(self, data: str) -> None:
        if self.stack:
            self.sizes[-1] += len(data)
            if self.sizes[-1] > MAX_TEXT_CHARS:
                raise FeedRefused(f"an element holds over {MAX_TEXT_CHARS:,} characters of text")
            self.stack[-1][1].append(data)

    def _end(self, name: str) -> None:
        _, pieces = self.stack.pop()
        self.sizes.pop()
        depth, text = len(self.stack), "".join(pieces)
        if depth == 1 and name in _COUNTS:
            setattr(self.result, _snake(_COUNTS[name]), _int_or_none(text))
        elif depth == 1 and name == _ENTRY and self.fields is not None:
            self._finish_entry(self.fields)
            self.fields = None
        elif self.fields is not None and depth == 2 and name in _TEXT_FIELDS:
            self.fields.setdefault(_TEXT_FIELDS[name], text)
        elif self.fields is not None and depth == 3 and name == _NAME and self.stack[-1][0] == _AUTHOR:
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
