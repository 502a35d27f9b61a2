"""Readers for every input format, with errors that name the file and line.

Formats (detected from content, not from the file name):

* arXiv digest markdown: ``# ArXiv cs.CV --Thu, 19 Nov 2020``, then per paper
  ``### N.Title  [ :arrow_down: ](https://arxiv.org/pdf/ID.pdf)`` and ``>  abstract``.
* paperscope corpus JSONL (the schema of ``arxiv-87k.jsonl.gz``), plain or gzipped.
* the arXiv bulk metadata snapshot JSONL (``categories`` space-separated, ``authors``
  one string, ``versions`` with RFC 2822 dates, ``update_date``), plain or gzipped.
* a saved arXiv API response (Atom 1.0, see :mod:`engine.atom`), plain or gzipped.
* a saved OAI-PMH ``ListRecords`` page in arXiv's format (see :mod:`engine.ingest.oai_pmh`).
* a folder holding any of these, read recursively in sorted order.

A bad record is reported as a :class:`~engine.papers.Problem` and skipped; the valid
records around it are kept. Size and nesting are bounded before anything is parsed: a
line over ``MAX_LINE_BYTES`` is skipped without being held in memory, and a JSON line
nested deeper than ``MAX_JSON_DEPTH`` is refused before the decoder (which recurses)
sees it.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from itertools import accumulate
from pathlib import Path

from engine.errors import InputError, RecordError
from engine.ingest import atom, oai_pmh, xmlstream
from engine.papers import Paper, Problem, deduplicate, make_paper

_GZIP_MAGIC = b"\x1f\x8b"
MAX_LINE_BYTES = 1 << 20  # a record is a few kB; the largest real one is far below this
MAX_JSON_DEPTH = 32  # records nest 2 levels (versions: a list of objects)
_JSON_ESCAPE = re.compile(r"\\.")
_JSON_STRING = re.compile(r'"[^"]*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]")
_DIGEST_HEADER = re.compile(r"^#\s*ArXiv\s+(\S+)\s+--\s*(.+?)\s*$")
_DIGEST_ENTRY = re.compile(
    r"^###\s*(\d+)\.\s*(.*?)\s*\[\s*:arrow_down:\s*\]\(\s*https?://arxiv\.org/pdf/(\S+?)(?:\.pdf)?\s*\)\s*$"
)


@dataclass
class ParseResult:
    """What reading some inputs gave: unique papers, and every problem met."""

    papers: list[Paper] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    records: int = 0
    duplicates: int = 0

    def summary(self) -> str:
        text = (
            f"read {self.records:,} records from {self.files:,} file(s): "
            f"{len(self.papers):,} papers, {self.duplicates:,} duplicates merged"
        )
        if self.problems:
            text += f", {len(self.problems):,} records skipped"
        return text


def read_papers(*paths: str | Path) -> ParseResult:
    """Read papers from files and folders; duplicates keep the newest copy."""
    result = ParseResult()
    collected: list[Paper] = []
    for path in paths:
        for file in _input_files(Path(path)):
            result.files += 1
            for item in _read_file(file):
                if isinstance(item, Problem):
                    result.problems.append(item)
                else:
                    collected.append(item)
    result.records = len(collected) + len(result.problems)
    unique = deduplicate(collected)
    result.papers, result.duplicates = unique.papers, unique.duplicates
    return result


def _input_files(path: Path) -> list[Path]:
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_file():
        return [path]
    files = [
        p
        for p in sorted(path.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    ]
    return [p for p in files if detect_format(p) is not None]


_SNIFF_LINES = 50


def _open_text_lines(path: Path) -> Iterator[bytes | None]:
    """The lines of a (possibly gzipped) file; None for a line over ``MAX_LINE_BYTES``,
    whose bytes are read past in bounded pieces, never held whole."""
    with path.open("rb") as raw:
        gz = raw.read(2) == _GZIP_MAGIC
    opener = gzip.open if gz else open
    with opener(path, "rb") as handle:
        while line := handle.readline(MAX_LINE_BYTES + 1):
            if len(line) <= MAX_LINE_BYTES:
                yield line
                continue
            while line and not line.endswith(b"\n"):
                line = handle.readline(MAX_LINE_BYTES)
            yield None


def json_depth(line: str) -> int:
    """How deep the arrays and objects of a JSON text nest, counted without parsing
    (escapes dropped, then strings, then everything but brackets): linear time, no
    recursion, whatever the input."""
    skeleton = _NOT_BRACKET.sub("", _JSON_STRING.sub("", _JSON_ESCAPE.sub("", line)))
    return max(accumulate(1 if c in "[{" else -1 for c in skeleton), default=0)


def detect_format(path: Path) -> str | None:
    """``"digest"``, ``"jsonl"``, ``"atom"``, ``"oai-pmh"`` or None, from the content: a
    digest starts with ``#``; JSON lines have an object among their first lines (so a broken
    first record does not hide a whole corpus), or at least a ``.jsonl``/``.json`` name (so
    each line is reported); an Atom feed opens ``<feed`` of the Atom namespace in its first
    4 KB, an OAI-PMH page ``<OAI-PMH`` of the OAI namespace."""
    head = xmlstream.head(path)
    if atom.looks_like_atom(head):
        return "atom"
    if oai_pmh.looks_like_oai(head):
        return "oai-pmh"
    seen = 0
    try:
        for line in _open_text_lines(path):
            stripped = (line or b"").strip()
            if not stripped:
                continue
            if seen == 0 and stripped.startswith(b"#"):
                return "digest"
            if stripped.startswith(b"{"):
                return "jsonl"
            seen += 1
            if seen >= _SNIFF_LINES:
                break
    except (OSError, EOFError, gzip.BadGzipFile):
        pass
    suffixes = [s.lower() for s in path.suffixes]
    if seen and any(s in (".jsonl", ".json", ".ndjson") for s in suffixes):
        return "jsonl"
    return None


def _read_file(path: Path) -> Iterator[Paper | Problem]:
    kind = detect_format(path)
    if kind == "digest":
        yield from read_digest(path)
    elif kind == "jsonl":
        yield from read_jsonl(path)
    elif kind == "atom":
        yield from atom.read_atom(path)
    elif kind == "oai-pmh":
        yield from oai_pmh.read_oai(path)
    else:
        yield Problem(
            str(path),
            None,
            "unrecognized format: expected an arXiv digest (.md), JSON lines, an arXiv Atom feed or an OAI-PMH page",
        )


def _decoded_lines(path: Path) -> Iterator[tuple[int, str | Problem]]:
    """Numbered lines of a (possibly gzipped) file; undecodable lines become problems."""
    try:
        for number, raw in enumerate(_open_text_lines(path), start=1):
            if raw is None:
                yield number, Problem(str(path), number, f"line is over {MAX_LINE_BYTES:,} bytes: skipped")
                continue
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                yield number, Problem(str(path), number, f"invalid UTF-8 at byte {exc.start}")
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        # A truncated gzip stream: keep what came before, report where it broke.
        yield -1, Problem(str(path), None, f"file ends early or is corrupt ({exc})")


# --- arXiv digest markdown -------------------------------------------------------


def _digest_date(text: str) -> str | None:
    for fmt in ("%a, %d %b %Y", "%d %b %Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), fmt).date().isoformat()
        except ValueError:
            continue
    return None


def read_digest(path: Path) -> Iterator[Paper | Problem]:
    """Papers from an arXiv digest listing; the listing's category and date apply to all."""
    source = str(path)
    category: str | None = None
    date: str | None = None
    entry: tuple[int, str, str] | None = None  # line, title, raw id
    abstract: list[str] = []
    seen_header = False

    def finish() -> Paper | Problem | None:
        if entry is None:
            return None
        line, title, raw_id = entry
        if not abstract:
            return Problem(source, line, f"paper {raw_id} has no abstract ('>' lines)")
        try:
            return make_paper(
                raw_id,
                title,
                " ".join(abstract),
                categories=[category] if category else [],
                date=date,
                source=f"{source}:{line}",
            )
        except RecordError as exc:
            return Problem(source, line, str(exc))

    for number, line in _decoded_lines(path):
        if isinstance(line, Problem):
            yield line
            continue
        if not seen_header and line.strip():
            seen_header = True
            header = _DIGEST_HEADER.match(line)
            if header:
                category, date = header.group(1), _digest_date(header.group(2))
                if date is None:
                    yield Problem(source, number, f"unreadable listing date {header.group(2)!r}")
                continue
            yield Problem(source, number, "missing digest header '# ArXiv <category> --<date>'")
        if line.startswith("###"):
            done = finish()
            if done is not None:
                yield done
            abstract = []
            match = _DIGEST_ENTRY.match(line)
            if match:
                entry = (number, match.group(2), match.group(3))
            else:
                entry = None
                yield Problem(
                    source,
                    number,
                    "malformed entry: expected '### N.Title [ :arrow_down: ](https://arxiv.org/pdf/ID.pdf)'",
                )
        elif entry is not None and line.strip():
            abstract.append(line.lstrip()[1:] if line.lstrip().startswith(">") else line)
    done = finish()
    if done is not None:
        yield done


# --- JSON lines: paperscope corpus and arXiv metadata snapshot --------------------


def read_jsonl(path: Path) -> Iterator[Paper | Problem]:
    """Papers from JSON lines; each line may be a corpus record or a snapshot record."""
    source = str(path)
    for number, line in _decoded_lines(path):
        if isinstance(line, Problem):
            yield line
            continue
        if not line.strip():
            continue
        if line.count("[") + line.count("{") > MAX_JSON_DEPTH and json_depth(line) > MAX_JSON_DEPTH:
            yield Problem(source, number, f"JSON nested deeper than {MAX_JSON_DEPTH} levels: skipped")
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Problem(source, number, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(record, dict):
            yield Problem(source, number, f"expected a JSON object, got {type(record).__name__}")
            continue
        try:
            if _is_snapshot_record(record):
                yield _from_snapshot(record, f"{source}:{number}")
            else:
                yield _from_corpus(record, f"{source}:{number}")
        except RecordError as exc:
            yield Problem(source, number, str(exc))


def _is_snapshot_record(record: dict) -> bool:
    return "versions" in record or "update_date" in record or isinstance(record.get("categories"), str)


def _str_list(name: str, value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise RecordError(f"field '{name}' must be a list of strings, got {type(value).__name__}")


def _optional_str(name: str, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise RecordError(f"field '{name}' must be a string, got {type(value).__name__}")


def _iso_date(name: str, value: object) -> str | None:
    text = _optional_str(name, value)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip()[:10]).date().isoformat()
    except ValueError:
        raise RecordError(f"field '{name}' is not a date: {text!r}") from None


def _from_corpus(record: dict, source: str) -> Paper:
    authors = record.get("authors")
    author_list = _split_authors(authors) if isinstance(authors, str) else _str_list("authors", authors)
    categories = _str_list("categories", record.get("categories"))
    primary = _optional_str("primary_category", record.get("primary_category"))
    if primary:
        categories = [primary] + [c for c in categories if c != primary]
    return make_paper(
        record.get("id"),
        record.get("title"),
        record.get("abstract"),
        authors=author_list,
        categories=categories,
        date=_iso_date("date", record.get("date")),
        updated=_iso_date("updated", record.get("updated")),
        comment=_optional_str("comment", record.get("comment")),
        source=source,
    )


def _from_snapshot(record: dict, source: str) -> Paper:
    first, last, version = _snapshot_versions(record.get("versions"))
    updated = last or _iso_date("update_date", record.get("update_date"))
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed and all(isinstance(a, list) for a in parsed):
        authors = [" ".join(str(p) for p in (a[1:2] + a[0:1] + a[2:3]) if p).strip() for a in parsed]
    else:
        authors = _split_authors(_optional_str("authors", record.get("authors")) or "")
    return make_paper(
        record.get("id"),
        record.get("title"),
        record.get("abstract"),
        authors=authors,
        categories=_str_list("categories", record.get("categories")),
        date=first or updated,
        updated=updated,
        version=version,
        comment=_optional_str("comments", record.get("comments")),
        source=source,
    )


def _snapshot_versions(value: object) -> tuple[str | None, str | None, int | None]:
    """First and last version dates and the last version number of a snapshot record."""
    if value is None:
        return None, None, None
    if not isinstance(value, list):
        raise RecordError(f"field 'versions' must be a list, got {type(value).__name__}")
    dated: list[tuple[int, str]] = []
    for item in value:
        if not isinstance(item, dict):
            raise RecordError("field 'versions' must hold objects with 'version' and 'created'")
        label, created = item.get("version"), item.get("created")
        try:
            number = int(str(label).lstrip("v"))
            when = parsedate_to_datetime(str(created)).date().isoformat()
        except (TypeError, ValueError):
            raise RecordError(f"field 'versions' has an unreadable entry {item!r}"[:200]) from None
        dated.append((number, when))
    if not dated:
        return None, None, None
    dated.sort()
    return dated[0][1], dated[-1][1], dated[-1][0]


_AUTHOR_SPLIT = re.compile(r",\s*(?:and\s+)?|\s+and\s+")


def _split_authors(text: str) -> list[str]:
    return [a for a in (part.strip() for part in _AUTHOR_SPLIT.split(text)) if a]
