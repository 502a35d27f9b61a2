"""What a library holds (entries, follows) and the checks every name, id, verdict and
follow passes before it reaches the store, shared by the store and its export/import."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from engine.errors import LibraryError
from engine.papers import CATEGORY, normalize_id

VERDICTS = ("like", "unlike")
# Names come from URLs and command lines: short, printable, no path separators.
_NAME = re.compile(r"^[\w][\w .+-]{0,63}$")
_ID = re.compile(r"^[\w./-]{1,64}$")
FOLLOW_KINDS = ("category", "topic")
_TOPIC_FOLLOW = re.compile(r"^(fine|coarse):(-?\d{1,9})$")


@dataclass(frozen=True)
class Entry:
    paper_id: str
    verdict: str
    title: str
    added: str


@dataclass(frozen=True)
class Follow:
    kind: str  # 'category' or 'topic'
    value: str  # 'astro-ph.GA', 'cs.' or 'fine:12'
    label: str


@dataclass(frozen=True)
class LibrarySummary:
    name: str
    created: str
    likes: int
    unlikes: int


def listing(library: str, entries: list[Entry], in_index: Callable[[str], bool]) -> dict:
    """A library's entries as the CLI's ``--json`` and the HTTP API give them."""
    return {"library": library, "entries": [{**asdict(e), "in_index": in_index(e.paper_id)} for e in entries]}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_name(name: str, field: str = "library") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise LibraryError(
            f"{field}: {name!r} is not a library name (1-64 letters, digits, spaces, '.', '+', '-' or '_')"
        )
    return name


def check_paper_id(raw: str, field: str = "paper") -> str:
    paper_id = normalize_id(raw) if isinstance(raw, str) else ""
    if not _ID.match(paper_id):
        raise LibraryError(f"{field}: {raw!r} is not a paper id")
    return paper_id


def check_follow(kind: str, value: str) -> str:
    if kind == "category" and isinstance(value, str) and CATEGORY.fullmatch(value):
        return value
    if kind == "topic" and isinstance(value, str) and _TOPIC_FOLLOW.match(value):
        return value
    if kind not in FOLLOW_KINDS:
        raise LibraryError(f"follow: {kind!r} must be 'category' or 'topic'")
    example = "cs.CV, cs. or astro-ph" if kind == "category" else "fine:12 or coarse:3"
    raise LibraryError(f"follow: {value!r} is not a {kind} (e.g. {example})")


def check_verdict(verdict: str, field: str = "verdict") -> str:
    if verdict not in VERDICTS:
        raise LibraryError(f"{field}: {verdict!r} must be 'like' or 'unlike'")
    return verdict
