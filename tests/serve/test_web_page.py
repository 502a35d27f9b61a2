"""The web page at ``/`` in a real browser (Debian's Chromium through Playwright) against a
real ``paperscope serve`` process over the 300-paper astro-ph.GA + cs.CL index: search,
paper details and related papers, likes driving recommendations, topics, the topic map,
visible API errors, the token, and that the page asks nothing of any other host and
logs no errors. What the page shows is checked against the API's own answers."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import bibtexparser
import httpx
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if os.environ.get("PAPERSCOPE_REQUIRE_BROWSER") != "1":  # CI sets it: there a missing browser is a failure
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium to drive (scripts/test installs it with apt)", allow_module_level=True)
else:
    import playwright.sync_api as sync_api

QUERY = "dark matter in dwarf galaxies"
TOKEN = "web-page-token-0123456789"
VIEWPORT = {"width": 1366, "height": 768}
WAIT_MS = 30_000


@dataclass
class Watched:
    """A page with everything it requested and every error it logged."""

    page: sync_api.Page
    base: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    library: str = "likes"

    def assert_clean(self, allowed_errors: tuple[str, ...] = ()) -> None:
        foreign = [url for url in self.requests if not url.startswith(self.base + "/")]
        assert not foreign, f"requests to other hosts: {foreign}"
        errors = [e for e in self.errors if not any(allowed in e for allowed in allowed_errors)]
        assert not errors, f"errors in the page: {errors}"


def _watch(browser: sync_api.Browser, base: str) -> tuple[sync_api.BrowserContext, Watched]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watched = Watched(page, base)
    page.on("request", lambda request: watched.requests.append(request.url))
    page.on("console", lambda message: message.type == "error" and watched.errors.append(message.text))
    page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
    return context, watched


@pytest.fixture
def web(browser: sync_api.Browser, served_corpus: str, request: pytest.FixtureRequest) -> Iterator[Watched]:
    """A fresh browser context (empty storage) on the page, loaded and ready, working in
    a library of its own (the server is shared by the session), deleted afterwards."""
    context, watched = _watch(browser, served_corpus)
    watched.library = f"page-{request.node.name[:40]}"
    context.add_init_script(f"localStorage.setItem('paperscope.library', {watched.library!r})")
    watched.page.goto(served_corpus + "/")
    watched.page.wait_for_selector("body[data-ready=true]")
    yield watched
    context.close()
    httpx.delete(f"{served_corpus}/api/libraries/{watched.library}")


def _search(page: sync_api.Page, query: str) -> None:
    page.get_by_test_id("tab-search").click()
    page.fill("[data-testid=search-input]", query)
    page.press("[data-testid=search-input]", "Enter")  # the keyboard, not the button
    page.wait_for_selector("#results[data-state=ready], #results[data-state=error]")


def _ids(page: sync_api.Page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "items => items.map(item => item.dataset.id)")


def _api(base: str, path: str, **params) -> dict:
    answer = httpx.get(f"{base}{path}", params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_search_shows_results_with_their_metadata(web: Watched) -> None:
    page = web.page
    _search(page, QUERY)
    answer = _api(web.base, "/api/search", q=QUERY, k=20)
    expected = answer["hits"]
    results = page.locator("[data-testid=result]")
    assert results.count() == len(expected) > 0
    assert _ids(page, "[data-testid=result]") == [hit["id"] for hit in expected]
    for i in (0, len(expected) - 1):
        hit, card = expected[i], results.nth(i)
        assert card.get_by_test_id("result-title").inner_text().strip()
        if hit["authors"]:
            assert hit["authors"][0] in card.get_by_test_id("result-authors").inner_text()
        assert card.locator("time").get_attribute("datetime") == hit["date"]
        assert card.locator("[data-testid=result-categories] .cat").all_inner_texts() == hit["categories"]
        relevance = card.get_by_test_id("result-relevance")
        assert relevance.inner_text().split() == [f"{round(hit['relevance'] * 100)}%", "match"]
        assert relevance.get_attribute("data-kind") == answer["score"] == "rrf"  # hybrid, the default
        assert float(relevance.get_attribute("data-score")) == hit["score"]  # the raw score stays in the data
        assert "cosine similarity" in relevance.get_attribute("title")
        chip = card.get_by_test_id("topic-chip")
        assert chip.inner_text().strip() == hit["topic"]["label"]
        assert chip.get_attribute("data-topic-id") == str(hit["topic"]["id"])
    assert "20 results" in page.get_by_test_id("search-status").inner_text()
    assert page.evaluate("new URL(location.href).searchParams.get('q')") == QUERY
    web.assert_clean()


def test_every_mode_and_list_shows_the_same_relevance(web: Watched) -> None:
    """Hybrid, keyword and semantic results, and related papers, all show one figure: the
    cosine to what was asked, as a percentage; what orders each list stays in the data."""
    page = web.page
    _search(page, QUERY)
    for mode, kind in (("lexical", "bm25"), ("dense", "cosine"), ("hybrid", "rrf")):
        answer = _api(web.base, "/api/search", q=QUERY, k=20, mode=mode)
        assert answer["score"] == kind
        page.select_option("[data-testid=search-mode]", mode)  # reruns the shown search
        page.wait_for_selector(f"#results[data-state=ready] [data-testid=result-list][data-score={kind}]")
        assert _ids(page, "[data-testid=result]") == [hit["id"] for hit in answer["hits"]]
        shown = page.locator("[data-testid=result-relevance]")
        assert shown.count() == len(answer["hits"])
        for i in (0, len(answer["hits"]) - 1):
            hit = answer["hits"][i]
            assert shown.nth(i).inner_text().split()[0] == f"{round(hit['relevance'] * 100)}%"
            assert shown.nth(i).get_attribute("data-kind") == kind
            assert "your query" in shown.nth(i).get_attribute("title")
    # related papers: the same figure, measured against the open paper
    page.locator("[data-testid=result-title]").first.click()
    page.wait_for_selector("[data-testid=related-list]")
    source = _ids(page, "[data-testid=result]")[0]
    related = _api(web.base, f"/api/papers/{source}/related", k=10)["hits"]
    shown = page.locator("[data-testid=related-relevance]")
    assert [shown.nth(i).inner_text().split()[0] for i in range(shown.count())] == [
        f"{round(hit['relevance'] * 100)}%" for hit in related
    ]
    assert all(abs(hit["relevance"] - hit["because"]["similarity"]) < 1e-3 for hit in related)
    assert "the open paper" in shown.first.get_attribute("title")
    web.assert_clean()


def test_the_header_describes_the_index_from_health_alone(web: Watched) -> None:
    page = web.page
    health = _api(web.base, "/api/health")
    assert health["fine_topics"] > 0 and health["coarse_topics"] > 0
    assert page.get_by_test_id("index-name").inner_text() == health["name"]
    assert page.get_by_test_id("index-papers").inner_text() == f"{health['papers']} papers"
    topics = page.get_by_test_id("index-topics").inner_text()
    assert topics == f"{health['fine_topics']} topics in {health['coarse_topics']} broad"
    # the topic lists (for the filter menu) come without their member ids
    page.wait_for_selector("#f-topic optgroup", state="attached")
    listed = [url for url in web.requests if "/api/topics?" in url]
    assert listed and all("papers=false" in url for url in listed)
    web.assert_clean()


def test_a_result_opens_its_abstract_and_related_papers(web: Watched) -> None:
    page = web.page
    _search(page, QUERY)
    hits = _api(web.base, "/api/search", q=QUERY, k=20)["hits"]
    # a paper whose abstract has no TeX, so the page's text is the API's text
    papers = (_api(web.base, f"/api/papers/{hit['id']}") for hit in hits)
    paper = next(p for p in papers if "$" not in p["abstract"] and "\\" not in p["abstract"])
    page.locator(f"[data-testid=result][data-id='{paper['id']}'] [data-testid=result-title]").click()
    page.wait_for_selector(f"[data-testid=paper-detail][data-id='{paper['id']}']")
    assert page.get_by_test_id("detail-abstract").inner_text().split() == paper["abstract"].split()
    assert page.get_by_test_id("detail-authors").inner_text() == ", ".join(paper["authors"])
    assert page.get_by_test_id("detail-topic").inner_text().strip() == paper["topic"]["label"]
    page.wait_for_selector("[data-testid=related-list]")
    related = _api(web.base, f"/api/papers/{paper['id']}/related", k=10)["hits"]
    assert _ids(page, "[data-testid=related]") == [hit["id"] for hit in related]
    assert paper["id"] not in _ids(page, "[data-testid=related]")
    # each says why: the words it shares, the sentences that matched best (its similarity
    # is its relevance, on the meta line)
    for i, hit in enumerate(related):
        item = page.locator("[data-testid=related]").nth(i)
        reason = item.get_by_test_id("because").inner_text()
        assert reason.startswith("Shared words ")
        assert all(word in reason for word in hit["because"]["words"])
        sentence = hit["because"]["sentences"]["hit"]
        if "$" not in sentence and "\\" not in sentence:  # TeX is typeset, so only plain text compares
            assert item.locator(".pair-hit").inner_text() == sentence

    # a related paper opens in turn, and Back returns to the first
    page.locator("[data-testid=related-title]").first.click()
    page.wait_for_selector(f"[data-testid=paper-detail][data-id='{related[0]['id']}']")
    page.get_by_test_id("detail-back").click()
    page.wait_for_selector(f"[data-testid=paper-detail][data-id='{paper['id']}']")
    web.assert_clean()


def _recommended(page: sync_api.Page, likes: int, unlikes: int) -> list[str]:
    page.wait_for_selector(f"#recommendations[data-state=ready][data-likes='{likes}'][data-unlikes='{unlikes}']")
    return _ids(page, "[data-testid=recommendation]")


def test_likes_and_unlikes_drive_the_recommendations(web: Watched, corpus_index: Path) -> None:
    page = web.page
    page.get_by_test_id("tab-foryou").click()
    page.wait_for_selector("#recommendations[data-state=empty]")
    _search(page, QUERY)
    liked = page.locator("[data-testid=result]").first.get_attribute("data-id")
    page.locator("[data-testid=result-title]").first.click()
    page.wait_for_selector(f"[data-testid=paper-detail][data-id='{liked}']")
    liked_title = page.get_by_test_id("detail-title").inner_text()
    page.get_by_test_id("detail-like").click()
    assert page.get_by_test_id("detail-like").get_attribute("aria-pressed") == "true"
    assert page.get_by_test_id("feedback-count").inner_text() == "1"

    page.get_by_test_id("tab-foryou").click()
    first = _recommended(page, 1, 0)
    assert first and liked not in first
    expected = httpx.post(f"{web.base}/api/recommend", json={"like": [liked], "unlike": [], "k": 20}).json()
    assert first == [hit["id"] for hit in expected["hits"]]
    assert page.locator("#recommendations [data-testid=because]").count() == len(first)
    reasons = page.locator("#recommendations [data-testid=because-title]")
    assert {reasons.nth(i).get_attribute("data-id") for i in range(reasons.count())} == {liked}

    unliked = first[0]
    page.locator(f"[data-testid=recommendation][data-id='{unliked}'] [data-testid=unlike-button]").click()
    second = _recommended(page, 1, 1)
    assert second and second != first
    assert liked not in second and unliked not in second
    body = {"like": [liked], "unlike": [unliked], "k": 20}
    assert second == [hit["id"] for hit in httpx.post(f"{web.base}/api/recommend", json=body).json()["hits"]]

    # the marks are the server's library: the CLI lists them, and they survive a reload
    shown = subprocess.run(
        [sys.executable, "-m", "engine.cli", "library", "show", web.library, "--index", str(corpus_index), "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    entries = {e["paper_id"]: e["verdict"] for e in json.loads(shown.stdout)["entries"]}
    assert entries == {liked: "like", unliked: "unlike"}
    listed = subprocess.run(
        [sys.executable, "-m", "engine.cli", "library", "list", "--index", str(corpus_index)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert f"{web.library}\t1 liked\t1 unliked" in listed.stdout
    page.reload()
    page.get_by_test_id("tab-foryou").click()
    assert _recommended(page, 1, 1) == second
    assert _ids(page, "[data-testid=examples-like] .example") == [liked]
    assert page.locator("[data-testid=examples-like] .example-title").inner_text() == liked_title
    assert page.locator("#recommendations [data-testid=because-title]").first.inner_text() == liked_title
    page.locator("[data-testid=examples-like] .example-remove").click()
    page.wait_for_selector("#recommendations[data-state=empty]")
    assert [e["paper_id"] for e in _api(web.base, f"/api/libraries/{web.library}")["entries"]] == [unliked]
    web.assert_clean()


def test_the_feed_tab_marks_read_and_exports(web: Watched) -> None:
    page = web.page
    _search(page, QUERY)
    liked = _ids(page, "[data-testid=result]")[:2]
    for pid in liked:
        page.locator(f"[data-testid=result][data-id='{pid}'] [data-testid=like-button]").click()
    page.wait_for_function(f"document.querySelector('[data-testid=feedback-count]').textContent === '{len(liked)}'")
    page.get_by_test_id("tab-feed").click()
    page.select_option("[data-testid=feed-since]", "30d")
    page.wait_for_selector("#feed[data-state=ready]")
    query = {"library": web.library, "since": "30d", "k": 50}
    expected = _api(web.base, "/api/feed", **query)
    shown = _ids(page, "[data-testid=feed-item]")
    assert shown == [item["id"] for item in expected["items"]] and shown
    assert not set(liked) & set(shown)
    reasons = page.locator("[data-testid=feed-why]").all_inner_texts()
    assert len(reasons) == len(shown) and all(r.startswith("close to") for r in reasons)
    assert page.locator("[data-testid=feed-item-snippet]").count() == len(shown)
    first = expected["items"][0]["snippet"]
    marked = page.locator("[data-testid=feed-item-snippet]").first.locator("mark").all_inner_texts()
    assert marked == [first["text"][a:b] for a, b in first["marks"]]  # the words it shares with a liked paper
    assert expected["since"] in page.get_by_test_id("feed-summary").inner_text()

    page.locator("[data-testid=feed-item]").first.get_by_test_id("mark-read").click()
    page.wait_for_function(f"!document.querySelector(\"[data-testid=feed-item][data-id='{shown[0]}']\")")
    assert shown[0] not in [item["id"] for item in _api(web.base, "/api/feed", **query)["items"]]

    with page.expect_download() as download:
        page.get_by_test_id("library-export-bibtex").click()
    entries = bibtexparser.loads(Path(download.value.path()).read_text()).entries
    assert sorted(e["eprint"] for e in entries) == sorted(liked)
    assert page.get_by_test_id("feed-atom").get_attribute("href") == f"/feeds/library/{web.library}.atom"

    page.get_by_test_id("tab-search").click()  # a search's results export as the list shows them
    with page.expect_download() as download:
        page.get_by_test_id("search-export-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [row["id"] for row in rows] == _ids(page, "[data-testid=result]")

    # a digest's "related papers" link opens that paper; an Atom feed's links open the Feed
    page.goto(f"{web.base}/?paper={shown[1]}")
    page.wait_for_selector(f"[data-testid=paper-detail][data-id='{shown[1]}']")
    page.goto(f"{web.base}/?tab=feed")
    page.wait_for_selector("#feed[data-state=ready]")
    web.assert_clean()


def test_topic_list_and_a_topic_s_papers(web: Watched) -> None:
    page = web.page
    topics = _api(web.base, "/api/topics", level="fine")["topics"]
    page.get_by_test_id("tab-topics").click()
    page.wait_for_selector("[data-testid=topic-item]")
    labels = page.locator("[data-testid=topic-item] .topic-label").all_inner_texts()
    assert sorted(labels) == sorted(t["label"] for t in topics)
    second = page.locator("[data-testid=topic-item]").nth(1)
    topic_id = second.get_attribute("data-topic-id")
    second.click()
    page.wait_for_selector(f"[data-testid=topic-detail][data-state=ready][data-topic-id='{topic_id}']")
    topic = _api(web.base, f"/api/topics/{topic_id}", level="fine", k=25)  # the page's first screenful
    assert page.get_by_test_id("topic-title").inner_text() == topic["label"]
    assert _ids(page, "[data-testid=topic-paper]") == [hit["id"] for hit in topic["hits"]]
    assert page.get_by_test_id("topic-more").count() == int(topic["size"] > 25)  # "Show all" the rest
    assert page.locator("[data-testid=topic-keywords] li").all_inner_texts() == topic["keywords"]

    # papers per month: a small chart for every topic in the list, a larger one in the view
    trends = {t["id"]: t for t in _api(web.base, "/api/topics/trends", level="fine")["topics"]}
    page.wait_for_selector("[data-testid=topic-item] [data-testid=topic-trend]")
    for item in page.locator("[data-testid=topic-item]").all():
        expected = trends[int(item.get_attribute("data-topic-id"))]
        chart = item.get_by_test_id("topic-trend")
        assert chart.get_attribute("data-counts") == ",".join(map(str, expected["counts"]))
        assert item.get_by_test_id("topic-emerging").count() == int(expected["emerging"])
    large = page.get_by_test_id("topic-trend-large")
    assert large.get_attribute("data-counts") == ",".join(map(str, trends[int(topic_id)]["counts"]))
    assert large.locator("rect").count() == len(trends[int(topic_id)]["counts"])

    # a paper of the topic opens in the detail pane
    page.locator("[data-testid=topic-paper-title]").first.click()
    page.wait_for_selector(f"[data-testid=paper-detail][data-id='{topic['hits'][0]['id']}']")
    web.assert_clean()


def test_a_topic_chip_narrows_the_search_to_its_topic(web: Watched) -> None:
    page = web.page
    _search(page, QUERY)
    chip = page.locator("[data-testid=result]").nth(1).get_by_test_id("topic-chip")
    topic_id, label = chip.get_attribute("data-topic-id"), chip.inner_text().strip()
    chip.click()
    page.wait_for_selector("[data-testid=filter-chip-topic]")
    page.wait_for_selector("#results[data-state=ready]")
    assert label in page.get_by_test_id("filter-chip-topic").inner_text()
    expected = _api(web.base, "/api/search", q=QUERY, k=20, topic=topic_id, level="fine")["hits"]
    assert _ids(page, "[data-testid=result]") == [hit["id"] for hit in expected]
    chips = page.locator("[data-testid=result] [data-testid=topic-chip]")
    assert {chips.nth(i).get_attribute("data-topic-id") for i in range(chips.count())} == {topic_id}
    web.assert_clean()


def test_the_map_draws_every_paper_and_a_click_opens_one(web: Watched) -> None:
    page = web.page
    papers = _api(web.base, "/api/health")["papers"]
    page.get_by_test_id("tab-map").click()
    page.wait_for_selector("#map[data-state=ready][data-titles]")  # hover shows titles once they came
    drawn = page.evaluate(
        """() => {
            const el = document.getElementById('map');
            const gl = el.data.filter(trace => trace.type === 'scattergl' && trace.name === 'papers');
            return {traces: gl.length, points: gl.reduce((n, t) => n + t.x.length, 0),
                    ids: new Set(gl.flatMap(t => t.customdata)).size,
                    canvases: el.querySelectorAll('canvas').length,
                    labels: el.layout.annotations.length};
        }"""
    )
    assert drawn["traces"] == 1 and drawn["points"] == drawn["ids"] == papers
    assert drawn["canvases"] > 0 and drawn["labels"] > 0

    # the most isolated point (far from other points and from labels), on the screen
    target = page.evaluate(
        """() => {
            const el = document.getElementById('map');
            const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis, trace = el.data[0];
            const px = trace.x.map(x => xa._offset + xa.l2p(x)), py = trace.y.map(y => ya._offset + ya.l2p(y));
            const labels = el.layout.annotations.map(a => [xa._offset + xa.l2p(a.x), ya._offset + ya.l2p(a.y)]);
            let best = -1, room = -1;
            px.forEach((x, i) => {
                let near = Infinity;
                px.forEach((x2, j) => { if (j !== i) near = Math.min(near, Math.hypot(x - x2, py[i] - py[j])); });
                labels.forEach(([lx, ly]) => { near = Math.min(near, Math.hypot((x - lx) / 4, py[i] - ly)); });
                if (near > room) { room = near; best = i; }
            });
            return {id: trace.customdata[best], x: px[best], y: py[best], title: trace.text[best]};
        }"""
    )
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + target["x"], box["y"] + target["y"])
    hover = page.locator("#map .hoverlayer .hovertext")
    hover.wait_for()
    title = _api(web.base, f"/api/papers/{target['id']}")["title"]
    assert title.split()[0] in (hover.text_content() or "")
    page.mouse.click(box["x"] + target["x"], box["y"] + target["y"])
    page.wait_for_selector(f"[data-testid=paper-detail][data-id='{target['id']}']")
    assert page.get_by_test_id("detail-title").inner_text().split()[0] == title.split()[0]
    # the open paper is ringed: a pixel-sized shape anchored on its point
    ring = page.evaluate(
        """id => { const el = document.getElementById('map'), i = el.data[0].customdata.indexOf(id);
            const rings = el.layout.shapes.filter(s => s.xsizemode === 'pixel');
            return rings.length === 1 && rings[0].xanchor === el.data[0].x[i] && rings[0].yanchor === el.data[0].y[i]; }""",
        target["id"],
    )
    assert ring
    web.assert_clean()


def test_an_api_error_is_shown_to_the_user(web: Watched) -> None:
    page = web.page
    query = "a" * 2001
    _search(page, query)
    error = page.get_by_test_id("search-error")
    assert error.is_visible()
    answer = httpx.get(f"{web.base}/api/search", params={"q": query})
    assert answer.status_code == 422
    assert error.get_by_test_id("error-message").inner_text() == answer.json()["error"]
    assert page.locator("[data-testid=result]").count() == 0
    # Chromium logs the failed fetch itself; nothing else may be logged
    web.assert_clean(allowed_errors=("status of 422",))


def test_text_from_the_api_is_never_markup(web: Watched) -> None:
    page = web.page
    _search(page, '<img src=x onerror="window.hacked=1"> quasars')
    status = page.get_by_test_id("search-status")
    assert "<img" in status.inner_text()
    assert page.locator("#search-status img, #results img").count() == 0
    assert page.evaluate("window.hacked") is None
    web.assert_clean()


def test_the_page_asks_only_its_server_and_logs_no_errors(web: Watched) -> None:
    page = web.page
    _search(page, "large language models for question answering")
    page.locator("[data-testid=result-title]").first.click()
    page.wait_for_selector("[data-testid=related-list]")
    page.get_by_test_id("detail-like").click()
    page.get_by_test_id("tab-foryou").click()
    _recommended(page, 1, 0)
    page.get_by_test_id("tab-topics").click()
    page.wait_for_selector("[data-testid=topic-detail][data-state=ready]")
    page.get_by_test_id("tab-map").click()
    page.wait_for_selector("#map[data-state=ready]")
    page.get_by_test_id("map-level-coarse").click()
    page.get_by_test_id("show-on-map").click()
    page.wait_for_timeout(300)
    assert any(url.endswith("/static/vendor/plotly.min.js") for url in web.requests)
    assert len(web.requests) > 10
    web.assert_clean()


def test_a_token_from_the_url_is_kept_and_sent(browser: sync_api.Browser, corpus_index: Path) -> None:
    from engine.serve.server import server_process

    with server_process(corpus_index, token=TOKEN) as base:
        context, web = _watch(browser, base)
        page = web.page
        sent: list[str | None] = []
        page.on(
            "request",
            lambda r: "/api/" in r.url and "/api/health" not in r.url and sent.append(r.headers.get("authorization")),
        )
        try:
            page.goto(base + "/")
            page.wait_for_selector("[data-testid=token-form]")
            _search(page, QUERY)
            assert "token" in page.get_by_test_id("search-error").inner_text()

            page.goto(f"{base}/#token={TOKEN}")
            page.wait_for_selector("body[data-ready=true]")
            assert "token" not in page.url
            assert page.evaluate("sessionStorage.getItem('paperscope.token')") == TOKEN
            _search(page, QUERY)
            assert page.locator("[data-testid=result]").count() > 0
            assert sent and sent[-1] == f"Bearer {TOKEN}"
            web.assert_clean(allowed_errors=("status of 401",))
        finally:
            context.close()


CSP_WATCH = """document.addEventListener('securitypolicyviolation', e =>
    window.reportViolation(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));"""


def test_the_page_and_docs_work_under_the_content_security_policy(
    browser: sync_api.Browser, served_corpus: str
) -> None:
    """The page (search, a paper, the WebGL map) and /docs (Swagger UI from the installed
    package, an operation run from it) under the policy the server sends: Chromium
    reports no violation, and nothing is fetched from another host (no CDN)."""
    context, web = _watch(browser, served_corpus)
    violations: list[str] = []
    context.expose_binding("reportViolation", lambda source, text: violations.append(text))
    context.add_init_script(CSP_WATCH)
    page = web.page
    try:
        response = page.goto(served_corpus + "/")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_selector("body[data-ready=true]")
        _search(page, QUERY)
        page.locator("[data-testid=result-title]").first.click()
        page.wait_for_selector("[data-testid=related-list]")
        page.get_by_test_id("tab-map").click()
        page.wait_for_selector("#map[data-state=ready]")
        drawn = page.evaluate("document.querySelectorAll('#map canvas').length")
        points = page.evaluate("document.getElementById('map').data[0].x.length")
        assert drawn > 0 and points == _api(served_corpus, "/api/health")["papers"]

        response = page.goto(served_corpus + "/docs")
        assert "'unsafe-eval'" not in response.headers["content-security-policy"]
        page.wait_for_selector(".opblock")
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        schema = _api(served_corpus, "/openapi.json")
        assert sorted(p.replace("\u200b", "") for p in paths) == sorted(
            path for path, methods in schema["paths"].items() for _ in methods
        )
        health = page.locator("#operations-index-health_api_health_get")
        health.locator(".opblock-summary").click()
        health.locator("button.try-out__btn").click()
        health.locator("button.execute").click()
        status = health.locator(".live-responses-table tr.response .response-col_status")
        status.wait_for()
        assert status.inner_text().strip() == "200"
        assert violations == [], violations
        web.assert_clean()
    finally:
        context.close()


def _luminance(css: str) -> float:
    """Relative luminance of an ``rgb(r, g, b)`` colour (WCAG's formula)."""
    channels = [int(v) / 255 for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_dark_mode_follows_the_system_and_the_switch(browser: sync_api.Browser, served_corpus: str) -> None:
    context = browser.new_context(viewport=VIEWPORT, color_scheme="dark")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto(served_corpus + "/")
    page.wait_for_selector("body[data-ready=true]")

    def colours() -> tuple[float, float]:
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        text = page.evaluate("getComputedStyle(document.querySelector('.brand-name')).color")
        return _luminance(background), _luminance(text)

    background, text = colours()  # the system's dark, with text that reads on it (contrast >= 7)
    assert background < 0.02 and (text + 0.05) / (background + 0.05) >= 7
    switch = page.get_by_test_id("theme-switch")
    assert switch.get_attribute("data-choice") == "auto"
    switch.click()  # auto -> light, whatever the system says
    assert switch.get_attribute("data-choice") == "light" and colours()[0] > 0.8
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert colours()[0] > 0.8  # the choice is kept
    page.get_by_test_id("theme-switch").click()  # light -> dark
    assert colours()[0] < 0.02
    context.close()


def test_keyboard_paths(web: Watched) -> None:
    """j / k move through the results with visible focus, l likes, u unlikes, o opens, and
    digits switch tabs; letters typed into the search box stay text."""
    page = web.page
    _search(page, QUERY)
    ids = _ids(page, "[data-testid=result]")
    page.locator("body").click(position={"x": 5, "y": 300})  # out of the search box
    focused = "document.activeElement.closest('.hit') && document.activeElement.closest('.hit').dataset.id"
    page.keyboard.press("j")
    assert page.evaluate(focused) == ids[0]
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # focus is visible
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert page.evaluate(focused) == ids[1]
    page.keyboard.press("l")
    like = page.locator(f"[data-testid=result][data-id='{ids[1]}'] [data-testid=like-button]")
    page.wait_for_function(
        f"document.querySelector(\"[data-testid=result][data-id='{ids[1]}'] [data-testid=like-button]\")"
        ".getAttribute('aria-pressed') === 'true'"
    )
    page.keyboard.press("j")
    page.keyboard.press("u")  # at once: the like's answer, arriving later, must not undo this
    unlike = page.locator(f"[data-testid=result][data-id='{ids[2]}'] [data-testid=unlike-button]")
    assert unlike.get_attribute("aria-pressed") == "true" and like.get_attribute("aria-pressed") == "true"
    page.keyboard.press("o")
    page.wait_for_selector(f"[data-testid=paper-detail][data-id='{ids[2]}']")
    entries = {e["paper_id"]: e["verdict"] for e in _api(web.base, f"/api/libraries/{web.library}")["entries"]}
    assert entries == {ids[1]: "like", ids[2]: "unlike"}
    page.keyboard.press("?")  # every key, in a dialog that Escape closes
    help_box = page.get_by_test_id("keys-help")
    assert help_box.is_visible() and "Next and previous paper" in help_box.inner_text()
    page.keyboard.press("Escape")
    assert not help_box.is_visible()
    page.keyboard.press("2")
    assert page.get_by_test_id("tab-feed").get_attribute("aria-selected") == "true"
    page.keyboard.press("1")
    page.fill("[data-testid=search-input]", "")
    page.locator("[data-testid=search-input]").press_sequentially("jolu 2")
    assert page.input_value("[data-testid=search-input]") == "jolu 2"  # typing is typing
    assert page.get_by_test_id("tab-search").get_attribute("aria-selected") == "true"
    web.assert_clean()


def _marks(snippet: dict) -> list[str]:
    return [snippet["text"][a:b] for a, b in snippet["marks"]]


def test_snippets_mark_the_matched_words(web: Watched) -> None:
    """Results and related papers show the passage that matched, with exactly the
    words the server matched in <mark>, and the passage's text unchanged."""
    page = web.page
    _search(page, QUERY)
    hits = _api(web.base, "/api/search", q=QUERY, k=20)["hits"]
    snippets = page.locator("[data-testid=result-snippet]")
    assert snippets.count() == len(hits)
    for i, hit in enumerate(hits):
        if "$" in hit["snippet"]["text"] or "\\" in hit["snippet"]["text"]:
            continue  # TeX is typeset, so only plain text compares
        assert snippets.nth(i).inner_text() == hit["snippet"]["text"]
        assert snippets.nth(i).locator("mark").all_inner_texts() == _marks(hit["snippet"])
    assert sum(len(hit["snippet"]["marks"]) for hit in hits) >= len(hits)  # the query's words are found
    page.locator("[data-testid=result-title]").first.click()
    page.wait_for_selector("[data-testid=related-list]")
    related = _api(web.base, f"/api/papers/{hits[0]['id']}/related", k=10)["hits"]
    shown = page.locator("[data-testid=related-snippet]")
    assert [shown.nth(i).locator("mark").all_inner_texts() for i in range(shown.count())] == [
        _marks(hit["snippet"]) for hit in related
    ]
    web.assert_clean()


def _dates(page: sync_api.Page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "items => items.map(item => item.getAttribute('datetime'))")


def test_lists_sort_by_relevance_or_date(web: Watched) -> None:
    page = web.page
    _search(page, QUERY)
    page.get_by_test_id("search-sort").get_by_role("button", name="Newest").click()
    page.wait_for_function("new URL(location.href).searchParams.get('sort') === 'date'")
    page.wait_for_selector("#results[data-state=ready]")
    expected = _api(web.base, "/api/search", q=QUERY, k=20, sort="date")["hits"]
    assert _ids(page, "[data-testid=result]") == [hit["id"] for hit in expected]
    dates = _dates(page, "[data-testid=result-date]")
    assert dates == sorted(dates, reverse=True) and len(set(dates)) > 1
    # related papers re-sort in place, the same papers newest first
    page.locator("[data-testid=result-title]").first.click()
    page.wait_for_selector("[data-testid=related-list]")
    by_relevance = _ids(page, "[data-testid=related]")
    page.get_by_test_id("related-sort").get_by_role("button", name="Newest").click()
    by_date = _ids(page, "[data-testid=related]")
    dates = _dates(page, "[data-testid=related-date]")
    assert sorted(by_date) == sorted(by_relevance) and dates == sorted(dates, reverse=True)
    web.assert_clean()
