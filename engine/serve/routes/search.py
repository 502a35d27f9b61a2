"""Search by text, and recommendations from liked and unliked papers."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from engine.query import answers
from engine.query.ranking import MAX_QUERY_CHARS
from engine.query.recommend import MAX_EXAMPLES
from engine.serve.deps import (
    MAX_API_K,
    MAX_CATEGORIES,
    Category,
    Index,
    K,
    Level,
    PaperId,
    QueryFilters,
    authorized,
    make_filters,
)

router = APIRouter(tags=["search"], dependencies=[Depends(authorized)])


class RecommendRequest(BaseModel):
    """Papers liked and disliked; filters as on search."""

    model_config = ConfigDict(extra="forbid")

    like: list[PaperId] = Field(min_length=1, max_length=MAX_EXAMPLES)
    unlike: list[PaperId] = Field(default_factory=list, max_length=MAX_EXAMPLES)
    k: int = Field(10, ge=1, le=MAX_API_K)
    method: Literal["fused", "rocchio", "svm"] = "fused"
    category: list[Category] = Field(default_factory=list, max_length=MAX_CATEGORIES)
    since: str | None = Field(None, max_length=10)
    until: str | None = Field(None, max_length=10)
    topic: int | None = Field(None, ge=-1, le=1_000_000)
    level: Level = "fine"


@router.get("/api/search")
def search(
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="Free text; quotes keep phrases.")],
    ix: Index,
    k: K = 10,
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid",
    sort: Literal["relevance", "date"] = "relevance",
    filters: QueryFilters = None,
) -> dict:
    """Papers for a text query, by relevance or (``sort=date``) the newest of the 100
    most relevant first; each with its relevance and a snippet with the query's words
    marked (character spans of its text)."""
    tick = time.perf_counter()
    hits = ix.search(q, k=k, filters=filters, mode=mode, sort=sort)
    return answers.search_answer(q, mode, filters, hits, (time.perf_counter() - tick) * 1000, sort)


@router.post("/api/recommend")
def recommend(body: RecommendRequest, ix: Index) -> dict:
    """Papers like the liked ones and unlike the disliked ones, each with why."""
    filters = make_filters(body.category, body.since, body.until, body.topic, body.level)
    found = ix.recommend(body.like, body.unlike, k=body.k, filters=filters, method=body.method)
    return answers.recommend_answer(body.like, body.unlike, body.method, found)
