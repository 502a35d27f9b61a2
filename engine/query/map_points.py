"""The map's points for the page, packed as typed arrays in drawing order.

JSON spells each of 87k coordinates as text (~10 MB, seconds to parse at 1M); this
form is the arrays' own bytes, read in the browser as ``Float32Array``/``Int32Array``
views without parsing. Titles (the largest part, needed only for hover) come apart
(:func:`titles_in_order`), after the first paint.

Points are ordered for level of detail: a random order (so any prefix has the map's
density, dense regions dense and sparse ones sparse), except that each fine topic's
first ``TOPIC_FLOOR`` papers come first, so no topic vanishes from the overview. The
page draws the first ``overview`` points at the overview, and, zoomed in, the first
points of this order inside the view: every point once the view holds few enough.

Layout (all integers little-endian)::

    b"PSMAP\\x00\\x01\\x00"        magic and format version 1
    uint32 header length H        then H bytes of JSON, padded with spaces to 4
    arrays                        each 4-byte aligned, at the header's offsets
    ids                           UTF-8, one per line, in drawing order
"""

from __future__ import annotations

import json
import struct

import numpy as np

from engine.query.maps import MapData

MAGIC = b"PSMAP\x00\x01\x00"
OVERVIEW_POINTS = 30_000  # drawn at the overview (WebGL drew 87k in ~640 ms here); serve --map-points
DETAIL_FACTOR = 2  # a zoomed view draws at most this many times the overview's points
TOPIC_FLOOR = 20


def drawing_order(fine: np.ndarray, seed: int = 0) -> np.ndarray:
    """Rows in drawing order: each fine topic's first ``TOPIC_FLOOR`` (at random) first,
    then everyone else at random."""
    n = len(fine)
    order = np.random.default_rng(seed).permutation(n)
    by_topic = order[np.argsort(fine[order], kind="stable")]  # random within each topic
    starts = np.searchsorted(fine[by_topic], fine[by_topic], side="left")
    floor = by_topic[np.arange(n) - starts < TOPIC_FLOOR]
    first = np.zeros(n, dtype=bool)
    first[floor] = True
    return np.concatenate([order[first[order]], order[~first[order]]])


def pack(data: MapData, version: str, overview: int = OVERVIEW_POINTS) -> tuple[bytes, np.ndarray]:
    """The binary map and the drawing order it uses (rows of ``data``); the page draws
    ``overview`` points at the overview."""
    order = drawing_order(np.asarray(data.fine))
    arrays = {
        "x": np.asarray(data.xy[order, 0], dtype="<f4"),
        "y": np.asarray(data.xy[order, 1], dtype="<f4"),
        "fine": np.asarray(data.fine[order], dtype="<i4"),
        "coarse": np.asarray(data.coarse[order], dtype="<i4"),
    }
    ids = "\n".join(data.ids[i] for i in order).encode()
    header = {
        "format": 1,
        "version": version,
        "papers": len(order),
        "overview": min(len(order), overview),
        "detail": DETAIL_FACTOR * overview,
        "fine_topics": data.fine_topics,
        "coarse_topics": data.coarse_topics,
        "arrays": {},
        "ids": {},
    }
    # Offsets depend on the header's length, which depends on the offsets' digits:
    # lay out twice, the second time with room for the final figures.
    for _ in range(2):
        head = _padded(json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode())
        offset = len(MAGIC) + 4 + len(head) + 64  # slack for offsets growing a digit
        offset += (-offset) % 4
        for name, values in arrays.items():
            header["arrays"][name] = {"type": values.dtype.name, "offset": offset, "length": len(values)}
            offset += values.nbytes
        header["ids"] = {"offset": offset, "bytes": len(ids)}
    head = _padded(json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode())
    start = len(MAGIC) + 4 + len(head)
    first = header["arrays"]["x"]["offset"]
    assert start <= first, "the header outgrew its slack"
    parts = [MAGIC, struct.pack("<I", len(head)), head, b" " * (first - start)]
    parts += [values.tobytes() for values in arrays.values()] + [ids]
    return b"".join(parts), order


def titles_in_order(data: MapData, order: np.ndarray) -> list[str]:
    return [data.titles[i] for i in order]


def _padded(raw: bytes) -> bytes:
    return raw + b" " * ((-len(raw)) % 4)
