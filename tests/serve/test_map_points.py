"""The map's binary form (/api/map/points, /api/map/titles) and drawing a level of
detail: its arrays hold what the JSON map holds, any prefix of its drawing order
keeps every topic and the map's density, and the real page in Chromium draws the
overview's points, then every point of a zoomed view, then the overview again."""

from __future__ import annotations

import json
import struct
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import pytest

from engine.query import map_points
from engine.serve.server import server_process
from tests.browser import require_browser

WAIT_MS = 30_000


def decode(raw: bytes) -> dict:
    """The format as engine/query/map_points.py documents it, read independently."""
    assert raw[:8] == b"PSMAP\x00\x01\x00"
    (length,) = struct.unpack("<I", raw[8:12])
    header = json.loads(raw[12 : 12 + length])
    out = {"header": header}
    for name, spec in header["arrays"].items():
        assert spec["offset"] % 4 == 0
        out[name] = np.frombuffer(
            raw, dtype=np.dtype(spec["type"]).newbyteorder("<"), count=spec["length"], offset=spec["offset"]
        )
    ids = header["ids"]
    out["ids"] = raw[ids["offset"] : ids["offset"] + ids["bytes"]].decode().split("\n")
    return out


def test_the_binary_map_holds_what_the_json_map_holds(served_corpus: str) -> None:
    whole = httpx.get(f"{served_corpus}/api/map").json()
    packed = httpx.get(f"{served_corpus}/api/map/points", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-type"] == "application/octet-stream"
    assert packed.headers["content-encoding"] == "gzip"
    points = decode(packed.content)
    header = points["header"]
    assert header["papers"] == whole["papers"] == len(points["ids"]) == len(set(points["ids"]))
    assert header["overview"] == min(whole["papers"], map_points.OVERVIEW_POINTS)
    assert header["fine_topics"] == whole["fine_topics"] and header["coarse_topics"] == whole["coarse_topics"]
    row = {pid: i for i, pid in enumerate(whole["ids"])}
    order = np.array([row[pid] for pid in points["ids"]])
    for name in ("x", "y", "fine", "coarse"):
        assert np.allclose(points[name], np.asarray(whole[name])[order], atol=1e-3), name
    titles = httpx.get(f"{served_corpus}/api/map/titles").json()
    assert titles == [whole["titles"][i] for i in order]


def test_every_prefix_of_the_drawing_order_keeps_each_topic_and_the_density() -> None:
    rng = np.random.default_rng(3)
    fine = np.concatenate([np.full(20_000, 0), np.full(5_000, 1), np.full(300, 2), np.full(7, 3), np.full(2_000, -1)])
    fine = fine[rng.permutation(len(fine))]
    order = map_points.drawing_order(fine, seed=1)
    assert sorted(order.tolist()) == list(range(len(fine)))  # a permutation: every point once
    prefix = Counter(fine[order[:3_000]].tolist())
    sizes = Counter(fine.tolist())
    for topic, size in sizes.items():
        assert prefix[topic] >= min(size, map_points.TOPIC_FLOOR), topic  # no topic vanishes
    # past the floors, the prefix samples every topic in proportion (its density)
    for topic in (0, 1, -1):
        assert prefix[topic] / 3_000 == pytest.approx(sizes[topic] / len(fine), rel=0.12)


@pytest.fixture(scope="module")
def served_few_points(corpus_index: Path):
    """The 300-paper index served with a 100-point overview, so levels of detail show."""
    with server_process(corpus_index, extra=("--map-points", "100")) as base:
        yield base


DRAWN = "() => { const el = document.getElementById('map'); return {ids: el.data[0].customdata, drawn: Number(el.dataset.drawn)}; }"
ZOOM = """([x0, x1, y0, y1]) => Plotly.relayout(document.getElementById('map'), {'xaxis.range': [x0, x1], 'yaxis.range': [y0, y1]})"""


def test_the_page_draws_the_overview_then_every_point_of_a_zoomed_view(browser, served_few_points: str) -> None:
    require_browser()
    points = decode(httpx.get(f"{served_few_points}/api/map/points").content)
    assert points["header"]["overview"] == 100 and points["header"]["papers"] == 300
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # wide: the map is not turned
    try:
        page.goto(served_few_points + "/")
        page.wait_for_selector("body[data-ready=true]")
        page.get_by_test_id("tab-map").click()
        page.wait_for_selector("#map[data-state=ready][data-titles]", timeout=WAIT_MS)
        overview = page.evaluate(DRAWN)
        assert overview["ids"] == points["ids"][:100] and overview["drawn"] == 100  # the order's prefix

        # zoom to the quarter around the densest topic's centre: every paper there is drawn
        x, y = np.asarray(points["x"]), np.asarray(points["y"])
        biggest = max(points["header"]["fine_topics"], key=lambda t: t["size"])
        rx, ry = np.ptp(x) / 8, np.ptp(y) / 8
        box = [float(v) for v in (biggest["x"] - rx, biggest["x"] + rx, biggest["y"] - ry, biggest["y"] + ry)]
        page.evaluate(ZOOM, box)
        page.wait_for_function("document.getElementById('map').dataset.drawn !== '100'", timeout=WAIT_MS)
        zoomed = page.evaluate(DRAWN)
        inside = {
            pid
            for pid, px, py in zip(points["ids"], x, y, strict=True)
            if box[0] <= px <= box[1] and box[2] <= py <= box[3]
        }
        assert inside and inside <= set(zoomed["ids"])
        assert len(zoomed["ids"]) == zoomed["drawn"] <= 200
        hover = page.evaluate("document.getElementById('map').data[0].text[0]")
        assert "<b>" in hover and not hover.startswith(f"<b>{zoomed['ids'][0]}</b>")  # titles, not ids

        page.evaluate(
            "Plotly.relayout(document.getElementById('map'), {'xaxis.autorange': true, 'yaxis.autorange': true})"
        )
        page.wait_for_function("document.getElementById('map').dataset.drawn === '100'", timeout=WAIT_MS)
        assert page.evaluate(DRAWN)["ids"] == points["ids"][:100]
    finally:
        page.close()
