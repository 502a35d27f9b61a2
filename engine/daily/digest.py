"""The daily digest of a feed answer (see :mod:`engine.daily.feed`), ready to read or mail.

* :func:`render_html`: one self-contained page for an e-mail body: inline ``style=``
  attributes only (mail clients drop ``<style>`` blocks and classes), a table layout
  Gmail and Outlook both render, no script and nothing fetched from elsewhere.
* :func:`render_markdown`: the same content for a notes folder or a static site.
* :func:`render_text`: plain text, the ``text/plain`` part of the mail.
* :func:`write_digest`: one of the first two into a file, chosen by its suffix.

Every string of a feed may hold ``<``, ``&``, quotes, TeX and non-ASCII text: the HTML
escapes all of it, the Markdown escapes what would break its links and emphasis.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.errors import ExportError
from engine.fsutil import write_atomic
from engine.papers import is_arxiv_id
from engine.query import snippets
from engine.text import snippet

Feed = Mapping[str, Any]
Item = Mapping[str, Any]

MAX_AUTHORS = 6  # a long collaboration list would push the abstract out of view
FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}

# --- what every format says -------------------------------------------------------


def one_line(value: object) -> str:
    """A field as one line: abstracts and titles from listings carry newlines and runs of spaces."""
    return " ".join(str(value).split()) if value is not None else ""


def abs_url(paper_id: str) -> str | None:
    """The arXiv abstract page of an arXiv id (None for ids that are not arXiv's)."""
    return f"https://arxiv.org/abs/{quote(paper_id, safe='/')}" if is_arxiv_id(paper_id) else None


def pdf_url(paper_id: str) -> str | None:
    return f"https://arxiv.org/pdf/{quote(paper_id, safe='/')}" if is_arxiv_id(paper_id) else None


def related_url(base_url: str | None, paper_id: str) -> str | None:
    """The paperscope page of papers related to this one, when the digest knows where paperscope is served."""
    if base_url is None:
        return None
    if not re.match(r"https?://[^\s/]", base_url):
        # The URL lands in href attributes: anything but http(s) (javascript:, data:) is refused.
        raise ExportError(f"base_url must be an http:// or https:// address, not {base_url!r}")
    return f"{base_url.rstrip('/')}/?paper={quote(paper_id, safe='')}"


def authors_line(authors: object) -> str:
    names = [one_line(name) for name in authors or ()] if not isinstance(authors, str) else [one_line(authors)]
    shown = ", ".join(names[:MAX_AUTHORS])
    return f"{shown}, et al." if len(names) > MAX_AUTHORS else shown


def topic_line(topic: Mapping[str, Any] | None) -> str:
    """The topic label, after its broad parent when it has one ("galaxies › galaxy mergers")."""
    if not topic or not topic.get("label"):
        return ""
    parent = topic.get("parent") or {}
    label = one_line(topic["label"])
    return f"{one_line(parent['label'])} › {label}" if parent.get("label") else label


def snippet_of(item: Item) -> str:
    """The feed's snippet (its text: the marks are the page's), or the start of the
    abstract cut at a word when the item has none."""
    if item.get("snippet"):
        found = item["snippet"]
        return one_line(found["text"] if isinstance(found, dict) else found)
    return snippet(item.get("abstract"))


def snippet_pieces(item: Item) -> list[tuple[str, bool]]:
    """The snippet as (text, marked) pieces: the words the feed matched (shared with a
    liked paper) are marked. Spans that do not fit the text are ignored."""
    found = item.get("snippet")
    if isinstance(found, dict):
        return snippets.pieces(found)
    text = snippet_of(item)
    return [(text, False)] if text else []


def _spaced(text: str, escape) -> str:
    """``escape(text)`` keeping a space at either end (escapes flatten a piece to one
    trimmed line, and the pieces around a marked word need their spaces)."""
    lead = " " if text[:1].isspace() else ""
    tail = " " if text[-1:].isspace() and text.strip() else ""
    return f"{lead}{escape(text)}{tail}"


def facts_line(item: Item) -> str:
    """Date, primary category and version: what tells a reader how fresh and where from."""
    category = item.get("primary_category") or next(iter(item.get("categories") or ()), None)
    version = item.get("version")
    parts = [item.get("date"), category, f"v{version}" if version and version > 1 else None]
    return " · ".join(one_line(part) for part in parts if part)


def rank_label(item: Item) -> str:
    return f"{one_line(item['rank'])}." if item.get("rank") is not None else ""


def _before(prefix: str, text: str) -> str:
    return f"{prefix} {text}" if prefix else text


def _papers(count: int) -> str:
    return f"{count} new paper" if count == 1 else f"{count} new papers"


def digest_title(feed: Feed) -> str:
    """The digest's title, like "paperscope digest: likes, 12 new papers since 2026-06-15";
    the count is the feed's ``new`` (all papers since the date), of which ``items`` are the
    best ranked."""
    count = feed.get("new", len(feed.get("items") or ()))
    since = f" since {feed['since']}" if feed.get("since") else ""
    return one_line(f"paperscope digest: {feed.get('library', '')}, {_papers(count)}{since}")


def summary_line(feed: Feed) -> str:
    items = feed.get("items") or ()
    parts = [f"top {len(items)}" if items else None]
    parts.append(f"{feed['unread']} unread" if feed.get("unread") is not None else None)
    parts.append(f"ranked by {feed['method']}" if feed.get("method") else None)
    parts.append(f"newest {feed['newest']}" if feed.get("newest") else None)
    return one_line(" · ".join(part for part in parts if part))


def empty_message(feed: Feed) -> str:
    since = f" since {feed['since']}" if feed.get("since") else ""
    message = f"No new papers for {feed.get('library', '')}{since}."
    if feed.get("new"):
        # Papers did arrive, but all were read already: say so, or the title's count looks wrong.
        message = f"No unread papers for {feed.get('library', '')}{since}: all {feed['new']} new ones are read."
    return one_line(message)


# --- HTML ---------------------------------------------------------------------------

_FONT = "font-family:Arial,Helvetica,sans-serif;"
_PAGE = "margin:0;padding:0;background-color:#f3f3f3;"
_PREHEADER = "display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;mso-hide:all;font-size:1px;line-height:1px;color:#f3f3f3;"
_SHEET = f"width:100%;max-width:640px;background-color:#ffffff;{_FONT}color:#222222;"
_HEAD = "padding:20px 24px 12px 24px;border-bottom:2px solid #b31b1b;"
_H1 = f"margin:0;{_FONT}font-size:20px;line-height:26px;color:#222222;"
_SMALL = f"margin:4px 0 0 0;{_FONT}font-size:13px;line-height:18px;color:#666666;"
_CELL = "padding:16px 24px;border-bottom:1px solid #e5e5e5;"
_TITLE = f"margin:0;{_FONT}font-size:16px;line-height:22px;font-weight:bold;color:#222222;"
_TITLE_LINK = "color:#1a4f9c;text-decoration:none;"
_TEXT = f"margin:6px 0 0 0;{_FONT}font-size:14px;line-height:20px;color:#333333;"
_WHY = f"margin:6px 0 0 0;{_FONT}font-size:13px;line-height:18px;color:#555555;font-style:italic;"
_LINK = "color:#1a4f9c;"


def _e(value: object) -> str:
    return html.escape(one_line(value), quote=True)


def _a(href: str, text: str, style: str = _LINK) -> str:
    return f'<a href="{html.escape(href, quote=True)}" style="{style}">{text}</a>'


def _html_links(item: Item, base_url: str | None) -> str:
    paper_id = str(item["id"])
    targets = [
        ("abs", abs_url(paper_id)),
        ("PDF", pdf_url(paper_id)),
        ("related papers", related_url(base_url, paper_id)),
    ]
    return " · ".join(_a(url, name) for name, url in targets if url)


def _html_item(item: Item, base_url: str | None) -> str:
    paper_id = str(item["id"])
    title = _e(item.get("title") or paper_id)
    link = abs_url(paper_id)
    heading = _a(link, title, _TITLE_LINK) if link else title
    lines = [f'<p style="{_TITLE}">{_before(_e(rank_label(item)), heading)}</p>']
    lines.append(f'<p style="{_SMALL}">{_e(authors_line(item.get("authors")))}</p>')
    facts = facts_line(item)
    topic = topic_line(item.get("topic"))
    if topic:
        facts = f"{facts} · topic: {topic}" if facts else f"topic: {topic}"
    if facts:
        lines.append(f'<p style="{_SMALL}">{_e(facts)}</p>')
    if snippet_of(item):
        text = "".join(f"<b>{_e(t)}</b>" if marked else html.escape(t, quote=True) for t, marked in snippet_pieces(item))
        lines.append(f'<p style="{_TEXT}">{text}</p>')
    if item.get("why"):
        lines.append(f'<p style="{_WHY}">Why: {_e(item["why"])}</p>')
    links = _html_links(item, base_url)
    if links:
        lines.append(f'<p style="{_SMALL}">{links}</p>')
    return f'<tr><td style="{_CELL}">{"".join(lines)}</td></tr>'


def _preheader(feed: Feed) -> str:
    """The line mail clients show beside the subject in the inbox list."""
    items = feed.get("items") or ()
    if not items:
        return empty_message(feed)
    first = one_line(items[0].get("title") or items[0].get("id"))
    return f"{_papers(feed.get('new', len(items)))} · first: {first}"


def render_html(feed: Feed, base_url: str | None = None) -> str:
    """The digest as one self-contained HTML document for an e-mail body (see the module doc)."""
    title = digest_title(feed)
    items = feed.get("items") or ()
    rows = [_html_item(item, base_url) for item in items]
    if not rows:
        rows = [f'<tr><td style="{_CELL}"><p style="{_TEXT}">{_e(empty_message(feed))}</p></td></tr>']
    footer = "Made by paperscope" + (f" at {one_line(feed['generated'])}" if feed.get("generated") else "") + "."
    rows.append(f'<tr><td style="padding:12px 24px;"><p style="{_SMALL}">{_e(footer)}</p></td></tr>')
    body = "\n".join(rows)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
</head>
<body style="{_PAGE}">
<div style="{_PREHEADER}">{_e(_preheader(feed))}</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="{_PAGE}">
<tr><td align="center" style="padding:16px 8px;">
<table role="presentation" width="640" cellpadding="0" cellspacing="0" border="0" style="{_SHEET}">
<tr><td style="{_HEAD}"><h1 style="{_H1}">{_e(title)}</h1><p style="{_SMALL}">{_e(summary_line(feed))}</p></td></tr>
{body}
</table>
</td></tr>
</table>
</body>
</html>
"""


# --- Markdown -----------------------------------------------------------------------

_MATHS = re.compile(r"(\$[^$]*\$)")
# Outside maths: brackets would end a link's text, * and _ start emphasis, < starts raw
# HTML (which renderers pass through), ` a code span, and \ escapes whatever follows.
_MARKDOWN_SPECIAL = re.compile(r"([\\\[\]*_<`])")


def escape_markdown(text: object) -> str:
    """``text`` on one line with Markdown's specials escaped, TeX maths (``$...$``) left as written."""
    pieces = _MATHS.split(one_line(text))
    # split() with a group puts the maths at the odd positions.
    return "".join(piece if index % 2 else _MARKDOWN_SPECIAL.sub(r"\\\1", piece) for index, piece in enumerate(pieces))


def _markdown_item(item: Item, base_url: str | None) -> list[str]:
    paper_id = str(item["id"])
    title = escape_markdown(item.get("title") or paper_id)
    link = abs_url(paper_id)
    lines = [f"## {_before(escape_markdown(rank_label(item)), f'[{title}]({link})' if link else title)}", ""]
    facts = [authors_line(item.get("authors")), facts_line(item), topic_line(item.get("topic"))]
    facts[2] = f"topic: {facts[2]}" if facts[2] else ""
    if any(facts):
        lines += [escape_markdown(" · ".join(part for part in facts if part)), ""]
    if snippet_of(item):
        text = "".join(f"**{escape_markdown(t)}**" if marked else _spaced(t, escape_markdown) for t, marked in snippet_pieces(item))
        lines += [f"> {text}", ""]
    if item.get("why"):
        lines += [f"*Why:* {escape_markdown(item['why'])}", ""]
    targets = [("abs", link), ("PDF", pdf_url(paper_id)), ("related papers", related_url(base_url, paper_id))]
    links = " · ".join(f"[{name}]({url})" for name, url in targets if url)
    if links:
        lines += [links, ""]
    return lines


def render_markdown(feed: Feed, base_url: str | None = None) -> str:
    """The digest in Markdown: the same content as :func:`render_html`."""
    lines = [f"# {escape_markdown(digest_title(feed))}", ""]
    if summary_line(feed):
        lines += [escape_markdown(summary_line(feed)), ""]
    items = feed.get("items") or ()
    for item in items:
        lines += _markdown_item(item, base_url)
    if not items:
        lines += [escape_markdown(empty_message(feed)), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


# --- plain text ---------------------------------------------------------------------

_WIDTH = 76  # fits a mail client's plain-text view without its own re-wrapping


def _wrapped(text: str, indent: str = "   ") -> list[str]:
    return textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)


def _text_item(item: Item) -> list[str]:
    paper_id = str(item["id"])
    heading = _before(rank_label(item), one_line(item.get("title") or paper_id))
    lines = textwrap.wrap(heading, _WIDTH, subsequent_indent="   ", break_on_hyphens=False)
    topic = topic_line(item.get("topic"))
    for line in (authors_line(item.get("authors")), facts_line(item), f"topic: {topic}" if topic else ""):
        lines += _wrapped(line)
    if snippet_of(item):
        lines += ["", *_wrapped(snippet_of(item))]
    if item.get("why"):
        lines += _wrapped(f"Why: {one_line(item['why'])}")
    lines += [f"   {url}" for url in (abs_url(paper_id), pdf_url(paper_id)) if url]
    return [*lines, ""]


def render_text(feed: Feed) -> str:
    """The digest as plain text (the ``text/plain`` alternative of the mail)."""
    title = digest_title(feed)
    lines = [title, "=" * min(len(title), _WIDTH)]
    if summary_line(feed):
        lines.append(summary_line(feed))
    lines.append("")
    items = feed.get("items") or ()
    for item in items:
        lines += _text_item(item)
    if not items:
        lines.append(empty_message(feed))
    return "\n".join(lines).rstrip("\n") + "\n"


# --- files --------------------------------------------------------------------------


def write_digest(feed: Feed, path: str | Path, base_url: str | None = None) -> str:
    """Write the digest to ``path`` in the format its suffix names (``.html``/``.htm`` or
    ``.md``/``.markdown``), atomically; returns the format ("html" or "markdown")."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(FORMATS)
        raise ExportError(f"{path}: cannot tell the digest format from the suffix {path.suffix!r}; use one of {known}")
    text = render_html(feed, base_url) if kind == "html" else render_markdown(feed, base_url)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text.encode("utf-8"))
    except OSError as error:
        raise ExportError(f"{path}: cannot write the digest: {error.strerror or error}") from error
    return kind
