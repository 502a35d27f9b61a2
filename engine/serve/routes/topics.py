"""The topics, one topic's papers, and the topic map."""

from __future__ import annotations

import gzip
import json
import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam

from engine.errors import UnknownTopic
from engine.query import answers, map_points
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
    return _cached(request, request.app.state.maps.get(ix, "json"), "application/json")


@router.get("/api/map/points")
def topic_map_points(request: Request, ix: Index) -> Response:
    """The map as typed arrays in drawing order (the page's form; see engine.query.map_points)."""
    return _cached(request, request.app.state.maps.get(ix, "points"), "application/octet-stream")


@router.get("/api/map/titles")
def topic_map_titles(request: Request, ix: Index) -> Response:
    """The papers' titles in the drawing order of /api/map/points, for hover labels."""
    return _cached(request, request.app.state.maps.get(ix, "titles"), "application/json")


def _cached(request: Request, bodies: tuple[bytes, bytes], media_type: str) -> Response:
    body, packed = bodies
    if "gzip" in request.headers.get("accept-encoding", ""):
        # compressed once per version: gzip per request took 0.9 s of 87k papers' answer
        headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return Response(packed, media_type=media_type, headers=headers)
    return Response(body, media_type=media_type, headers={"Vary": "Accept-Encoding"})


class MapCache:
    """The map answers of each version, built, serialized and compressed once: they are
    the largest answers (the JSON ~10 MB at 87k, 3.7 MB gzipped), and encoding them per
    request took seconds."""

    def __init__(self, overview: int = map_points.OVERVIEW_POINTS) -> None:
        self.overview = overview  # points the page draws at the overview
        self._lock = threading.Lock()
        self._version: str | None = None
        self._bodies: dict[str, tuple[bytes, bytes]] = {}

    def get(self, ix, form: str = "json") -> tuple[bytes, bytes]:
        """(the body, the body gzipped) of ``ix``'s version in ``form``: "json" (the
        whole answer), "points" (binary, map_points.pack) or "titles"."""
        version = ix.manifest["version"]
        with self._lock:
            if self._version != version:
                self._bodies, self._version = {}, version
            if form not in self._bodies:
                self._bodies.update(self._build(ix, form, version, self.overview))
            return self._bodies[form]

    @staticmethod
    def _build(ix, form: str, version: str, overview: int) -> dict[str, tuple[bytes, bytes]]:
        def both(body: bytes) -> tuple[bytes, bytes]:
            return body, gzip.compress(body, compresslevel=6, mtime=0)

        def as_json(value) -> bytes:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

        if form == "json":
            return {"json": both(as_json(answers.map_answer(ix)))}
        data = ix.map_data()  # the points and their titles share one drawing order
        points, order = map_points.pack(data, version, overview)
        return {"points": both(points), "titles": both(as_json(map_points.titles_in_order(data, order)))}
