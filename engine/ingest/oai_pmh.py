"""OAI-PMH 2.0 ``ListRecords`` pages in arXiv's own format (``metadataPrefix=arXiv``)
into papers.

A page (``https://oaipmh.arxiv.org/oai?verb=ListRecords&metadataPrefix=arXiv&set=cs``)::

    <OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">
      <responseDate>2026-06-20T01:02:03Z</responseDate>
      <request verb="ListRecords" ...>https://oaipmh.arxiv.org/oai</request>
      <ListRecords>
        <record>
          <header>                       (status="deleted": a withdrawn item, no metadata)
            <identifier>oai:arXiv.org:2503.12141</identifier>
            <datestamp>2025-03-19</datestamp> <setSpec>cs</setSpec>
          </header>
          <metadata>
            <arXiv xmlns="http://arxiv.org/OAI/arXiv/">
              <id>2503.12141</id> <created>2025-03-15</created> <updated>2025-03-18</updated>
              <authors><author><keyname>Rokhva</keyname><forenames>Shayan</forenames></author>..</authors>
              <title>..</title> <categories>cs.CL cs.CV</categories> (the primary first)
              <comments>..</comments> <journal-ref>..</journal-ref> <doi>..</doi>
              <license>..</license> <abstract>..</abstract>
            </arXiv>
          </metadata>
        </record> ..
        <resumptionToken cursor="0" completeListSize="2412">6873510|1001</resumptionToken>
      </ListRecords>
    </OAI-PMH>

The next page is asked for with the token alone; the last page has an empty token (or
none). Errors come as ``<error code="...">message</error>`` instead of ``ListRecords``;
``noRecordsMatch`` is an empty harvest, not a failure. A paper's ``date`` is
``created`` (version 1), ``updated`` the newest version's (``created`` for a v1). The
arXiv format has no version numbers, so ``Paper.version`` stays unset; the DOI,
journal reference, licence and report number are kept on the :class:`Record`
(``extra``), as ``Paper`` has no field for them. Parsing is
:mod:`engine.ingest.xmlstream`'s (expat, no DOCTYPE, a line for every record).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from engine.errors import RecordError
from engine.ingest import xmlstream
from engine.ingest.xmlstream import local_name, qname
from engine.papers import Paper, Problem, make_paper

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
ARXIV_NS = "http://arxiv.org/OAI/arXiv/"
NO_RECORDS = "noRecordsMatch"
_ROOT = qname(OAI_NS, "OAI-PMH")
_LIST = qname(OAI_NS, "ListRecords")
_RECORD = qname(OAI_NS, "record")
_HEADER = qname(OAI_NS, "header")
_METADATA = qname(OAI_NS, "metadata")
_TOKEN = qname(OAI_NS, "resumptionToken")
_ERROR = qname(OAI_NS, "error")
_RESPONSE_DATE = qname(OAI_NS, "responseDate")
_HEADER_FIELDS = {qname(OAI_NS, n): n for n in ("identifier", "datestamp")}
_SET_SPEC = qname(OAI_NS, "setSpec")
_ARXIV = qname(ARXIV_NS, "arXiv")
EXTRA_FIELDS = ("doi", "journal-ref", "license", "report-no")  # kept on the Record, not the Paper
_FIELDS = {qname(ARXIV_NS, n) for n in ("id", "created", "updated", "title", "abstract", "categories", "comments")}
_FIELDS |= {qname(ARXIV_NS, n) for n in EXTRA_FIELDS}
_AUTHOR = qname(ARXIV_NS, "author")
_NAME_PARTS = {qname(ARXIV_NS, n) for n in ("keyname", "forenames", "suffix")}
_ID_PREFIX = "oai:arXiv.org:"
looks_like_oai = xmlstream.root_sniffer("OAI-PMH", OAI_NS)


@dataclass
class Record:
    """One ``<record>``: the paper (or why it is skipped; None when deleted), its line."""

    line: int
    identifier: str
    datestamp: str | None
    sets: list[str]
    item: Paper | Problem | None
    extra: dict[str, str] = field(default_factory=dict)  # doi, journal-ref, license, report-no

    @property
    def deleted(self) -> bool:
        return self.item is None


@dataclass
class Response:
    records: list[Record] = field(default_factory=list)
    response_date: str | None = None
    token: str | None = None  # the next page's resumption token; None on the last page
    complete_list_size: int | None = None
    cursor: int | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)  # (code, message)
    broken: Problem | None = None  # not well-formed XML / not OAI-PMH: where it broke

    @property
    def papers(self) -> list[Paper]:
        return [r.item for r in self.records if isinstance(r.item, Paper)]

    @property
    def problems(self) -> list[Problem]:
        found = [r.item for r in self.records if isinstance(r.item, Problem)]
        return [*found, self.broken] if self.broken else found

    @property
    def deleted(self) -> int:
        return sum(r.deleted for r in self.records)

    @property
    def no_records(self) -> bool:
        """The harvest matched nothing: an empty answer, not a failure."""
        return any(code == NO_RECORDS for code, _ in self.errors)

    @property
    def error(self) -> tuple[str, str] | None:
        """The first error that is a failure (code, message)."""
        return next(((c, m) for c, m in self.errors if c != NO_RECORDS), None)

    @property
    def response_day(self) -> str | None:
        """The day (UTC, ``YYYY-MM-DD``) of ``responseDate``, if it reads as one."""
        try:
            return date.fromisoformat((self.response_date or "")[:10]).isoformat()
        except ValueError:
            return None


def parse_response(data: bytes, source: str) -> Response:
    """A whole response body; records before a syntax error are kept (``broken``)."""
    return xmlstream.parse_bytes(_PageParser(source), data)


def read_oai(path: Path) -> Iterator[Paper | Problem]:
    """Papers from a saved page (plain or gzipped), streamed; deleted records are
    skipped silently, bad ones are problems naming file:line."""
    return xmlstream.stream_file(path, _PageParser(str(path)))


class _PageParser(xmlstream.StreamParser):
    """Builds a :class:`Response`, record by record."""

    root = _ROOT
    what = "an OAI-PMH response"

    def __init__(self, source: str) -> None:
        super().__init__(source, Response())
        self.record: dict | None = None  # the record being read
        self.error_code = ""

    def error_message(self) -> str | None:
        error = self.result.error
        return None if error is None else f"the OAI-PMH server answered with an error: {error[0]}: {error[1]}"

    def start(self, name: str, attrs: dict[str, str], depth: int) -> None:
        record = self.record
        if depth == 2 and name == _RECORD and self.parent() == _LIST:
            self.record = {"line": self.line, "authors": [], "sets": [], "deleted": False, "arxiv": False}
        elif depth == 2 and name == _TOKEN:
            self.result.complete_list_size = _int_or_none(attrs.get("completeListSize"))
            self.result.cursor = _int_or_none(attrs.get("cursor"))
        elif depth == 1 and name == _ERROR:
            self.error_code = attrs.get("code", "").strip() or "unknown"
        elif record is None:
            return
        elif name == _HEADER and depth == 3:
            record["deleted"] = attrs.get("status") == "deleted"
        elif name == _ARXIV and self.parent() == _METADATA:
            record["arxiv"] = True
        elif name == _AUTHOR:
            record["authors"].append({})

    def end(self, name: str, text: str, depth: int) -> None:
        record, parent = self.record, self.parent()
        if depth == 1 and name == _RESPONSE_DATE:
            self.result.response_date = text.strip()
        elif depth == 1 and name == _ERROR:
            self.result.errors.append((self.error_code, " ".join(text.split())))
        elif depth == 2 and name == _TOKEN:
            self.result.token = text.strip() or None
        elif depth == 2 and name == _RECORD and record is not None:
            self._finish(record)
            self.record = None
        elif record is None:
            return
        elif parent == _HEADER and name in _HEADER_FIELDS:
            record.setdefault(_HEADER_FIELDS[name], text.strip())
        elif parent == _HEADER and name == _SET_SPEC:
            record["sets"].append(text.strip())
        elif parent == _ARXIV and name in _FIELDS:
            record.setdefault(local_name(name), text)
        elif parent == _AUTHOR and name in _NAME_PARTS and record["authors"]:
            record["authors"][-1][local_name(name)] = text

    def _finish(self, record: dict) -> None:
        line, identifier = int(record["line"]), str(record.get("identifier") or "")
        item: Paper | Problem | None = None
        if not record["deleted"]:
            try:
                item = _paper(record, identifier, f"{self.source}:{line}")
            except RecordError as exc:
                item = Problem(self.source, line, f"record {identifier or '(no identifier)'}: {exc}")
            self.items.append(item)
        extra = {k: " ".join(record[k].split()) for k in EXTRA_FIELDS if record.get(k, "").strip()}
        self.result.records.append(Record(line, identifier, record.get("datestamp"), record["sets"], item, extra))


def _paper(record: dict, identifier: str, source: str) -> Paper:
    if not record["arxiv"]:
        raise RecordError("no arXiv metadata (the harvest must ask for metadataPrefix=arXiv)")
    raw_id = record.get("id") or (identifier[len(_ID_PREFIX) :] if identifier.startswith(_ID_PREFIX) else None)
    created = _day("created", record.get("created"))
    updated = _day("updated", record["updated"]) if (record.get("updated") or "").strip() else created
    return make_paper(
        raw_id.strip() if isinstance(raw_id, str) else raw_id,
        record.get("title"),
        record.get("abstract"),
        authors=[_author(parts) for parts in record["authors"]],
        categories=(record.get("categories") or "").split(),
        date=created,
        updated=updated,
        comment=record.get("comments"),
        source=source,
    )


def _author(parts: dict[str, str]) -> str:
    """``forenames keyname suffix``, as arXiv writes a name (a collaboration has a keyname only)."""
    return " ".join(" ".join(parts.get(k, "") for k in ("forenames", "keyname", "suffix")).split())


def _day(name: str, value: object) -> str:
    """A ``YYYY-MM-DD`` date, checked."""
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"field '{name}' is missing")
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise RecordError(f"field '{name}' is not a date: {value.strip()[:60]!r}") from None


def _int_or_none(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None
