"""The offline HTML map with hostile titles and labels, opened from disk in real
Chromium: the data is inert inside the page's script context (no ``</script>`` or
``<!--`` in a title can end it or hide the real one), the plot and its search box still
work, nothing injected runs, and the page's own CSP allows only its own scripts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from engine.query.maps import MapData, json_for_html, write_html
from tests.browser import chromium, require_browser

require_browser()

HOSTILE = [
    "<!--<script>",
    "</script><script>document.title='pwned'</script>",
    "<img src=x onerror=\"document.title='pwned'\">",
    "a & b \u2028 c > d",
    "--><script>document.title='pwned'</script>",
]


def hostile_map(n: int = 40) -> MapData:
    rng = np.random.default_rng(0)
    titles = [f"paper {i}" for i in range(n)]
    titles[: len(HOSTILE)] = HOSTILE
    return MapData(
        ids=[f"2101.{i:05d}" for i in range(n)],
        titles=titles,
        xy=(rng.random((n, 2)) * 100).astype(np.float32),
        fine=np.arange(n) % 4,
        coarse=np.arange(n) % 2,
        fine_topics=[{"id": i, "label": HOSTILE[i], "size": n // 4, "x": 20.0 * i, "y": 50.0} for i in range(4)],
        coarse_topics=[{"id": i, "label": f"broad <b>{i}</b>", "size": n // 2, "x": 40.0, "y": 40.0} for i in range(2)],
    )


def test_inlined_json_is_inert_and_reads_back_unchanged() -> None:
    data = {"titles": HOSTILE, "more": "</SCRIPT >\u2029"}
    text = json_for_html(data)
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert json.loads(text) == data


def test_the_offline_map_survives_hostile_titles_in_chromium(tmp_path: Path) -> None:
    path = tmp_path / "map.html"
    write_html(hostile_map(), path, "map of <!--<script> titles")
    html = path.read_text()
    assert html.count("</script>") == 3  # plotly.js, the data block, the map's script: nothing more
    errors: list[str] = []
    with chromium() as browser:
        page = browser.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(path.as_uri())
        page.wait_for_selector("#map .main-svg", timeout=30_000)
        assert page.title() == "map of <!--<script> titles"  # shown as text, nothing ran
        assert page.evaluate("document.querySelectorAll('#map canvas').length") > 0  # the WebGL points
        page.fill("#search", "script")
        page.wait_for_function("document.getElementById('count').textContent.includes('match')")
        assert page.inner_text("#count").startswith("3 match")
        hover = page.evaluate("JSON.parse(document.getElementById('map-data').textContent).papers[1].title")
        assert hover == HOSTILE[1]
    assert not errors, errors
