"""The digest in HTML, Markdown and text, rendered from a feed of real papers (the 300-paper
corpus sample) with hostile strings mixed in, and read back with the standard library's
HTML parser as a mail client would."""

from __future__ import annotations

import gzip
import json
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest

from engine.daily.digest import escape_markdown, render_html, render_markdown, render_text, write_digest
from engine.errors import ExportError
from tests.conftest import CORPUS_SAMPLE

BASE = "https://papers.example.org/scope"
HOSTILE_TITLE = "<script>alert(1)</script> & the <b>bold</b> $M_\\odot$ [draft]"
QUOTED_TITLE = "A & B \"q\" 'single' *not bold* _nor this_ `code` $\\Sigma_{\\rm SFR}$"
HOSTILE_WHY = 'close to \u201c<img src=x onerror=alert(1)>\u201d, which you liked; shares: "A & B"'


def corpus_papers() -> list[dict]:
    with gzip.open(CORPUS_SAMPLE, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def one_line(text: str) -> str:
    return " ".join(text.split())


def realistic_feed(count: int = 12) -> dict:
    """A feed answer as engine.daily.feed builds it, over real papers; the first items carry
    hostile titles and reasons, an old-style arXiv id and an id that is not arXiv's."""
    papers = corpus_papers()
    items = []
    for rank, paper in enumerate(papers[:count], start=1):
        topic = {"id": 3, "label": "galaxy mergers", "parent": {"id": 1, "label": "galaxies & AGN"}}
        items.append(
            {
                **{key: paper[key] for key in ("id", "title", "abstract", "authors", "categories", "date")},
                "primary_category": paper["primary_category"],
                "comment": paper.get("comment"),
                "updated": None,
                "version": 1,
                "rank": rank,
                "score": round(2.0 - rank / 10, 3),
                "topic": topic if rank % 3 else {"id": 7, "label": "dialogue systems", "parent": None},
                "why": f"close to \u201c{papers[-rank]['title']}\u201d, which you liked (0.61); shares: galaxy, merger",
                "snippet": one_line(paper["abstract"])[:280].rsplit(" ", 1)[0] + "…",
            }
        )
    items[0].update(title=HOSTILE_TITLE, why=HOSTILE_WHY)
    items[1].update(title=QUOTED_TITLE, version=3, updated="2026-06-18")
    items[2].update(id="astro-ph/0601001")
    items[3].update(id="local:notes/7?x=<y>&z=1", snippet=None, topic=None, why="")
    items[4].update(authors=[f"Author Number{n}" for n in range(1, 10)])
    return {
        "library": "likes",
        "since": "2026-06-15",
        "newest": "2026-06-19",
        "generated": "2026-12-02T15:40:00Z",
        "method": "fused",
        "new": 212,
        "unread": 180,
        "follows": {"categories": ["astro-ph.GA"], "topics": [{"id": 3, "level": "fine", "label": "galaxy mergers"}]},
        "items": items,
    }


def empty_feed() -> dict:
    return {**realistic_feed(), "new": 0, "unread": 0, "items": []}


class Page(HTMLParser):
    """What a mail client sees: tags, attributes, links with their text, and the text."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self.links: list[tuple[str, str]] = []
        self.chunks: list[str] = []
        self._open_link: list[str] | None = None
        self.feed(document)
        self.close()
        self.text = " ".join(" ".join(self.chunks).split())

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(tag, name, value) for name, value in attrs]
        if tag == "a":
            self._open_link = [dict(attrs).get("href") or "", ""]

    def handle_endtag(self, tag):
        if tag == "a" and self._open_link is not None:
            self.links.append((self._open_link[0], " ".join(self._open_link[1].split())))
            self._open_link = None

    def handle_data(self, data):
        self.chunks.append(data)
        if self._open_link is not None:
            self._open_link[1] += data


@pytest.fixture(scope="module")
def feed() -> dict:
    return realistic_feed()


@pytest.fixture(scope="module")
def page(feed) -> Page:
    return Page(render_html(feed, base_url=BASE))


def test_html_is_self_contained_and_runs_nothing(page):
    source_tags = {"script", "link", "style", "img", "iframe", "object", "embed", "form", "base", "video", "audio"}
    assert not source_tags & set(page.tags)
    assert page.tags.count("html") == 1 and page.tags.count("body") == 1
    assert ("meta", "charset", "utf-8") in page.attributes
    for tag, name, value in page.attributes:
        assert name != "src" and not name.startswith("on"), (tag, name, value)
        if name == "href":
            assert value.startswith(("https://arxiv.org/abs/", "https://arxiv.org/pdf/", f"{BASE}/?paper=")), value
        if name == "style":
            assert "url(" not in value and "expression" not in value and "@import" not in value
    assert not any("javascript:" in (value or "").lower() for *_, value in page.attributes)


def test_html_shows_every_item_with_its_links(feed, page):
    links = dict((text, href) for href, text in page.links)
    for item in feed["items"]:
        title = one_line(item["title"])
        assert title in page.text
        if item["id"].startswith("local:"):
            assert title not in links  # not an arXiv id: no arXiv link to make up
            continue
        assert links[title] == f"https://arxiv.org/abs/{item['id']}"
        assert (f"https://arxiv.org/pdf/{item['id']}", "PDF") in page.links
    related = {href for href, text in page.links if text == "related papers"}
    assert len(related) == len(feed["items"])
    assert f"{BASE}/?paper=astro-ph%2F0601001" in related
    assert f"{BASE}/?paper=local%3Anotes%2F7%3Fx%3D%3Cy%3E%26z%3D1" in related


def test_html_escapes_hostile_strings_into_plain_text(feed, page):
    assert HOSTILE_TITLE in page.text and one_line(QUOTED_TITLE) in page.text
    assert "Why: " + HOSTILE_WHY in page.text
    assert "<script>" not in render_html(feed).replace("&lt;script&gt;", "")
    assert "b" not in page.tags and "img" not in page.tags  # the title's and the reason's tags stayed text


def test_html_item_details(feed, page):
    nine = feed["items"][4]
    assert (
        "Author Number1, Author Number2, Author Number3, Author Number4, Author Number5, Author Number6, et al."
        in page.text
    )
    assert "Author Number7" not in page.text
    assert all(", ".join(item["authors"][:2]) in page.text for item in feed["items"][5:])
    assert f"{nine['date']} · {nine['primary_category']}" in page.text
    assert "topic: galaxies & AGN › galaxy mergers" in page.text
    assert "topic: dialogue systems" in page.text
    assert "v3" in page.text
    assert feed["items"][5]["snippet"] in page.text
    # An item without a snippet shows the start of its abstract instead.
    assert one_line(feed["items"][3]["abstract"])[:120] in page.text


def test_html_title_and_preheader(page):
    title = "paperscope digest: likes, 212 new papers since 2026-06-15"
    assert page.text.startswith(f"{title} 212 new papers · first: {HOSTILE_TITLE}")
    assert "top 12 · 180 unread · ranked by fused · newest 2026-06-19" in page.text
    assert page.tags.index("title") < page.tags.index("body")


def test_empty_feed_says_so_plainly():
    feed = empty_feed()
    message = "No new papers for likes since 2026-06-15."
    assert message in Page(render_html(feed)).text
    assert message in render_markdown(feed)
    assert message in render_text(feed)
    assert "paperscope digest: likes, 0 new papers since 2026-06-15" in Page(render_html(feed)).text
    all_read = {**feed, "new": 5}
    assert "No unread papers for likes since 2026-06-15: all 5 new ones are read." in render_text(all_read)


def test_markdown_has_every_title_and_link(feed):
    document = render_markdown(feed, base_url=BASE)
    for item in feed["items"]:
        title = escape_markdown(item["title"])
        if item["id"].startswith("local:"):
            assert f"## {item['rank']}. {title}\n" in document
        else:
            assert f"## {item['rank']}. [{title}](https://arxiv.org/abs/{item['id']})\n" in document
            assert f"[PDF](https://arxiv.org/pdf/{item['id']})" in document
        assert f"[related papers]({BASE}/?paper=" in document
    assert document.startswith("# paperscope digest: likes, 212 new papers since 2026-06-15\n")
    assert document.count("[related papers](") == len(feed["items"])
    assert "Author Number6, et al." in document


def test_markdown_escapes_only_what_breaks_it():
    assert (
        escape_markdown(HOSTILE_TITLE) == "\\<script>alert(1)\\</script> & the \\<b>bold\\</b> $M_\\odot$ \\[draft\\]"
    )
    assert escape_markdown(QUOTED_TITLE) == (
        "A & B \"q\" 'single' \\*not bold\\* \\_nor this\\_ \\`code\\` $\\Sigma_{\\rm SFR}$"
    )
    assert escape_markdown("line\n  two") == "line two"


def test_text_digest(feed):
    text = render_text(feed)
    assert text.startswith("paperscope digest: likes, 212 new papers since 2026-06-15\n")
    assert f"1. {HOSTILE_TITLE}" in text
    assert all(len(line) <= 76 for line in text.splitlines() if " " in line.strip())
    assert "   https://arxiv.org/abs/astro-ph/0601001" in text
    assert "https://arxiv.org/abs/local" not in text
    flat = one_line(text)
    assert all(one_line(item["title"]) in flat for item in feed["items"])


def test_a_base_url_that_is_not_http_is_refused(feed):
    with pytest.raises(ExportError, match="base_url"):
        render_html(feed, base_url="javascript:alert(1)")


@pytest.mark.parametrize(
    ("name", "kind"),
    [("d.html", "html"), ("d.htm", "html"), ("D.HTML", "html"), ("d.md", "markdown"), ("d.markdown", "markdown")],
)
def test_write_digest_picks_the_format_from_the_suffix(tmp_path, feed, name, kind):
    path = tmp_path / "new" / "folder" / name
    assert write_digest(feed, path, base_url=BASE) == kind
    expected = render_html(feed, BASE) if kind == "html" else render_markdown(feed, BASE)
    assert path.read_text(encoding="utf-8") == expected
    assert os.listdir(path.parent) == [name]  # no temporary file left behind


def test_write_digest_refuses_other_suffixes(tmp_path, feed):
    for name in ("digest.txt", "digest", "digest.html.gz"):
        with pytest.raises(ExportError) as caught:
            write_digest(feed, tmp_path / name)
        assert str(tmp_path / name) in str(caught.value)
        assert ".html" in str(caught.value) and ".md" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_write_digest_replaces_whole_or_not_at_all(tmp_path, feed):
    path = tmp_path / "digest.md"
    path.write_text("yesterday's digest")
    with pytest.raises(ExportError):
        write_digest(feed, path, base_url="ftp://nope")
    assert path.read_text() == "yesterday's digest"
    write_digest(empty_feed(), path)
    assert "No new papers" in path.read_text()
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["digest.md"]


def test_the_words_a_paper_shares_with_a_liked_one_are_bold(feed):
    """A feed item's snippet marks (character spans) become <b> in HTML and ** in
    Markdown; its text stays text, and spans that do not fit are ignored."""
    text = "We find <script>x</script> dwarf galaxies rich in dark matter."
    start = text.index("dwarf")
    item = feed["items"][5]
    item["snippet"] = {"text": text, "marks": [[start, start + 5], [start + 6, start + 14], [90, 99], ["a", 2], [3]]}
    document = render_html(feed)
    assert "<b>dwarf</b> <b>galaxies</b> rich in dark matter." in document
    assert "&lt;script&gt;x&lt;/script&gt;" in document and "<script>" not in document
    assert "We find &lt;script&gt;x&lt;/script&gt; <b>dwarf</b>" in document
    assert "> We find \\<script>x\\</script> **dwarf** **galaxies** rich in dark matter.\n" in render_markdown(feed)
