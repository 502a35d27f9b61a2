"""A real HTTP server on loopback that answers like arXiv's OAI-PMH interface from
recorded records (tests/fixtures/oai/, made by scripts/make-oai-fixtures).

It answers ``ListRecords`` as ``https://oaipmh.arxiv.org/oai`` does: records of a set
(``cs`` holds every record with a ``cs`` setSpec, ``physics`` every ``physics:...``)
whose datestamp lies in ``[from, until]``, ``page_size`` per page, each page but the
last with a resumption token (``SERIAL|NEXT``, arXiv's shape) that alone asks for the
next page, the last page with an empty token; OAI errors as ``<error code>``
(noRecordsMatch, badResumptionToken, badArgument, badVerb, cannotDisseminateFormat).
The server, its request log with arrival times and its faults (5xx, 503 with
``Retry-After``, a dropped connection, a slow answer, no answer) are
``tests.arxiv_replay``'s; its own fault is ``("oai-error", code, message)``.

``page_xml`` is also what ``scripts/make-oai-fixtures`` renders the recorded records with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import ClassVar
from xml.dom import minidom
from xml.sax.saxutils import escape, quoteattr

from tests.arxiv_replay import SERVE, FaultyServer, Outcome

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
ARXIV_NS = "http://arxiv.org/OAI/arXiv/"
BASE_URL = "https://oaipmh.arxiv.org/oai"
_RECORD = re.compile(r"^<record>\n.*?^</record>\n", re.DOTALL | re.MULTILINE)
_DATESTAMP = re.compile(r"<datestamp>([^<]*)</datestamp>")
_SET_SPEC = re.compile(r"<setSpec>([^<]*)</setSpec>")


def page_xml(
    records: list[str],
    request: dict[str, str],
    response_date: str,
    *,
    base_url: str = BASE_URL,
    token: str | None = None,
    cursor: int = 0,
    complete: int | None = None,
    errors: tuple[tuple[str, str], ...] = (),
) -> str:
    """A whole OAI-PMH response around rendered ``<record>`` blocks (or errors). ``token``
    None: no ``<resumptionToken>`` (a one-page list); "": the empty one of a last page."""
    attrs = "".join(f" {name}={quoteattr(value)}" for name, value in request.items())
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{OAI_NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n'
        f"<responseDate>{response_date}</responseDate>\n"
        f"<request{attrs}>{escape(base_url)}</request>\n"
    )
    if errors:
        return head + "".join(f"<error code={quoteattr(c)}>{escape(m)}</error>\n" for c, m in errors) + "</OAI-PMH>\n"
    tail = ""
    if token is not None:
        size = f' completeListSize="{complete if complete is not None else len(records)}"'
        tail = f'<resumptionToken cursor="{cursor}"{size}>{escape(token)}</resumptionToken>\n'
    return head + "<ListRecords>\n" + "".join(records) + tail + "</ListRecords>\n</OAI-PMH>\n"


def recorded_records(path: Path) -> list[str]:
    """The ``<record>`` blocks of a recorded response, in order."""
    return _RECORD.findall(path.read_text(encoding="utf-8"))


def datestamp(record: str) -> str:
    return _DATESTAMP.search(record).group(1)


def in_set(record: str, set_spec: str | None) -> bool:
    """A record is in a set if one of its setSpecs is the set or below it."""
    specs = _SET_SPEC.findall(record)
    return set_spec is None or any(s == set_spec or s.startswith(set_spec + ":") for s in specs)


def expected_records(records: list[str]) -> list[dict]:
    """What each recorded record says, read with minidom (an oracle independent of
    engine.ingest.oai_pmh)."""
    out = []
    for block in records:
        doc = minidom.parseString(block)
        header = doc.getElementsByTagName("header")[0]
        record = {
            "identifier": _text(header, "identifier"),
            "datestamp": _text(header, "datestamp"),
            "sets": [_text(s) for s in header.getElementsByTagName("setSpec")],
            "deleted": header.getAttribute("status") == "deleted",
        }
        for meta in doc.getElementsByTagName("arXiv"):
            record.update({name.replace("-", "_"): _text(meta, name) for name in _ARXIV_FIELDS})
            record["categories"] = record["categories"].split()
            record["authors"] = [
                " ".join(_text(a, part) for part in ("forenames", "keyname", "suffix") if _text(a, part))
                for a in meta.getElementsByTagName("author")
            ]
        out.append(record)
    return out


_ARXIV_FIELDS = ("id", "created", "updated", "title", "abstract", "categories", "comments")
_ARXIV_FIELDS += ("doi", "journal-ref", "license")


def _text(node, tag: str | None = None) -> str:
    if tag is not None:
        found = node.getElementsByTagName(tag)
        if not found:
            return ""
        node = found[0]
    return " ".join("".join(c.data for c in node.childNodes if c.nodeType == c.TEXT_NODE).split())


@dataclass
class OaiReplay(FaultyServer):
    """The OAI-PMH interface's state; tests change ``records``, ``today`` and the faults
    between harvests, and ``expire_tokens()`` forgets every token issued."""

    path: ClassVar[str] = "/oai"
    content_type: ClassVar[str] = "text/xml; charset=utf-8"
    records: list[str]
    page_size: int = 5
    today: str = "2025-03-28"  # the day of responseDate
    failing_pages: dict[int, tuple] = field(default_factory=dict)  # every request for that page (0: the first)
    tokens: dict[str, tuple] = field(default_factory=dict)  # token -> (set, from, until, cursor, serial)
    serial: int = 6873500

    def tokens_asked(self, since: int = 0) -> list[str | None]:
        """The resumption token of each request (None: a first page)."""
        return [r.params.get("resumptionToken") for r in self.log[since:]]

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def answer(self, params: dict[str, str]) -> Outcome:
        harvest = self._harvest(params)
        page = harvest[3] // self.page_size if isinstance(harvest, tuple) else None
        fault = self.next_fault(self.failing_pages.get(page) if page is not None else None)
        if fault is not None:
            done = self.common_fault(fault)
            if done is NotImplemented and fault[0] == "oai-error":
                return 200, {}, self._error(params, fault[1], fault[2])
            if done is not SERVE:
                return done
        if not isinstance(harvest, tuple):
            return 200, {}, harvest
        return 200, {}, self._page(params, *harvest)

    def _harvest(self, params: dict[str, str]) -> tuple | bytes:
        """(set, from, until, cursor, serial) of the list asked for, or an error page."""
        if params.get("verb") != "ListRecords":
            return self._error(params, "badVerb", "Illegal verb")
        token = params.get("resumptionToken")
        if token is not None:
            if set(params) != {"verb", "resumptionToken"}:
                return self._error(params, "badArgument", "resumptionToken is an exclusive argument")
            found = self.tokens.get(token)
            return found or self._error(params, "badResumptionToken", f"Invalid or expired resumptionToken {token}")
        if params.get("metadataPrefix") != "arXiv":
            return self._error(params, "cannotDisseminateFormat", "Unknown metadataPrefix")
        for name in ("from", "until"):
            try:
                if name in params:
                    date.fromisoformat(params[name])
            except ValueError:
                return self._error(params, "badArgument", f"Illegal date format for {name}: {params[name]}")
        self.serial += 1
        return params.get("set"), params.get("from", ""), params.get("until", "9999"), 0, self.serial

    def _page(self, params: dict[str, str], set_spec, since, until, cursor, serial) -> bytes:
        matched = [r for r in self.records if in_set(r, set_spec) and since <= datestamp(r) <= until]
        if not matched:
            return self._error(
                params, "noRecordsMatch", "The combination of the values of the arguments results in an empty list."
            )
        chunk = matched[cursor : cursor + self.page_size]
        following = cursor + len(chunk)
        token = None if following >= len(matched) and cursor == 0 else ""
        if following < len(matched):
            token = f"{serial}|{following + 1}"
            self.tokens[token] = (set_spec, since, until, following, serial)
        text = page_xml(
            chunk, params, self._date(), base_url=self.url, token=token, cursor=cursor, complete=len(matched)
        )
        return text.encode("utf-8")

    def _error(self, params: dict[str, str], code: str, message: str) -> bytes:
        return page_xml([], params, self._date(), base_url=self.url, errors=((code, message),)).encode("utf-8")

    def _date(self) -> str:
        return f"{self.today}T20:00:00Z"
