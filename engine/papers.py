"""The ``Paper`` record, arXiv id normalization, text cleanup and de-duplication.

Every input format (see :mod:`engine.sources`) produces ``Paper`` records; everything
downstream (embedding, the store, queries) consumes them. Nothing here does I/O.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.errors import RecordError
from engine.text import sentences as split_sentences

# New-style ids (since 2007): 2011.09300, 0704.0001, optionally versioned.
_NEW_ID = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5})(?:v(\d+))?$", re.IGNORECASE)
# Old-style ids: hep-th/9901001, math.GT/0309136, optionally versioned.
_OLD_ID = re.compile(r"^(?:arxiv:)?([a-z][a-z\-]*(?:\.[a-z]{2})?/\d{7})(?:v(\d+))?$", re.IGNORECASE)
# A category (cs.CV, astro-ph.GA) or a prefix of one (cs., astro-ph), as filters and follows take them.
CATEGORY = re.compile(r"[A-Za-z][A-Za-z0-9-]*(\.[A-Za-z0-9-]*)?")

# Abstracts longer than this are not abstracts (a whole paper pasted in, a broken
# export); they are rejected rather than silently truncated.
MAX_ABSTRACT_CHARS = 100_000
MAX_TITLE_CHARS = 2_000


def is_arxiv_id(paper_id: str) -> bool:
    """Whether a (normalized) id is an arXiv id, which has an abstract page, a PDF and a DOI."""
    return bool(_NEW_ID.match(paper_id) or _OLD_ID.match(paper_id)) and not paper_id.lower().startswith("arxiv:")


@dataclass(frozen=True, slots=True)
class Problem:
    """A record that could not be read, with where it came from."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper. ``categories`` lists the primary category first.

    ``date`` is the first-submission (or listing) date and ``updated`` the date of the
    newest version, both ISO ``YYYY-MM-DD``; they decide which copy of a paper seen
    twice is kept.
    """

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    date: str | None = None
    updated: str | None = None
    version: int | None = None
    comment: str | None = None
    source: str | None = field(default=None, compare=False)

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None

    @property
    def text(self) -> str:
        """The text that is embedded: title and abstract."""
        return f"{self.title}. {self.abstract}"

    @property
    def sentences(self) -> list[str]:
        """The texts of its sentence vectors: the title, then each sentence of the abstract."""
        return [self.title, *split_sentences(self.abstract)]

    @property
    def freshness(self) -> tuple[str, int]:
        """Sort key for "newest wins": latest version date, then version number."""
        return (self.updated or self.date or "", self.version or 0)


def split_id(raw: str) -> tuple[str, int | None]:
    """Normalize an id: arXiv ids lose their ``arXiv:`` prefix and ``vN`` suffix.

    Returns the normalized id and the version number found (or None). Ids that are
    not arXiv ids are kept as given (trimmed).
    """
    text = raw.strip()
    for pattern in (_NEW_ID, _OLD_ID):
        match = pattern.match(text)
        if match:
            version = int(match.group(2)) if match.group(2) else None
            return match.group(1), version
    return text, None


def normalize_id(raw: str) -> str:
    return split_id(raw)[0]


_ANCHOR = re.compile(r"<a\s[^>]*?href=\"([^\"]*)\"[^>]*>.*?</a>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?[a-zA-Z][^>]{0,200}>")
_SPACE = re.compile(r"\s+")
# UTF-8 bytes that were decoded as Latin-1 somewhere upstream ("24.73Â°" for "24.73°").
_MOJIBAKE = re.compile(r"[\u00c2-\u00f4][\u0080-\u00bf]{1,3}")


def _repair_mojibake(text: str) -> str:
    def fix(match: re.Match[str]) -> str:
        try:
            return match.group(0).encode("latin-1").decode("utf-8")
        except UnicodeError:
            return match.group(0)

    return _MOJIBAKE.sub(fix, text)


def clean_text(text: str) -> str:
    """Plain text from listing HTML: entities decoded, links kept as their URL,
    tags dropped, mojibake repaired, whitespace collapsed."""
    text = _ANCHOR.sub(lambda m: m.group(1), text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    if "\u00c2" in text or "\u00c3" in text:
        text = _repair_mojibake(text)
    return _SPACE.sub(" ", text).strip()


def make_paper(
    raw_id: object,
    title: object,
    abstract: object,
    *,
    authors: Iterable[str] = (),
    categories: Iterable[str] = (),
    date: str | None = None,
    updated: str | None = None,
    version: int | None = None,
    comment: str | None = None,
    source: str | None = None,
) -> Paper:
    """Validate and clean the fields of one record into a ``Paper``.

    Raises:
        RecordError: a required field is missing, of the wrong type, empty or huge.
    """
    pid = _required_str("id", raw_id)
    norm_id, id_version = split_id(pid)
    clean_title = clean_text(_required_str("title", title))
    clean_abstract = clean_text(_required_str("abstract", abstract))
    if not clean_title:
        raise RecordError("field 'title' is empty")
    if not clean_abstract:
        raise RecordError("field 'abstract' is empty")
    if len(clean_title) > MAX_TITLE_CHARS:
        raise RecordError(f"field 'title' has {len(clean_title):,} characters (limit {MAX_TITLE_CHARS:,})")
    if len(clean_abstract) > MAX_ABSTRACT_CHARS:
        raise RecordError(f"field 'abstract' has {len(clean_abstract):,} characters (limit {MAX_ABSTRACT_CHARS:,})")
    cats = tuple(dict.fromkeys(c.strip() for c in categories if c and c.strip()))
    return Paper(
        id=norm_id,
        title=clean_title,
        abstract=clean_abstract,
        authors=tuple(a.strip() for a in authors if a and a.strip()),
        categories=cats,
        date=date,
        updated=updated,
        version=version if version is not None else id_version,
        comment=comment.strip() if comment and comment.strip() else None,
        source=source,
    )


def _required_str(name: str, value: object) -> str:
    if value is None:
        raise RecordError(f"field '{name}' is missing")
    if not isinstance(value, str):
        raise RecordError(f"field '{name}' must be a string, got {type(value).__name__}")
    return value


@dataclass
class Deduplicated:
    papers: list[Paper]
    duplicates: int


def deduplicate(papers: Iterable[Paper]) -> Deduplicated:
    """Keep one copy of each id: the newest (by ``freshness``); on a tie, the later one.

    The first-seen order of ids is kept, so results are deterministic.
    """
    kept: dict[str, Paper] = {}
    duplicates = 0
    for paper in papers:
        previous = kept.get(paper.id)
        if previous is None:
            kept[paper.id] = paper
            continue
        duplicates += 1
        if paper.freshness >= previous.freshness:
            kept[paper.id] = paper
    return Deduplicated(list(kept.values()), duplicates)
