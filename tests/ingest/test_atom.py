"""The arXiv API's Atom feed, parsed on recorded responses (tests/fixtures/atom/, made by
scripts/make-atom-fixtures from real papers), and bad feeds that must be reported."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ingest import atom
from engine.ingest.sources import detect_format, read_papers
from engine.papers import Paper, Problem, clean_text
from tests.arxiv_replay import expected_papers, feed_xml, recorded_entries
from tests.conftest import CORPUS_SAMPLE, FIXTURES

ATOM = FIXTURES / "atom"
PAGE = ATOM / "cat-cs.CL-start-0.atom"


def entry_line(text: str, needle: str) -> int:
    """The line of the ``<entry>`` that holds ``needle``."""
    lines = text.splitlines()
    hit = next(i for i, line in enumerate(lines) if needle in line)
    return next(i for i in range(hit, -1, -1) if lines[i].strip() == "<entry>") + 1


def test_recorded_page_matches_an_independent_reading() -> None:
    feed = atom.parse_feed(PAGE.read_bytes(), str(PAGE))
    assert (feed.total_results, feed.start_index, feed.items_per_page) == (24, 0, 8)
    assert feed.problems == [] and feed.error is None
    expected = expected_papers(recorded_entries(PAGE))
    assert len(feed.papers) == len(expected) == 8
    for paper, want in zip(feed.papers, expected, strict=True):
        assert (paper.id, paper.version, paper.title, paper.date) == (
            want["id"],
            want["version"],
            want["title"],
            want["date"],
        )
        assert paper.abstract == clean_text(want["abstract"])
        assert list(paper.authors) == want["authors"]
        assert paper.categories[0] == want["primary"] and set(paper.categories) == set(want["categories"])
    text = PAGE.read_text()
    second = feed.entries[1]
    assert second.line == entry_line(text, f"abs/{feed.papers[1].id}")
    assert second.published.isoformat() == expected[1]["published"].replace("Z", "+00:00")
    revised = [p for p in feed.papers if p.version == 2]
    assert revised and all(p.updated > p.date for p in revised)  # a v2 three days later
    assert any(p.comment for p in feed.papers)


def test_namespaces_declared_on_the_root_read_the_same() -> None:
    """The current API declares ``opensearch`` and ``arxiv`` once, on ``<feed>``."""
    legacy = PAGE.read_text()
    modern = re.sub(r' xmlns:(arxiv|opensearch)="[^"]*"', "", legacy).replace(
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom">',
    )
    assert modern != legacy
    a, b = atom.parse_feed(legacy.encode(), "a"), atom.parse_feed(modern.encode(), "b")
    assert a.papers == b.papers and b.total_results == 24
    assert [p.categories for p in a.papers] == [p.categories for p in b.papers]


def test_bad_entries_are_skipped_with_their_line_and_field() -> None:
    path = ATOM / "malformed.atom"
    result = read_papers(path)
    assert len(result.papers) == 4 and len(result.problems) == 2
    text = path.read_text()
    recorded = expected_papers(recorded_entries(path))
    untitled, undated = result.problems
    assert untitled.source == str(path) and "field 'title' is missing" in untitled.message
    assert recorded[1]["id"] in untitled.message and untitled.line == entry_line(text, f"abs/{recorded[1]['id']}")
    assert "field 'published'" in undated.message and "2026-13-45" in undated.message
    assert undated.line == entry_line(text, "2026-13-45")
    assert [p.id for p in result.papers] == [recorded[i]["id"] for i in (0, 2, 4, 5)]


def test_error_feed_is_a_problem_with_the_api_message() -> None:
    feed = atom.parse_feed((ATOM / "error.atom").read_bytes(), "url")
    assert feed.error == "incorrect id format for 1234.12345" and feed.entries == []
    result = read_papers(ATOM / "error.atom")
    assert result.papers == []
    assert [p.message for p in result.problems] == [
        "the arXiv API answered with an error: incorrect id format for 1234.12345"
    ]


def test_doctype_is_refused_so_entities_never_expand(tmp_path: Path) -> None:
    laughs = (
        '<?xml version="1.0"?>\n<!DOCTYPE feed [\n <!ENTITY a "aaaaaaaaaa">\n'
        + "".join(f' <!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n' for i in range(9))
        + ']>\n<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&j;</title></entry></feed>\n'
    )
    external = (
        '<?xml version="1.0"?>\n<!DOCTYPE feed [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><summary>&x;</summary></entry></feed>\n'
    )
    for name, text in (("laughs.atom", laughs), ("xxe.atom", external)):
        feed = atom.parse_feed(text.encode(), name)
        assert feed.entries == [] and "DOCTYPE" in feed.broken.message and feed.broken.line == 2
        path = tmp_path / name
        path.write_text(text)
        result = read_papers(path)
        assert result.papers == [] and "DOCTYPE" in result.problems[0].message


def test_truncated_feed_keeps_the_entries_before_the_break(tmp_path: Path) -> None:
    text = PAGE.read_text()
    cut = text[: text.index("</entry>", text.index("</entry>", text.index("</entry>") + 1) + 1) + 40]
    path = tmp_path / "cut.atom"
    path.write_text(cut)
    result = read_papers(path)
    assert len(result.papers) == 3 and len(result.problems) == 1
    assert "not well-formed" in result.problems[0].message
    assert result.problems[0].line == cut.count("\n") + 1


def test_gzipped_feed_and_format_detection(tmp_path: Path) -> None:
    packed = tmp_path / "page.atom.gz"
    packed.write_bytes(gzip.compress(PAGE.read_bytes()))
    assert detect_format(packed) == detect_format(PAGE) == "atom"
    assert read_papers(packed).papers == read_papers(PAGE).papers
    rss = tmp_path / "feed.xml"
    rss.write_text('<?xml version="1.0"?>\n<rss version="2.0"><channel></channel></rss>\n')
    assert detect_format(rss) is None
    assert detect_format(CORPUS_SAMPLE) == "jsonl"
    assert "unrecognized format" in read_papers(rss).problems[0].message


def test_not_a_feed_is_reported_not_parsed() -> None:
    feed = atom.parse_feed(b"<html><body>503 Service Unavailable</body></html>", "url")
    assert feed.entries == [] and "root element is <html>" in feed.broken.message
    assert "not well-formed" in atom.parse_feed(b"", "url").broken.message


_XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"), max_size=80
)


@settings(max_examples=60, deadline=None)
@given(title=_XML_TEXT, abstract=_XML_TEXT)
def test_any_text_survives_the_feed(title: str, abstract: str) -> None:
    """Whatever a title or abstract holds, escaped into a feed it reads back as the text
    the other formats would make of it, or as a problem naming the empty field."""
    entry = (
        "  <entry>\n    <id>http://arxiv.org/abs/2501.01234v3</id>\n"
        "    <published>2025-01-02T03:04:05Z</published>\n"
        f"    <title>{escape(title)}</title>\n    <summary>{escape(abstract)}</summary>\n  </entry>\n"
    )
    feed = atom.parse_feed(feed_xml([entry], "all:x", 0, 1, 1, "2025-01-03T00:00:00-05:00").encode(), "x")
    [item] = [e.item for e in feed.entries]
    if clean_text(title) and clean_text(abstract):
        assert isinstance(item, Paper)
        assert (item.title, item.abstract, item.version) == (clean_text(title), clean_text(abstract), 3)
    else:
        assert isinstance(item, Problem) and "is empty" in item.message
