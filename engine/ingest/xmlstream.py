"""The streaming XML reader under arXiv's answers (the API's Atom feed, OAI-PMH pages).

The stdlib's expat, fed in chunks, with namespaces (``URI NAME``) and the line of every
element. Documents with a DOCTYPE are refused outright: neither format ever needs one,
and refusing it closes the door on entity-expansion and external-entity tricks whatever
the bundled expat's own defences. Expat keeps no tree; depth and the text held per
element are bounded, so memory stays bounded whatever the input.

A format subclasses :class:`StreamParser` (its root element, ``start``/``end`` hooks,
``result`` with a ``broken`` attribute, ``items`` as records finish, the error the
document reports); :func:`parse_bytes` reads a response body, :func:`stream_file` a
saved one (plain or gzipped), yielding items as they are read.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.parsers import expat

from engine.papers import Paper, Problem

SEP = " "  # expat joins a namespace URI and a local name with this
CHUNK = 1 << 16
GZIP_MAGIC = b"\x1f\x8b"
# A feed nests 4 levels, an OAI-PMH page 8 (OAI-PMH, ListRecords, record, metadata,
# arXiv, authors, author, keyname); an abstract is a few kB.
MAX_DEPTH = 16
MAX_TEXT_CHARS = 1 << 20


class Refused(Exception):
    """The document is not something this parser reads (a DOCTYPE, another root)."""


def qname(namespace: str, local: str) -> str:
    """An element's name as expat reports it."""
    return f"{namespace}{SEP}{local}"


def local_name(name: str) -> str:
    return name.rsplit(SEP, 1)[-1]


class StreamParser:
    """Expat callbacks with the element stack; subclasses say what the elements mean."""

    root = ""  # the root element a document must open with (qname)
    what = "an XML document"  # named when another root is found

    def __init__(self, source: str, result: Any) -> None:
        self.source = source
        self.result = result  # has ``broken: Problem | None``
        self.items: list[Paper | Problem] = []  # what readers yield, in document order
        self.stack: list[tuple[str, list[str]]] = []  # (element, its text pieces)
        self.sizes: list[int] = []  # characters of text held by each element of the stack
        self.parser = expat.ParserCreate(namespace_separator=SEP)
        self.parser.buffer_text = True
        self.parser.StartDoctypeDeclHandler = self._refuse_doctype
        self.parser.EntityDeclHandler = self._refuse_doctype
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._text

    @property
    def line(self) -> int:
        return self.parser.CurrentLineNumber

    def start(self, name: str, attrs: dict[str, str], depth: int) -> None:
        """An element opened at ``depth`` (the root is 0); ``self.stack`` holds its parents."""

    def end(self, name: str, text: str, depth: int) -> None:
        """An element closed, with its text; ``self.stack`` holds its parents."""

    def error_message(self) -> str | None:
        """The error the document itself reports (an API error feed, an OAI error), if any."""
        return None

    def parent(self, up: int = 1) -> str | None:
        return self.stack[-up][0] if len(self.stack) >= up else None

    def feed(self, data: bytes, final: bool) -> bool:
        """Parse more bytes; False once the document is found broken (stop feeding)."""
        if self.result.broken is not None:
            return False
        try:
            self.parser.Parse(data, final)
        except expat.ExpatError as exc:
            self._broken(exc.lineno, f"not well-formed XML: {expat.errors.messages[exc.code]} (column {exc.offset})")
        except Refused as exc:
            self._broken(self.line, str(exc))
        return self.result.broken is None

    def _broken(self, line: int, message: str) -> None:
        self.result.broken = Problem(self.source, line, message)

    def _refuse_doctype(self, *_args: object) -> None:
        raise Refused("DOCTYPE declarations are not allowed here")

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        depth = len(self.stack)
        if depth >= MAX_DEPTH:
            raise Refused(f"elements nested deeper than {MAX_DEPTH} levels")
        if depth == 0 and name != self.root:
            raise Refused(f"not {self.what}: the root element is <{local_name(name)}>")
        self.start(name, attrs, depth)
        self.stack.append((name, []))
        self.sizes.append(0)

    def _text(self, data: str) -> None:
        if self.stack:
            self.sizes[-1] += len(data)
            if self.sizes[-1] > MAX_TEXT_CHARS:
                raise Refused(f"an element holds over {MAX_TEXT_CHARS:,} characters of text")
            self.stack[-1][1].append(data)

    def _end(self, name: str) -> None:
        _, pieces = self.stack.pop()
        self.sizes.pop()
        self.end(name, "".join(pieces), len(self.stack))


def parse_bytes(parser: StreamParser, data: bytes) -> Any:
    """A whole response body; what came before a syntax error is kept (``result.broken``)."""
    for start in range(0, max(len(data), 1), CHUNK):
        if not parser.feed(data[start : start + CHUNK], final=False):
            break
    else:
        parser.feed(b"", final=True)
    return parser.result


def stream_file(path: Path, parser: StreamParser) -> Iterator[Paper | Problem]:
    """The items of a saved document (plain or gzipped) as they are read, then the error
    it reports and where it broke, as problems naming the file (and line)."""
    yielded = 0
    try:
        with _open(path) as handle:
            while True:
                chunk = handle.read(CHUNK)
                going = parser.feed(chunk, final=not chunk)
                yield from parser.items[yielded:]
                yielded = len(parser.items)
                if not chunk or not going:
                    break
    except (OSError, EOFError) as exc:
        yield Problem(str(path), None, f"file ends early or is corrupt ({exc})")
        return
    message = parser.error_message()
    if message is not None:
        yield Problem(str(path), None, message)
    if parser.result.broken is not None:
        yield parser.result.broken


def root_sniffer(local: str, namespace: str) -> Callable[[bytes], bool]:
    """Whether the first few KB of a document open with markup and then a ``local``
    root element of ``namespace`` (any prefix; the namespace declared on it)."""
    pattern = re.compile(
        rb"<(?:[A-Za-z_][\w.-]*:)?" + re.escape(local.encode()) + rb"\b[^>]*" + re.escape(namespace.encode()),
        re.DOTALL,
    )

    def sniff(head: bytes) -> bool:
        return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and bool(pattern.search(head))

    return sniff


def head(path: Path, size: int = 4096) -> bytes:
    """The first bytes of a file (of its content, when gzipped); empty if unreadable."""
    try:
        with _open(path) as handle:
            return handle.read(size)
    except (OSError, EOFError):
        return b""


def _open(path: Path) -> Any:
    with path.open("rb") as raw:
        packed = raw.read(2) == GZIP_MAGIC
    opener: Callable[..., Any] = gzip.open if packed else open
    return opener(path, "rb")
