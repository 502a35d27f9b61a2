"""Topic labels on the map, in real Chromium at a desktop (1400×900) and a phone
(390×844) size, both in the web page (a real server) and in the offline HTML map: no two
drawn label boxes overlap, the overview labels the broad topics and zooming in labels the
fine ones, the offline legend names what is drawn, and the page's map fills the width."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.query import maps
from engine.query.facade import open_index
from tests.browser import chromium, require_browser

require_browser()

SIZES = [(1400, 900), (390, 844)]
WAIT_MS = 30_000

# The drawn box (background rectangle) and text of every label on the map.
LABEL_BOXES = """() => [...document.querySelectorAll('#map g.annotation')].map(g => {
    const r = g.querySelector('rect.bg').getBoundingClientRect();
    return {box: [r.left, r.top, r.right, r.bottom], text: g.textContent};
})"""
# Zoom in threefold around the first label's place (within its topic's cluster).
ZOOM_IN = """() => {
    const el = document.getElementById('map');
    const [x0, x1] = el._fullLayout.xaxis.range, [y0, y1] = el._fullLayout.yaxis.range;
    const a = el.layout.annotations[0], rx = (x1 - x0) / 6, ry = (y1 - y0) / 6;
    return Plotly.relayout(el, {'xaxis.range': [a.x - rx, a.x + rx], 'yaxis.range': [a.y - ry, a.y + ry]});
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with chromium() as launched:
        yield launched


def _labels(page) -> list[dict]:
    labels = page.evaluate(LABEL_BOXES)
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            apart = a["box"][2] <= b["box"][0] or b["box"][2] <= a["box"][0]
            apart = apart or a["box"][3] <= b["box"][1] or b["box"][3] <= a["box"][1]
            assert apart, f"labels overlap: {a} and {b}"
    return labels


def _wait_labels(page, level: str) -> None:
    page.wait_for_function(f"document.getElementById('map').dataset.labels === '{level}'", timeout=WAIT_MS)
    page.wait_for_timeout(300)  # the relayout that draws them is one frame later


def _watch(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_page_map_labels_broad_then_fine_topics_without_overlap(
    browser, served_corpus: str, width: int, height: int
) -> None:
    topics = httpx.get(f"{served_corpus}/api/map").json()
    assert 0 < len(topics["coarse_topics"]) < len(topics["fine_topics"])  # the fixture has two levels
    page = browser.new_page(viewport={"width": width, "height": height})
    errors = _watch(page)
    try:
        page.goto(served_corpus + "/")
        page.wait_for_selector("body[data-ready=true]")
        page.get_by_test_id("tab-map").click()
        page.wait_for_selector("#map[data-state=ready]", timeout=WAIT_MS)
        _wait_labels(page, "coarse")
        drawn = {label["text"] for label in _labels(page)}
        assert drawn == {t["label"] for t in topics["coarse_topics"]}  # every broad topic is named
        if width > 980:  # beside no open paper, the map takes the page's whole width
            assert page.locator("#map").bounding_box()["width"] == pytest.approx(width, abs=2)
        size = page.evaluate("document.getElementById('map').data[0].marker.size")
        assert 2.5 <= size <= 10

        page.evaluate(ZOOM_IN)
        _wait_labels(page, "fine")
        zoomed = _labels(page)
        assert zoomed and {label["text"] for label in zoomed} <= {t["label"] for t in topics["fine_topics"]}
        assert not errors, errors
    finally:
        page.close()


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_offline_map_labels_without_overlap_and_its_legend_names_them(
    browser, corpus_index: Path, tmp_path: Path, width: int, height: int
) -> None:
    with open_index(corpus_index) as ix:
        data = ix.map_data()
    assert data.overview_level == "coarse"
    path = tmp_path / "map.html"
    maps.write_html(data, path, "offline map")
    page = browser.new_page(viewport={"width": width, "height": height})
    errors = _watch(page)
    try:
        page.goto(path.as_uri())
        _wait_labels(page, "coarse")
        by_size = [t["label"] for t in sorted(data.coarse_topics, key=lambda t: -t["size"])]
        assert {label["text"] for label in _labels(page)} == set(by_size)
        legend = page.evaluate("[...document.querySelectorAll('#map .legendtext')].map(t => t.textContent)")
        assert legend == (by_size if width > 700 else [])  # a phone shows the map, not a legend over it

        page.evaluate(ZOOM_IN)
        _wait_labels(page, "fine")
        assert {label["text"] for label in _labels(page)} <= {t["label"] for t in data.fine_topics}
        assert not errors, errors
    finally:
        page.close()
