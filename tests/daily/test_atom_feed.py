"""Atom feeds of real papers read back with feedparser, as a feed reader would: a feed
that trips it (``bozo``) is a feed readers drop."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import feedparser
import pytest

from engine.daily.atom_feed import MEDIA_TYPE, render_atom, rfc3339, xml_text
from tests.daily.test_digest import HOSTILE_TITLE, HOSTILE_WHY, realistic_feed

ATOM = "{http://www.w3.org/2005/Atom}"
SELF = "https://papers.example.org/feeds/likes.atom"
PAGE = "https://papers.example.org/?library=likes"


def render(items, **options) -> bytes:
    return render_atom(
        title="paperscope: likes",
        feed_id="urn:paperscope:feed:likes",
        self_url=SELF,
        alternate_url=PAGE,
        items=items,
        **options,
    )


@pytest.fixture(scope="module")
def feed() -> dict:
    return realistic_feed()


@pytest.fixture(scope="module")
def parsed(feed):
    document = render(feed["items"], subtitle="212 new papers since 2026-06-15 & more <soon>")
    return feedparser.parse(document)


def test_a_reader_accepts_the_feed(parsed, feed):
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "paperscope: likes"
    assert parsed.feed.subtitle == "212 new papers since 2026-06-15 & more <soon>"
    assert parsed.feed.id == "urn:paperscope:feed:likes"
    assert parsed.feed.generator == "paperscope"
    assert parsed.feed.author == "paperscope"
    links = {link.rel: (link.href, link.type) for link in parsed.feed.links}
    assert links == {"self": (SELF, "application/atom+xml"), "alternate": (PAGE, "text/html")}
    assert len(parsed.entries) == len(feed["items"])


def test_entries_carry_ids_titles_links_and_authors(parsed, feed):
    for entry, item in zip(parsed.entries, feed["items"], strict=True):
        assert entry.title == " ".join(item["title"].split())
        if item["id"].startswith("local:"):
            assert entry.id == "urn:paperscope:paper:local%3Anotes%2F7%3Fx%3D%3Cy%3E%26z%3D1"
            assert "links" not in entry or not entry.links
        else:
            assert entry.id == f"https://arxiv.org/abs/{item['id']}"
            links = {link.rel: link for link in entry.links}
            assert links["alternate"].href == f"https://arxiv.org/abs/{item['id']}"
            assert links["related"].href == f"https://arxiv.org/pdf/{item['id']}"
            assert links["related"].type == "application/pdf" and links["related"].title == "pdf"
        assert [author.name for author in entry.authors] == item["authors"]
        assert entry.summary == " ".join(item["abstract"].split())
        assert entry.summary_detail.type == "text/plain"


def test_entries_carry_categories_and_topics(parsed, feed):
    for entry, item in zip(parsed.entries, feed["items"], strict=True):
        tags = [(tag.term, tag.scheme, tag.label) for tag in entry.get("tags", [])]
        expected = [(c, "http://arxiv.org/schemas/atom", None) for c in item["categories"]]
        topic = item["topic"]
        if topic:
            expected.append((f"topic-{topic['id']}", "urn:paperscope:topic", topic["label"]))
            if topic["parent"]:
                expected.append(("topic-1", "urn:paperscope:topic", "galaxies & AGN"))
        assert tags == expected


def test_dates_parse(parsed, feed):
    assert parsed.feed.updated == "2026-06-18T00:00:00Z"  # the newest item's stamp (item 2's update)
    for entry, item in zip(parsed.entries, feed["items"], strict=True):
        assert entry.published_parsed[:3] == tuple(int(part) for part in item["date"].split("-"))
        assert time.strftime("%Y-%m-%d", entry.updated_parsed) == (item["updated"] or item["date"])


def test_content_is_escaped_html_a_reader_renders(parsed, feed):
    first = parsed.entries[0]
    assert first.content[0].type == "text/html"
    html = first.content[0].value
    # feedparser sanitizes the HTML; the hostile reason arrives as text, not as an <img>.
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "galaxies &amp; AGN › galaxy mergers" in html
    assert feed["items"][0]["snippet"].split(",")[0] in html
    assert HOSTILE_WHY.split("\u201c")[0] in html


def test_forbidden_characters_are_dropped_and_the_rest_still_parses():
    item = {
        **realistic_feed()["items"][5],
        "title": "Bad\x00 bytes\x0b\x1f ]]> <b>bold</b> & \ufffe\ud800 end",
        "abstract": "An abstract\x08 with a form feed\x0c, a tab\tand a bell\x07.",
        "authors": ["Ann\x01 Author", "Ω Ünïcödé"],
        "why": "why\x1b[31m",
    }
    document = render([item])
    parsed = feedparser.parse(document)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.entries[0].title == "Bad bytes ]]> <b>bold</b> & end"
    assert parsed.entries[0].summary == "An abstract with a form feed, a tab and a bell."
    assert [a.name for a in parsed.entries[0].authors] == ["Ann Author", "Ω Ünïcödé"]
    ET.fromstring(document)  # a strict XML parser agrees
    assert xml_text("a\x00b\tc\nd\re") == "ab\tc\nd\re"


def test_hostile_title_round_trips(feed):
    parsed = feedparser.parse(render(feed["items"][:1]))
    assert parsed.bozo == 0
    assert parsed.entries[0].title == HOSTILE_TITLE
    assert parsed.entries[0].title_detail.type == "text/plain"


def test_an_empty_feed_is_valid():
    document = render([], updated="2026-12-02T15:40:00Z")
    parsed = feedparser.parse(document)
    assert parsed.bozo == 0 and parsed.entries == []
    assert parsed.feed.updated == "2026-12-02T15:40:00Z"
    root = ET.fromstring(document)
    assert root.tag == f"{ATOM}feed"
    assert [child.tag.removeprefix(ATOM) for child in root] == [
        "id",
        "title",
        "updated",
        "link",
        "link",
        "generator",
        "author",
    ]
    before = rfc3339(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5)))
    stamp = feedparser.parse(render([])).feed.updated  # no date at all: now
    assert before <= stamp


def test_updated_given_wins_and_accepts_dates_and_times(feed):
    assert feedparser.parse(render(feed["items"], updated="2026-12-02")).feed.updated == "2026-12-02T00:00:00Z"
    assert rfc3339("2026-12-02T17:40:00+02:00") == "2026-12-02T15:40:00Z"
    assert rfc3339("not a date") is None and rfc3339(None) is None


def test_the_document_is_utf8_atom():
    document = render(realistic_feed()["items"][:2])
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">")
    assert MEDIA_TYPE == "application/atom+xml; charset=utf-8"
