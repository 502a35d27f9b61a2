"""The page's views as addresses, on a desktop (1400×900) and a phone (390×844), in real
Chromium against a real server over the 300-paper index: every view is a URL pushed to
the history (a reload restores it; Back and Forward step through searches, papers,
topics and the map), nothing scrolls sideways on any tab, the map pans under a finger,
and axe-core finds no serious accessibility violation on any tab in either theme."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.serve.test_web_page import QUERY, WAIT_MS, Watched, _ids, _search, sync_api

DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1400x900", "390x844"])
AXE = Path(__file__).parents[1] / "vendor" / "axe-core" / "axe.min.js"
TABS = {
    "search": "#results[data-state=ready]",
    "feed": "#feed[data-state]:not([data-state=loading])",
    "foryou": "#recommendations[data-state=ready]",
    "topics": "#topic-body[data-state=ready]",
    "map": "[data-testid=map-plot] .main-svg",
}


@pytest.fixture
def opened(browser: sync_api.Browser, served_corpus: str, request: pytest.FixtureRequest) -> Iterator[Watched]:
    """The page at the viewport the test is parametrized with, in a library of its own."""
    viewport = request.node.callspec.params.get("viewport", DESKTOP)
    context = browser.new_context(viewport=viewport, has_touch=viewport is PHONE, bypass_csp=True)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watched = Watched(page, served_corpus, library=re.sub(r"[^\w.+-]", "-", f"views-{request.node.name}")[:64])
    page.on("console", lambda message: message.type == "error" and watched.errors.append(message.text))
    page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
    context.add_init_script(f"localStorage.setItem('paperscope.library', {watched.library!r})")
    page.goto(served_corpus + "/")
    page.wait_for_selector("body[data-ready=true]")
    yield watched
    context.close()
    httpx.delete(f"{served_corpus}/api/libraries/{watched.library}")


def _params(page: sync_api.Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def _wait_url(page: sync_api.Page, condition: str) -> None:
    """Waits until the address satisfies ``condition`` (JS over ``p``, its URLSearchParams)."""
    page.wait_for_function(f"(() => {{ const p = new URL(location.href).searchParams; return {condition}; }})()")


def _map_centre(page: sync_api.Page) -> tuple[float, float, float]:
    return tuple(
        page.evaluate(
            """() => { const l = document.getElementById('map')._fullLayout;
                const [x0, x1] = l.xaxis.range, [y0, y1] = l.yaxis.range;
                return [(x0 + x1) / 2, (y0 + y1) / 2, Math.abs(x1 - x0)]; }"""
        )
    )


def _topic_ids(page: sync_api.Page) -> list[str]:
    return page.eval_on_selector_all("[data-testid=topic-item]", "items => items.map(i => i.dataset.topicId)")


@VIEWPORTS
def test_every_view_is_an_address_with_back_and_forward(opened: Watched, viewport: dict) -> None:
    page = opened.page
    # A: a semantic search; B: narrowed to a category; C: sorted by date
    page.select_option("[data-testid=search-mode]", "dense")
    _search(page, QUERY)
    _wait_url(page, f"p.get('q') === {QUERY!r} && p.get('mode') === 'dense'")
    page.get_by_test_id("filter-toggle").click()
    page.fill("[data-testid=filter-category]", "astro-ph")
    page.press("[data-testid=filter-category]", "Enter")
    _wait_url(page, "p.get('category') === 'astro-ph'")
    page.get_by_test_id("search-sort").get_by_role("button", name="Newest").click()
    _wait_url(page, "p.get('sort') === 'date'")
    page.wait_for_selector("#results[data-state=ready]")
    results = _ids(page, "[data-testid=result]")
    # D: a paper open; E: the Topics view; F: another topic; G: the map, panned
    page.locator("[data-testid=result-title]").first.click()
    _wait_url(page, f"p.get('paper') === {results[0]!r}")
    page.get_by_test_id("tab-topics").click()
    page.wait_for_selector("#topic-body[data-state=ready]")
    topics = _topic_ids(page)
    _wait_url(page, f"p.get('tab') === 'topics' && p.get('topic') === 'fine:{topics[0]}'")
    page.locator(f"[data-testid=topic-item][data-topic-id='{topics[1]}']").click()
    _wait_url(page, f"p.get('topic') === 'fine:{topics[1]}'")
    page.get_by_test_id("tab-map").click()
    page.wait_for_selector(TABS["map"])
    page.evaluate(
        """() => { const l = document.getElementById('map')._fullLayout;
            const [x0, x1] = l.xaxis.range, [y0, y1] = l.yaxis.range;
            const w = (x1 - x0) / 4, h = (y1 - y0) / 4;
            return Plotly.relayout('map', {'xaxis.range': [x0 + w, x1 - w], 'yaxis.range': [y0 + h, y1 - h]}); }"""
    )
    _wait_url(page, "p.get('tab') === 'map' && (p.get('view') || '').split(',').length === 3")
    centre = _map_centre(page)
    assert page.evaluate("history.length") >= 8  # one entry per step A to G (and the start)

    # a reload (or a copied link) reopens the same view
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector(TABS["map"])
    page.wait_for_selector(f"[data-testid=paper-detail][data-id='{results[0]}']")
    _wait_url(page, "p.get('view')")
    restored = _map_centre(page)
    assert restored[0] == pytest.approx(centre[0], abs=centre[2] * 0.02)
    assert restored[1] == pytest.approx(centre[1], abs=centre[2] * 0.02)
    page.get_by_test_id("tab-search").click()  # H: the search, restored as it was
    page.wait_for_selector("#results[data-state=ready]")
    assert _ids(page, "[data-testid=result]") == results
    assert page.input_value("[data-testid=filter-category]") == "astro-ph"
    assert page.get_by_test_id("search-sort").locator("[aria-pressed=true]").inner_text() == "Newest"

    # Back steps through the views, Forward returns
    page.go_back()  # G: the map
    page.wait_for_function("document.body.dataset.view === 'map'")
    page.go_back()  # F
    page.wait_for_selector(f"#topic-body[data-state=ready][data-topic-id='{topics[1]}']")
    page.go_back()  # E
    page.wait_for_selector(f"#topic-body[data-state=ready][data-topic-id='{topics[0]}']")
    page.go_back()  # D: the search, the paper open
    page.wait_for_function("document.body.dataset.view === 'search'")
    page.go_back()  # C: no paper open
    page.wait_for_selector("[data-testid=detail-empty]")
    page.go_back()  # B: by relevance again
    page.wait_for_selector("[data-testid=search-sort] [data-sort=relevance][aria-pressed=true]")
    page.wait_for_selector("#results[data-state=ready]")
    assert "sort" not in _params(page) and _params(page)["category"] == ["astro-ph"]
    page.go_forward()  # C
    page.wait_for_selector("[data-testid=search-sort] [data-sort=date][aria-pressed=true]")
    page.wait_for_selector("#results[data-state=ready]")
    assert _ids(page, "[data-testid=result]") == results
    opened.assert_clean()


@pytest.mark.parametrize(
    "viewport",
    [{"width": 360, "height": 740}, PHONE, {"width": 430, "height": 932}, DESKTOP],
    ids=["360", "390", "430", "1400"],
)
def test_no_tab_scrolls_sideways(opened: Watched, viewport: dict) -> None:
    page = opened.page
    wide = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    _search(page, QUERY)
    page.locator("[data-testid=result] [data-testid=like-button]").first.click()
    page.locator("[data-testid=result-title]").first.click()
    page.wait_for_selector("[data-testid=related-list]")
    overflow = {"search": page.evaluate(wide)}
    for tab in ("feed", "foryou", "topics", "map"):
        page.get_by_test_id(f"tab-{tab}").click()
        page.wait_for_selector(TABS[tab])
        overflow[tab] = page.evaluate(wide)
    box = page.get_by_test_id("tab-map").bounding_box()
    assert box and box["x"] + box["width"] <= viewport["width"]  # every tab reachable without scrolling the bar
    assert overflow == dict.fromkeys(overflow, 0), overflow


@pytest.mark.parametrize("viewport", [PHONE], ids=["390x844"])
def test_the_map_pans_under_a_finger(opened: Watched, viewport: dict) -> None:
    page = opened.page
    page.get_by_test_id("tab-map").click()
    # drawn and labelled: the labels' relayout redraws the drag layer, and a gesture
    # begun before it would be lost (it was, once, on a loaded machine)
    page.wait_for_selector("#map[data-state=ready][data-labels]")
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    before = _map_centre(page)
    box = page.locator("#map .nsewdrag").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    touch = page.context.new_cdp_session(page)

    def finger(kind: str, at: tuple[float, float] | None) -> None:
        points = [{"x": at[0], "y": at[1]}] if at else []
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    finger("touchStart", (x, y))
    for step in range(1, 11):
        finger("touchMove", (x - 8 * step, y - 5 * step))
    finger("touchEnd", None)
    page.wait_for_function(
        f"Math.abs((l => (l.xaxis.range[0] + l.xaxis.range[1]) / 2)(document.getElementById('map')._fullLayout) - {before[0]}) > 1e-6"
    )
    after = _map_centre(page)
    assert after[0] > before[0] and after[2] == pytest.approx(before[2])  # dragged left: the view moved right
    opened.assert_clean()


def _serious_violations(page: sync_api.Page) -> list[str]:
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.id}: ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`)"""
    )
    return found


@VIEWPORTS
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_axe_finds_no_serious_violations_on_any_tab(opened: Watched, viewport: dict, theme: str) -> None:
    page = opened.page
    page.evaluate(f"localStorage.setItem('paperscope.theme', {theme!r})")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.evaluate("document.documentElement.dataset.theme") == theme
    _search(page, QUERY)
    page.locator("[data-testid=result] [data-testid=like-button]").first.click()
    page.locator("[data-testid=result-title]").first.click()
    page.wait_for_selector("[data-testid=related-list]")
    found = {"search": _serious_violations(page)}
    for tab in ("feed", "foryou", "topics", "map"):
        page.get_by_test_id(f"tab-{tab}").click()
        page.wait_for_selector(TABS[tab])
        found[tab] = _serious_violations(page)
    assert not any(found.values()), "\n".join(f"{tab}: {v}" for tab, found_here in found.items() for v in found_here)
