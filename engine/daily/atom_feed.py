"""Atom 1.0 feeds (RFC 4287) of ranked papers, for any feed reader.

The XML is built with :mod:`xml.etree.ElementTree`, so every text and attribute is
escaped by the library. What escaping cannot fix is a character XML 1.0 forbids
outright (most control characters): arXiv abstracts carry one now and then, and a
single one makes a reader reject the whole feed, so :func:`xml_text` drops them from
every string first.

Entries have the shape of a feed answer's items (see :mod:`engine.daily.feed`).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from engine.daily.digest import abs_url, authors_line, one_line, pdf_url, snippet_of, topic_line

ATOM = "http://www.w3.org/2005/Atom"
ARXIV_SCHEME = "http://arxiv.org/schemas/atom"  # the scheme arXiv's own API gives its categories
TOPIC_SCHEME = "urn:paperscope:topic"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"

# XML 1.0 allows tab, newline and CR among the controls; lone surrogates cannot be
# encoded at all, and U+FFFE/U+FFFF are not characters.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

Item = Mapping[str, Any]


def xml_text(value: object) -> str:
    """``value`` as a string XML 1.0 can carry (forbidden characters dropped)."""
    return _NOT_XML.sub("", "" if value is None else str(value))


def rfc3339(value: object) -> str | None:
    """A date ("2026-06-19"), a timestamp ("2026-12-02T15:40:00Z") or a datetime as
    RFC 3339 UTC ("2026-06-19T00:00:00Z"); None when it is none of these."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    # A date or a naive time from a listing is a UTC date: arXiv announces on UTC days.
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_id(paper_id: str) -> str:
    """A permanent IRI per paper: its arXiv page, or a URN for papers that are not arXiv's."""
    return abs_url(paper_id) or f"urn:paperscope:paper:{quote(paper_id, safe='')}"


def _add(parent: ET.Element, name: str, text: object = None, **attributes: object) -> ET.Element:
    element = ET.SubElement(parent, name, {key: xml_text(value) for key, value in attributes.items()})
    if text is not None:
        # Collapsed after the forbidden characters go, so none leaves a double space behind.
        element.text = one_line(xml_text(text))
    return element


def _entry_html(item: Item) -> str:
    """The entry's content as HTML (a string: ElementTree escapes it into the XML)."""
    parts = []
    if item.get("why"):
        parts.append(f"<p><b>Why:</b> {html.escape(one_line(item['why']))}</p>")
    if topic_line(item.get("topic")):
        parts.append(f"<p><b>Topic:</b> {html.escape(topic_line(item.get('topic')))}</p>")
    if snippet_of(item):
        parts.append(f"<p>{html.escape(snippet_of(item))}</p>")
    if authors_line(item.get("authors")):
        parts.append(f"<p><i>{html.escape(authors_line(item.get('authors')))}</i></p>")
    return "".join(parts)


def _add_categories(entry: ET.Element, item: Item) -> None:
    for category in item.get("categories") or ():
        _add(entry, "category", term=one_line(category), scheme=ARXIV_SCHEME)
    topic = item.get("topic") or {}
    # The broad topic gets its own category too, so a reader can gather a whole field.
    for level in (topic, topic.get("parent") or {}):
        if level.get("id") is not None:
            label = {"label": one_line(level["label"])} if level.get("label") else {}
            _add(entry, "category", term=f"topic-{level['id']}", scheme=TOPIC_SCHEME, **label)


def _add_entry(feed: ET.Element, item: Item, feed_updated: str) -> None:
    paper_id = str(item["id"])
    entry = _add(feed, "entry")
    _add(entry, "id", entry_id(paper_id))
    _add(entry, "title", item.get("title") or paper_id)
    published = rfc3339(item.get("date"))
    # RFC 4287 requires updated on every entry: the newest version's date, else the
    # first one's, else the feed's.
    _add(entry, "updated", rfc3339(item.get("updated")) or published or feed_updated)
    if published:
        _add(entry, "published", published)
    authors = item.get("authors") or ()
    for name in [authors] if isinstance(authors, str) else authors:
        _add(_add(entry, "author"), "name", name)
    if abs_url(paper_id):
        _add(entry, "link", rel="alternate", type="text/html", href=abs_url(paper_id))
        _add(entry, "link", rel="related", type="application/pdf", title="pdf", href=pdf_url(paper_id))
    _add_categories(entry, item)
    if item.get("abstract"):
        _add(entry, "summary", item["abstract"], type="text")
    _add(entry, "content", _entry_html(item), type="html")


def _newest(items: list[Item]) -> str | None:
    stamps = [rfc3339(item.get("updated")) or rfc3339(item.get("date")) for item in items]
    return max((stamp for stamp in stamps if stamp), default=None)


def render_atom(
    *,
    title: str,
    feed_id: str,
    self_url: str,
    alternate_url: str,
    items: Iterable[Item],
    updated: str | datetime | None = None,
    subtitle: str | None = None,
) -> bytes:
    """An Atom 1.0 document (UTF-8 bytes) with one entry per item, in the order given.

    The feed's ``updated`` is ``updated`` when given (a date, a timestamp or a datetime),
    else the newest item's date, else now: an unchanged list of papers keeps its stamp,
    so readers do not see a change that is not there.
    """
    items = list(items)
    stamp = rfc3339(updated) or _newest(items) or rfc3339(datetime.now(UTC))
    # Plain tag names under an xmlns attribute: ElementTree's default_namespace option
    # refuses the unqualified attributes (rel, href, term) Atom is written with.
    feed = ET.Element("feed", xmlns=ATOM)
    _add(feed, "id", feed_id)
    _add(feed, "title", title)
    if subtitle:
        _add(feed, "subtitle", subtitle)
    _add(feed, "updated", stamp)
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _add(feed, "link", rel="alternate", type="text/html", href=alternate_url)
    _add(feed, "generator", "paperscope")
    # RFC 4287 wants an author on every entry; the feed's covers entries without authors.
    _add(_add(feed, "author"), "name", "paperscope")
    for item in items:
        _add_entry(feed, item, stamp)
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
