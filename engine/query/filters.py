"""Filters on search, related and recommend: categories, a date range, a topic.

A filter becomes the set of rows it allows (one SQLite query over indexed columns),
and the FAISS search runs with an ID selector over exactly those rows, so a selective
filter still returns k papers when k exist, instead of filtering a short list after.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from engine.artifact import topic_store
from engine.artifact.store import Artifact
from engine.errors import QueryError
from engine.papers import CATEGORY

_DATE = re.compile(r"(\d{4})(-(\d{2}))?(-(\d{2}))?")


@dataclass(frozen=True)
class Filters:
    """What a paper must match. ``categories``: any of them, each exact (``astro-ph.GA``)
    or a prefix (``cs.``, or an archive like ``astro-ph`` = itself and ``astro-ph.*``).
    ``since``/``until``: inclusive ISO dates (``2025``, ``2025-06`` or ``2025-06-15``).
    ``topic`` at ``level``: one topic's papers."""

    categories: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    topic: int | None = None
    level: str = "fine"

    def __post_init__(self) -> None:
        for value in self.categories:
            if not isinstance(value, str) or not CATEGORY.fullmatch(value):
                raise QueryError(f"category {value!r} is not a category or prefix (e.g. cs.CV, cs., astro-ph)")
        bounds = [date_bound(self.since, "since", last=False), date_bound(self.until, "until", last=True)]
        if bounds[0] and bounds[1] and bounds[0] > bounds[1]:
            raise QueryError(f"since {self.since} is after until {self.until}")
        topic_store.check_level(self.level)

    @property
    def active(self) -> bool:
        return bool(self.categories or self.since or self.until or self.topic is not None)

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if v not in (None, ())}
        if self.topic is None:
            out.pop("level")
        return out


def date_bound(value: str | None, name: str, last: bool) -> str | None:
    if value is None:
        return None
    match = _DATE.fullmatch(str(value).strip())
    if not match:
        raise QueryError(f"{name} must be a date like 2025, 2025-06 or 2025-06-15, not {value!r}")
    year, month, day = match.group(1), match.group(3), match.group(5)
    try:  # the calendar decides: 2025-02-30 and 2025-13 are not dates
        datetime.date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        raise QueryError(f"{name} {value!r} is not a calendar date") from None
    fill = ("12", "31") if last else ("01", "01")
    return f"{year}-{month or fill[0]}-{day or fill[1]}"  # ISO strings compare like dates


def allowed_rows(artifact: Artifact, filters: Filters | None) -> list[int] | None:
    """Rows the filters allow, ascending; None when nothing is filtered."""
    if filters is None or not filters.active:
        return None
    clauses, params = [], []
    since = date_bound(filters.since, "since", last=False)
    until = date_bound(filters.until, "until", last=True)
    if since:
        clauses.append("date >= ?")
        params.append(since)
    if until:
        clauses.append("date <= ?")
        params.append(until)
    if filters.categories:
        tests = []
        for value in filters.categories:
            if value.endswith("."):
                tests.append("substr(c.value, 1, ?) = ?")
                params += [len(value), value]
            elif "." not in value:  # an archive: itself or any of its categories
                tests.append("(c.value = ? OR substr(c.value, 1, ?) = ?)")
                params += [value, len(value) + 1, value + "."]
            else:
                tests.append("c.value = ?")
                params.append(value)
        clauses.append(f"EXISTS (SELECT 1 FROM json_each(papers.categories) AS c WHERE {' OR '.join(tests)})")
    rows: set[int] | None = None
    if clauses:
        query = f"SELECT row FROM papers WHERE {' AND '.join(clauses)}"
        rows = {r[0] for r in artifact.db.execute(query, params)}
    if filters.topic is not None:
        in_topic = set(topic_store.rows_in(artifact.db, filters.level, int(filters.topic)))
        rows = in_topic if rows is None else rows & in_topic
    return sorted(rows or ())
