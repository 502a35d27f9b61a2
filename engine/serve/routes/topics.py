"""The topics, one topic's papers, and the topic map."""

from __future__ import annotations

import gzip
import json
import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam

from engine.errors import UnknownTopic
from engine.query import answers
from engine.serve.deps import Index, Level, authorized

router = APIRouter(tags=["topics"], dependencies=[Depends(authorized)])


@router.get("/api/topics")
def topics(ix: Index, level: Level = "fine", papers: bool = True) -> dict:
    """Every topic with its label, keywords, representatives and (unless
    ``papers=false``) its members' ids."""
    if not ix.has_topics():
        raise UnknownTopic("this index has no topics: run paperscope topics --refit")
    return answers.topics_answer(ix, level, members=papers)


# Before /api/topics/{topic_id}, which would read "trends" as a topic id.
@router.get("/api/topics/trends")
def topic_trends(
    ix: Index,
    level: Level = "fine",
    since: Annotated[
        str | None, Query(max_length=10, description="From this date: 2025, 2025-06 or 2025-06-15.")
    ] = None,
    recent: Annotated[int, Query(ge=1, le=24, description="Months that count as recent.")] = 3,
) -> dict:
    """Papers per month of every topic, the months' totals, and the emerging topics
    (share of the recent months against before, above a significance floor)."""
    return answers.trends_answer(ix, level, since, recent)


@router.get("/api/topics/{topic_id}")
def topic(
    topic_id: Annotated[int, PathParam(ge=-1, le=1_000_000)],
    ix: Index,
    level: Level = "fine",
    k: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict:
    """One topic and its papers, nearest its centre first."""
    return answers.topic_answer(ix, topic_id, level, k)


@router.get("/api/map")
def topic_map(request: Request, ix: Index) -> Response:
    """Every paper's map position and topics, column by column, and the topics' centres."""
    body, packed = request.app.state.maps.get(ix)
    if "gzip" in request.headers.get("accept-encoding", ""):
        # compressed once per version: gzip per request took 0.9 s of 87k papers' answer
        headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return Response(packed, media_type="application/json", headers=headers)
    return Response(body, media_type="application/json", headers={"Vary": "Accept-Encoding"})


class MapCache:
    """The map answer of each version, built, serialized and compressed once: it is the
    largest answer (~10 MB at 87k, 3.7 MB gzipped), and encoding it per request took
    seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self._bodies: tuple[bytes, bytes] | None = None

    def get(self, ix) -> tuple[bytes, bytes]:
        """(the JSON, the JSON gzipped) of ``ix``'s version."""
        version = ix.manifest["version"]
        with self._lock:
            if self._version != version:
                body = json.dumps(answers.map_answer(ix), ensure_ascii=False, separators=(",", ":")).encode()
                self._bodies = (body, gzip.compress(body, compresslevel=6, mtime=0))
                self._version = version
            return self._bodies
