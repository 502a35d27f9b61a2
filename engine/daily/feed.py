"""The feed: what is new for a library, ranked, with a reason per paper, as one JSON-ready
answer that the CLI prints, the API serves, the page lists, and digests and Atom feeds
render.

Windows are in the index's own days: ``7d`` is the week up to the newest paper the
index holds (after a daily ``sync`` that is today; on a historical dump it is still a
week of papers, not an empty list). ``last`` (the default) starts where the previous
visit's newest paper was, or a week back on a first visit; papers marked read stay out
of every window.
"""

from __future__ import annotations

import datetime
import re

from engine.errors import QueryError
from engine.library.records import Follow, now
from engine.library.store import LibraryStore
from engine.query import feed as ranking_feed
from engine.query.answers import paper_answer
from engine.query.facade import PaperIndex
from engine.query.filters import date_bound

DEFAULT_SINCE = "last"
FIRST_VISIT_DAYS = 7
DEFAULT_K = 50
_DAYS = re.compile(r"^(\d{1,4})d$")


def resolve_since(since: str | None, newest: str | None, last_visit: str | None) -> str:
    """``last`` / ``Nd`` / an ISO date (year, month or day) → the first day of the window."""
    value = (since or DEFAULT_SINCE).strip()
    end = datetime.date.fromisoformat(newest) if newest else datetime.datetime.now(datetime.UTC).date()
    if value == "last":
        return last_visit or (end - datetime.timedelta(days=FIRST_VISIT_DAYS - 1)).isoformat()
    days = _DAYS.match(value)
    if days:
        if not 1 <= int(days.group(1)) <= 3650:
            raise QueryError(f"since {value!r}: days must be 1-3650")
        return (end - datetime.timedelta(days=int(days.group(1)) - 1)).isoformat()
    try:
        return date_bound(value, "since", last=False)
    except QueryError:
        raise QueryError(
            f"since must be 'last', a number of days like 7d, or a date like 2026-06-15, not {value!r}"
        ) from None


def _followed(ix: PaperIndex, follows: list[Follow]) -> tuple[list[str], list[tuple[str, int]], list[dict], list[str]]:
    """Followed categories, topics that still exist, their JSON, and topics gone since
    (a refit can retire a topic: the feed then says so rather than failing)."""
    categories = [f.value for f in follows if f.kind == "category"]
    topics, shown, gone = [], [], []
    known = (
        {level: {t.id: t.label for t in ix.topics(level)} for level in ("fine", "coarse")} if ix.has_topics() else {}
    )
    for f in follows:
        if f.kind != "topic":
            continue
        level, raw = f.value.split(":")
        if int(raw) in known.get(level, {}):
            topics.append((level, int(raw)))
            shown.append({"id": int(raw), "level": level, "label": known[level][int(raw)]})
        else:
            gone.append(f"{f.value} ({f.label})" if f.label else f.value)
    return categories, topics, shown, gone


def why(hit_dict: dict, method: str, followed_topics: list[dict]) -> str:
    """One readable line: the liked paper it is closest to and the words they share, or
    for a library without likes, where it is new; plus a followed topic it falls in."""
    because = hit_dict.get("because") or {}
    parts = []
    if method != "newest" and because.get("title"):
        parts.append(f"close to \u201c{because['title']}\u201d, which you liked ({because.get('similarity', 0):.2f})")
        if because.get("words"):
            parts.append("shares: " + ", ".join(because["words"][:5]))
    else:
        parts.append(f"new in {hit_dict.get('primary_category') or 'the index'}")
    topic = hit_dict.get("topic") or {}
    for followed in followed_topics:
        ids = {"fine": topic.get("id"), "coarse": (topic.get("parent") or {}).get("id")}
        if ids[followed["level"]] == followed["id"]:
            parts.append(f"in your topic \u201c{followed['label']}\u201d")
    return "; ".join(parts)


def _item(ix: PaperIndex, hit, method: str, followed: list[dict], read: set[str]) -> dict:
    """A feed entry: the paper in full, its rank, score and topic, why, a snippet."""
    shown = hit.to_dict()
    item = {**paper_answer(ix, hit.paper.id), "rank": shown["rank"], "score": shown["score"]}
    item.update(why=why(shown, method, followed), snippet=shown["snippet"], relevance=shown.get("relevance"))
    item.update(because=shown.get("because"), read=hit.paper.id in read)
    return item


def build_feed(
    ix: PaperIndex,
    store: LibraryStore,
    library: str,
    since: str | None = None,
    k: int = DEFAULT_K,
    include_read: bool = False,
    visit: bool = False,
    method: str | None = None,
) -> dict:
    """The feed of ``library`` (which must exist) over ``ix``; ``visit`` records this as
    the last visit (the page and the CLI do; digests and Atom feeds do not)."""
    like, unlike = store.verdicts(library)
    categories, topics, followed, gone = _followed(ix, store.follows(library))
    newest = ix.newest_date()
    start = resolve_since(since, newest, store.last_visit(library))
    read = store.read_ids(library)
    # a measured choice (method "measured") depends on the likes and the index version: kept until they change
    key = ranking_feed.choice_key(ix.path.name, like, unlike)
    cached = store.choice(library, key) if method == "measured" else None
    ranked = ix.feed(
        like, unlike, start, categories, topics, () if include_read else read, k, cached[0] if cached else method
    )
    detail = cached[1] if cached else ranked.choice.describe()
    if ranked.choice.scores:
        store.record_choice(library, key, ranked.choice.method, detail)
    if visit and newest:
        store.record_visit(library, newest)
    items = [_item(ix, hit, ranked.choice.method, followed, read) for hit in ranked.hits]
    return {
        "library": library,
        "since": start,
        "newest": newest,
        "generated": now(),
        "method": ranked.choice.method,
        "method_reason": detail,
        "new": ranked.new,
        "unread": ranked.unread,
        "likes": len(like),
        "follows": {"categories": categories, "topics": followed, "gone": gone},
        "items": items,
    }


def topic_feed(
    ix: PaperIndex, topic_id: int, level: str = "fine", since: str | None = "30d", k: int = DEFAULT_K
) -> dict:
    """A topic's newest papers, in the feed's shape (what a topic's Atom feed serves)."""
    label = ix.topic(topic_id, level).label  # an unknown topic is an error
    newest = ix.newest_date()
    start = resolve_since(since, newest, None)
    ranked = ix.feed([], [], start, topics=[(level, topic_id)], k=k)
    followed = [{"id": topic_id, "level": level, "label": label}]
    items = [_item(ix, hit, "newest", followed, set()) for hit in ranked.hits]
    return {
        "library": None,
        "topic": {"id": topic_id, "level": level, "label": label},
        "since": start,
        "newest": newest,
        "generated": now(),
        "method": "newest",
        "method_reason": "newest first",
        "new": ranked.new,
        "unread": ranked.unread,
        "likes": 0,
        "follows": {"categories": [], "topics": followed, "gone": []},
        "items": items,
    }
