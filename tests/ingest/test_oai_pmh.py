"""OAI-PMH ``ListRecords`` pages (metadataPrefix=arXiv), parsed on recorded records
(tests/fixtures/oai/, made by scripts/make-oai-fixtures from real papers), and the
answers that are not records: tokens, deleted records, OAI errors, broken documents."""

from __future__ import annotations

import gzip
from pathlib import Path
from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ingest import oai_pmh
from engine.ingest.sources import detect_format, read_papers
from engine.papers import Paper, Problem, clean_text
from tests.conftest import FIXTURES
from tests.oai_replay import expected_records, page_xml, recorded_records

RECORDS = FIXTURES / "oai" / "records.xml"
REQUEST = {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs"}
WHEN = "2025-03-28T20:00:00Z"


def record_line(text: str, needle: str) -> int:
    """The line of the ``<record>`` that holds ``needle``."""
    lines = text.splitlines()
    hit = next(i for i, line in enumerate(lines) if needle in line)
    return next(i for i in range(hit, -1, -1) if lines[i].strip() == "<record>") + 1


def parse(text: str) -> oai_pmh.Response:
    return oai_pmh.parse_response(text.encode(), "page")


def test_recorded_records_match_an_independent_reading() -> None:
    text = RECORDS.read_text()
    response = oai_pmh.parse_response(text.encode(), str(RECORDS))
    expected = expected_records(recorded_records(RECORDS))
    assert len(response.records) == len(expected) == 36
    assert (response.response_date, response.response_day, response.token) == (
        "2025-04-18T20:00:00Z",
        "2025-04-18",
        None,
    )
    assert response.errors == [] and response.broken is None
    for record, want in zip(response.records, expected, strict=True):
        assert (record.identifier, record.datestamp, record.sets) == (
            want["identifier"],
            want["datestamp"],
            want["sets"],
        )
        assert record.line == record_line(text, want["identifier"] + "<")
        if want["deleted"] or not want.get("title"):
            continue
        paper = record.item
        assert isinstance(paper, Paper) and paper.id == want["id"] == want["identifier"].rsplit(":", 1)[1]
        assert (paper.title, paper.abstract) == (clean_text(want["title"]), clean_text(want["abstract"]))
        assert list(paper.authors) == want["authors"] and list(paper.categories) == want["categories"]
        assert (paper.date, paper.updated) == (want["created"], want["updated"] or want["created"])
        assert " ".join((paper.comment or "").split()) == want["comments"] and paper.version is None
        assert record.extra == {"license": want["license"]}
    papers = response.papers
    assert any(p.updated > p.date for p in papers) and any(p.comment for p in papers)
    assert any(len(p.authors) > 100 for p in papers)  # the cross-listed collaboration paper
    assert {"cs", "physics:astro-ph"} in [set(r.sets) for r in response.records]


def test_deleted_and_malformed_records_are_skipped_and_the_rest_kept() -> None:
    text = RECORDS.read_text()
    response = oai_pmh.parse_response(text.encode(), str(RECORDS))
    expected = expected_records(recorded_records(RECORDS))
    [deleted] = [r for r in response.records if r.deleted]
    assert response.deleted == 1 and deleted.item is None and deleted.sets == ["cs"]
    assert deleted.identifier == next(w["identifier"] for w in expected if w["deleted"])
    [untitled] = [w for w in expected if not w["deleted"] and not w["title"]]
    [problem] = response.problems
    assert problem.source == str(RECORDS) and problem.line == record_line(text, untitled["identifier"] + "<")
    assert problem.message == f"record {untitled['identifier']}: field 'title' is missing"
    result = read_papers(RECORDS)  # what sync's merge reads: the deleted record is no problem
    assert len(result.papers) == 34 and result.problems == [problem]
    assert [p.id for p in result.papers] == [p.id for p in response.papers]


def test_resumption_tokens_with_their_counts() -> None:
    blocks = recorded_records(RECORDS)[:5]
    middle = parse(page_xml(blocks, REQUEST, WHEN, token="6873510|6", cursor=0, complete=12))
    assert (middle.token, middle.cursor, middle.complete_list_size) == ("6873510|6", 0, 12)
    last = parse(page_xml(blocks, REQUEST, WHEN, token="", cursor=10, complete=12))
    assert (last.token, last.cursor, last.complete_list_size) == (None, 10, 12)  # empty token: the last page
    only = parse(page_xml(blocks, REQUEST, WHEN))
    assert only.token is None and len(only.records) == 5


def test_no_records_match_is_an_empty_harvest_and_other_errors_are_named(tmp_path: Path) -> None:
    empty = parse(page_xml([], REQUEST, WHEN, errors=(("noRecordsMatch", "The combination ... empty list."),)))
    assert empty.no_records and empty.error is None and empty.records == []
    path = tmp_path / "empty.xml"
    path.write_bytes(page_xml([], REQUEST, WHEN, errors=(("noRecordsMatch", "empty"),)).encode())
    assert detect_format(path) == "oai-pmh" and read_papers(path).problems == []
    for code in ("badResumptionToken", "badArgument", "cannotDisseminateFormat", "noSetHierarchy"):
        answer = parse(page_xml([], REQUEST, WHEN, errors=((code, f"  the {code}\n message "),)))
        assert answer.error == (code, f"the {code} message") and not answer.no_records
    path.write_bytes(page_xml([], REQUEST, WHEN, errors=(("badArgument", "Illegal set"),)).encode())
    assert [p.message for p in read_papers(path).problems] == [
        "the OAI-PMH server answered with an error: badArgument: Illegal set"
    ]


def test_extra_fields_prefixed_namespaces_and_other_formats() -> None:
    block = recorded_records(RECORDS)[0]
    enriched = block.replace(
        " <license>",
        " <doi>10.1000/xyz123</doi>\n <journal-ref>Phys. Rev. D 76,\n  013009 (2007)</journal-ref>\n"
        " <report-no>ANL-HEP-PR-07-12</report-no>\n <license>",
    )
    [record] = parse(page_xml([enriched], REQUEST, WHEN)).records
    assert record.extra["doi"] == "10.1000/xyz123" and record.extra["journal-ref"] == "Phys. Rev. D 76, 013009 (2007)"
    assert record.extra["report-no"] == "ANL-HEP-PR-07-12" and isinstance(record.item, Paper)
    prefixed = (
        page_xml([block], REQUEST, WHEN)
        .replace('<OAI-PMH xmlns="', '<oai:OAI-PMH xmlns:oai="')
        .replace("</OAI-PMH>", "</oai:OAI-PMH>")
    )
    for tag in ("responseDate", "request", "ListRecords", "record", "header", "identifier", "datestamp", "setSpec"):
        prefixed = prefixed.replace(f"<{tag}", f"<oai:{tag}").replace(f"</{tag}>", f"</oai:{tag}>")
    prefixed = prefixed.replace("<metadata>", "<oai:metadata>").replace("</metadata>", "</oai:metadata>")
    assert parse(prefixed).papers == parse(page_xml([block], REQUEST, WHEN)).papers != []
    dublin_core = block.replace('<arXiv xmlns="http://arxiv.org/OAI/arXiv/"', '<arXiv xmlns="http://example.org/dc/"')
    [item] = [r.item for r in parse(page_xml([dublin_core], REQUEST, WHEN)).records]
    assert isinstance(item, Problem) and "no arXiv metadata" in item.message


def test_doctype_broken_and_foreign_documents_are_refused(tmp_path: Path) -> None:
    external = (
        '<?xml version="1.0"?>\n<!DOCTYPE OAI-PMH [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>&x;</responseDate></OAI-PMH>\n'
    )
    refused = parse(external)
    assert refused.response_date is None and "DOCTYPE" in refused.broken.message and refused.broken.line == 2
    html = parse("<html><body>503 Service Unavailable</body></html>")
    assert "not an OAI-PMH response: the root element is <html>" in html.broken.message
    text = RECORDS.read_text()
    cut = text[: text.index("</record>", text.index("</record>") + 1) + 40]
    path = tmp_path / "cut.xml"
    path.write_text(cut)
    result = read_papers(path)
    assert len(result.papers) == 2 and "not well-formed" in result.problems[0].message
    packed = tmp_path / "records.xml.gz"
    packed.write_bytes(gzip.compress(RECORDS.read_bytes()))
    assert detect_format(packed) == "oai-pmh" and read_papers(packed).papers == read_papers(RECORDS).papers


_XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"), max_size=80
)


@settings(max_examples=40, deadline=None)
@given(title=_XML_TEXT, abstract=_XML_TEXT, keyname=_XML_TEXT)
def test_any_text_survives_a_record(title: str, abstract: str, keyname: str) -> None:
    """Whatever a title, abstract or name holds, escaped into a record it reads back as
    the text the other formats would make of it, or as a problem naming the empty field."""
    record = (
        "<record>\n<header>\n <identifier>oai:arXiv.org:2501.01234</identifier>\n"
        " <datestamp>2025-01-03</datestamp>\n</header>\n<metadata>\n"
        '<arXiv xmlns="http://arxiv.org/OAI/arXiv/">\n <id>2501.01234</id>\n <created>2025-01-02</created>\n'
        f" <authors><author><keyname>{escape(keyname)}</keyname><forenames>A.</forenames></author></authors>\n"
        f" <title>{escape(title)}</title>\n <abstract>{escape(abstract)}</abstract>\n</arXiv>\n</metadata>\n</record>\n"
    )
    [item] = [r.item for r in parse(page_xml([record], REQUEST, WHEN)).records]
    if clean_text(title) and clean_text(abstract):
        assert isinstance(item, Paper) and (item.title, item.abstract) == (clean_text(title), clean_text(abstract))
        assert item.authors == (" ".join(f"A. {keyname}".split()),)
    else:
        assert isinstance(item, Problem) and "is empty" in item.message
