"""The JSON shapes of paperscope's answers, shared by the CLI's ``--json`` and the HTTP API
so a program gets the same fields from either."""

from __future__ import annotations

from collections.abc import Sequence

from engine.artifact.topic_store import Topic
from engine.papers import Paper
from engine.query.facade import PaperIndex
from engine.query.filters import Filters
from engine.query.ranking import Hit

# What a hit's score is in each search mode (related and recommend: see RELATED_SCORE).
SCORE_KINDS = {"dense": "cosine", "lexical": "bm25", "hybrid": "rrf"}
# What every hit's ``relevance`` is, in every mode and list (the score only orders).
RELEVANCE = "cosine of the paper to what was asked (query, paper or nearest liked paper), clipped to [0, 1]"


def search_answer(
    text: str,
    mode: str,
    filters: Filters,
    hits: Sequence[Hit],
    elapsed_ms: float | None = None,
    sort: str = "relevance",
) -> dict:
    out = {
        "query": text,
        "mode": mode,
        "sort": sort,
        "score": SCORE_KINDS[mode],
        "relevance": RELEVANCE,
        "filters": filters.to_dict(),
        "hits": [hit.to_dict() for hit in hits],
    }
    if elapsed_ms is not None:
        out["elapsed_ms"] = round(elapsed_ms, 2)
    return out


# Related papers and fused recommendations score by a sum of standardized signals
# (engine.query.related); a hit's cosine is in its ``because``.
RELATED_SCORE = "fused"
RECOMMEND_SCORES = {"fused": RELATED_SCORE, "rocchio": "cosine", "svm": "svm margin"}


def related_answer(source: Paper, hits: Sequence[Hit]) -> dict:
    return {
        "paper": source.id,
        "title": source.title,
        "score": RELATED_SCORE,
        "relevance": RELEVANCE,
        "hits": [hit.to_dict() for hit in hits],
    }


def recommend_answer(like: Sequence[str], unlike: Sequence[str], method: str, found: Sequence[Hit]) -> dict:
    return {
        "like": list(like),
        "unlike": list(unlike),
        "method": method,
        "score": RECOMMEND_SCORES[method],
        "relevance": RELEVANCE,
        "hits": [hit.to_dict() for hit in found],
    }


def paper_answer(ix: PaperIndex, paper_id: str) -> dict:
    """A paper in full (abstract, comment) with its topic."""
    p = ix.paper(paper_id)
    return {
        "id": p.id,
        "title": p.title,
        "abstract": p.abstract,
        "authors": list(p.authors),
        "date": p.date,
        "updated": p.updated,
        "version": p.version,
        "categories": list(p.categories),
        "primary_category": p.primary_category,
        "comment": p.comment,
        "topic": ix.topic_of(p.id),
    }


def topic_summary(t: Topic, ix: PaperIndex, coarse_labels: dict[int, str]) -> dict:
    reps = [{"id": pid, "title": ix.paper(pid).title} for pid in t.representatives if pid in ix]
    parent = {"id": t.parent, "label": coarse_labels.get(t.parent)} if t.parent is not None else None
    return {
        "id": t.id,
        "level": t.level,
        "label": t.label,
        "size": t.size,
        "keywords": t.keywords,
        "representatives": reps,
        "parent": parent,
    }


def topics_answer(ix: PaperIndex, level: str, members: bool = True) -> dict:
    """Every topic of a level (with its members' ids unless ``members`` is False: they
    are most of the answer, ~1 MB at 87k papers), and how many papers are outliers."""
    coarse = coarse_labels(ix)
    items = []
    for t in ix.topics(level):
        item = topic_summary(t, ix, coarse)
        if members:
            item["papers"] = ix.topic_members(t.id, level)
        items.append(item)
    return {"level": level, "topics": items, "outliers": outliers(ix)}


def topic_answer(ix: PaperIndex, topic_id: int, level: str, k: int = 0) -> dict:
    """One topic and its papers, nearest its centre first (the first ``k`` when k > 0)."""
    found = ix.topic(topic_id, level)
    hits = ix.topic_papers(topic_id, level, k)
    return dict(topic_summary(found, ix, coarse_labels(ix)), hits=[hit.to_dict() for hit in hits])


def map_answer(ix: PaperIndex) -> dict:
    """The topic map column by column (ids, titles, x, y, topics): compact for 87k points."""
    data = ix.map_data()
    return {
        "papers": len(data.ids),
        "ids": data.ids,
        "titles": data.titles,
        "x": [round(float(v), 4) for v in data.xy[:, 0]],
        "y": [round(float(v), 4) for v in data.xy[:, 1]],
        "fine": [int(v) for v in data.fine],
        "coarse": [int(v) for v in data.coarse],
        "fine_topics": data.fine_topics,
        "coarse_topics": data.coarse_topics,
    }


def coarse_labels(ix: PaperIndex) -> dict[int, str]:
    return {t.id: t.label for t in ix.topics("coarse")}


def outliers(ix: PaperIndex) -> int:
    return len(ix) - sum(t.size for t in ix.topics("fine"))


def trends_answer(ix: PaperIndex, level: str, since: str | None, recent: int) -> dict:
    """Papers per month of every topic, the months' totals, and the emerging topics
    (fastest-growing share first, each with its counts, growth and z)."""
    found = ix.topic_trends(level, since, recent)
    labels = {t.id: t.label for t in ix.topics(level)}

    def item(trend) -> dict:
        return {
            "id": trend.topic,
            "label": labels.get(trend.topic, "outliers" if trend.topic < 0 else None),
            "counts": trend.counts,
            "recent": trend.recent,
            "earlier": trend.earlier,
            "growth": round(trend.growth, 3),
            "z": round(trend.z, 2),
            "emerging": trend.emerging,
        }

    ordered = sorted(found.topics.values(), key=lambda t: (-sum(t.counts), t.topic))
    return {
        "level": level,
        "since": since,
        "months": found.months,
        "totals": found.totals,
        "recent_months": found.recent_months,
        "complete_months": found.complete_months,
        "undated": found.undated,
        "emerging": [item(t) for t in found.emerging()],
        "topics": [item(t) for t in ordered],
    }
