"""Exports as BibTeX, CSL-JSON and CSV, each read back by a real parser (bibtexparser,
json, csv): a full paper answer, a library entry with only an id and a title, old-style
and non-arXiv ids, names with particles, a title built to break BibTeX and LaTeX, a
title built to run as a spreadsheet formula, and 300 real arXiv papers."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re

import bibtexparser
import pytest
from bibtexparser.customization import splitname

from engine.daily.exports import (
    CSV_HEADER,
    FORMATS,
    bibtex_name,
    check_format,
    citation_key,
    csl_name,
    format_for_path,
    latex_value,
    render,
    split_name,
    to_bibtex,
    to_csl_json,
    to_csv,
    unique_keys,
)
from engine.errors import ExportError
from tests.conftest import CORPUS_SAMPLE

PAPER = {
    "id": "2506.01234",
    "title": "Analytical Engines for BERT-style Language Models",
    "abstract": "We compute Bernoulli numbers with 100% accuracy & no errors.",
    "authors": ["Ada Lovelace", "Jan van der Berg", "Charles Babbage"],
    "date": "2026-06-15",
    "updated": "2026-06-20",
    "version": 2,
    "categories": ["cs.CL", "cs.LG"],
    "primary_category": "cs.CL",
    "comment": "12 pages",
    "topic": {"id": 3, "label": "speech recognition", "parent": {"id": 1, "label": "speech"}},
}
LIBRARY_ENTRY = {"id": "2505.04321", "title": "A Paper That Left the Index"}
OLD_STYLE = {"id": "hep-th/9901001", "title": "Strings", "authors": ["Edward Witten"], "date": "1999-01-04"}
NOT_ARXIV = {
    "id": "W2741809807",
    "title": "A Work from Another Corpus",
    "authors": ["Grace Hopper"],
    "date": "2020-01-01",
}
HOSTILE_TITLE = "50% of {R&D} #1 with a_b and $x_{i}$ and unbalanced } brace"


def parse_bibtex(text: str) -> list[dict]:
    """The entries bibtexparser reads (it lower-cases field names: archiveprefix)."""
    return bibtexparser.loads(text).entries


def maths_of(text: str) -> list[str]:
    return re.findall(r"\$[^$]+\$", text)


def assert_latex_safe(value: str) -> None:
    """What BibTeX and LaTeX need of a field value: braces balanced at every point (BibTeX
    counts escaped ones too), ``& % #`` escaped everywhere, ``_ ^`` escaped outside maths,
    maths delimiters paired, no trailing backslash."""
    depth = 0
    for char in value:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0, value
    assert depth == 0, value
    assert not re.search(r"(?<!\\)[&%#]", value), value
    outside = re.sub(r"(?<!\\)\$[^$]*(?<!\\)\$|\\\(.*?\\\)", "", value)
    assert not re.search(r"(?<!\\)(?:\$|_|\^(?!\{\}))", outside.replace(r"\^{}", "")), value
    assert not value.endswith("\\"), value


# ---- formats


def test_formats_and_their_names() -> None:
    assert FORMATS["bibtex"] == (".bib", "application/x-bibtex; charset=utf-8")
    assert FORMATS["csl-json"][0] == ".json" and FORMATS["csv"][0] == ".csv"
    assert [check_format(name) for name in ("bibtex", "CSL-JSON", " csv ")] == ["bibtex", "csl-json", "csv"]
    with pytest.raises(ExportError, match=r"'ris'.*bibtex, csl-json, csv"):
        check_format("ris")
    with pytest.raises(ExportError):
        check_format(None)


def test_format_for_path_goes_by_the_suffix() -> None:
    assert format_for_path("refs.bib") == format_for_path("/tmp/Refs.BIBTEX") == "bibtex"
    assert format_for_path("papers.json") == "csl-json"
    assert format_for_path("papers.csv") == "csv"
    with pytest.raises(ExportError, match=r"papers\.xlsx"):
        format_for_path("papers.xlsx")
    with pytest.raises(ExportError, match="README"):
        format_for_path("README")


def test_render_dispatches_and_takes_any_iterable() -> None:
    records = [PAPER, OLD_STYLE]
    assert render("bibtex", iter(records)) == to_bibtex(records)
    assert render("csl-json", records) == to_csl_json(records)
    assert render("CSV", (r for r in records)) == to_csv(records)
    with pytest.raises(ExportError):
        render("xml", records)
    assert parse_bibtex(render("bibtex", [])) == []
    assert json.loads(render("csl-json", [])) == []
    assert render("csv", []).splitlines() == [",".join(CSV_HEADER)]


# ---- BibTeX


def test_bibtex_entry_of_a_full_paper() -> None:
    [entry] = parse_bibtex(to_bibtex([PAPER]))
    assert entry["ENTRYTYPE"] == "misc"
    assert entry["ID"] == "lovelace2026analytical"
    assert entry["title"] == "Analytical Engines for {BERT-style} Language Models"
    assert entry["author"] == "Lovelace, Ada and van der Berg, Jan and Babbage, Charles"
    assert entry["year"] == "2026" and entry["month"] == "June"  # the jun macro, resolved
    assert entry["eprint"] == "2506.01234"
    assert entry["archiveprefix"] == "arXiv"
    assert entry["primaryclass"] == "cs.CL"
    assert entry["url"] == "https://arxiv.org/abs/2506.01234"
    assert entry["doi"] == "10.48550/arXiv.2506.01234"
    assert entry["abstract"] == r"We compute Bernoulli numbers with 100\% accuracy \& no errors."
    assert entry["keywords"] == "speech recognition"
    assert "month = jun," in to_bibtex([PAPER])


def test_a_hostile_title_still_parses_and_keeps_its_maths() -> None:
    hostile = {**PAPER, "title": HOSTILE_TITLE, "abstract": "Costs $5 } or {more; see a_b^2 \\"}
    entries = parse_bibtex(to_bibtex([hostile, OLD_STYLE]))
    assert [e["eprint"] for e in entries] == ["2506.01234", "hep-th/9901001"]  # the next entry is intact
    title, abstract = entries[0]["title"], entries[0]["abstract"]
    assert "$x_{i}$" in title
    assert r"50\% of {R\&D} \#1 with a\_b" in title
    assert r"\textbraceright{}" in title  # the stray brace is still shown, not lost
    assert_latex_safe(title)
    assert_latex_safe(abstract)
    assert entries[0]["author"].startswith("Lovelace, Ada")


@pytest.mark.parametrize(
    "text",
    [
        HOSTILE_TITLE,
        "}{ starts closed and ends open {",
        r"escaped \{ alone and \} alone",
        "$a}$ maths with a stray brace, $$b{$$ and \\(c}\\)",
        "a lone $ dollar",
        "ends with a backslash \\",
        "{\\em a group around $x$} 100% #1",
        "x^2 outside maths, $x^2$ inside, ~ and \\LaTeX",
    ],
)
def test_latex_values_are_always_safe(text: str) -> None:
    for protect_case in (False, True):
        value = latex_value(text, protect_case=protect_case)
        assert_latex_safe(value)
        [entry] = parse_bibtex(f"@misc{{k,\n  title = {{{value}}}\n}}\n")
        assert entry["title"] == value


def test_the_safety_check_can_fail() -> None:
    for unsafe in [HOSTILE_TITLE, "a } b {", "100%", "a_b", "$x", "ends \\", r"\{ counted"]:
        with pytest.raises(AssertionError):
            assert_latex_safe(unsafe)
    assert_latex_safe(r"$a_b$ and \_ and \^{} and {$x^{2}$}")


def test_titles_protect_acronyms_and_maths_but_not_every_word() -> None:
    value = latex_value(r"BERT and GPT-4 on $\Lambda$CDM: \LaTeX{} Tools for X-ray iPhone Data", protect_case=True)
    assert value == r"{BERT} and {GPT-4} on {$\Lambda$}{CDM}: \LaTeX{} Tools for X-ray {iPhone} Data"
    assert latex_value("BERT and $x$") == "BERT and $x$"  # other fields keep their case alone
    assert latex_value(r"\'Ecole {NASA}", protect_case=True) == r"\'Ecole {NASA}"  # no braces after an accent
    assert latex_value("Ünïcödé → stays", protect_case=True) == "Ünïcödé → stays"
    assert latex_value("two\nlines  and   spaces") == "two lines and spaces"


@pytest.mark.parametrize(
    ("name", "bibtex", "csl"),
    [
        ("Ada Lovelace", "Lovelace, Ada", {"family": "Lovelace", "given": "Ada"}),
        (
            "Jan van der Berg",
            "van der Berg, Jan",
            {"family": "Berg", "given": "Jan", "non-dropping-particle": "van der"},
        ),
        (
            "van der Berg, Jan",
            "van der Berg, Jan",
            {"family": "Berg", "given": "Jan", "non-dropping-particle": "van der"},
        ),
        (
            "Luis de la Fuente",
            "de la Fuente, Luis",
            {"family": "Fuente", "given": "Luis", "non-dropping-particle": "de la"},
        ),
        (
            "Ludwig von Mises",
            "von Mises, Ludwig",
            {"family": "Mises", "given": "Ludwig", "non-dropping-particle": "von"},
        ),
        ("A. Da Silva", "Da Silva, A.", {"family": "Da Silva", "given": "A."}),
        ("T. Matamoro Zatarain", "Matamoro Zatarain, T.", {"family": "Matamoro Zatarain", "given": "T."}),
        ("J.-P. Kneib", "Kneib, J.-P.", {"family": "Kneib", "given": "J.-P."}),
        ("Bianca M. Poggianti", "Poggianti, Bianca M.", {"family": "Poggianti", "given": "Bianca M."}),
        ("J. W. Davidson Jr.", "Davidson, Jr., J. W.", {"family": "Davidson", "given": "J. W.", "suffix": "Jr."}),
        ("Lovelace, Ada", "Lovelace, Ada", {"family": "Lovelace", "given": "Ada"}),
        ("Plato", "Plato", {"family": "Plato"}),
        ("Euclid Collaboration", "{Euclid Collaboration}", {"literal": "Euclid Collaboration"}),
        ("Smith and Jones Group", "{Smith and Jones Group}", {"literal": "Smith and Jones Group"}),
    ],
)
def test_author_names(name: str, bibtex: str, csl: dict) -> None:
    assert bibtex_name(name) == bibtex
    assert csl_name(name) == csl
    if not bibtex.startswith("{"):  # BibTeX itself reads the parts we meant
        parts = splitname(bibtex)
        assert " ".join(parts["last"]) == csl["family"]
        assert " ".join(parts["von"]) == csl.get("non-dropping-particle", "")
        assert " ".join(parts["first"]) == csl.get("given", "")


def test_names_in_an_author_list_are_not_split_by_and() -> None:
    [entry] = parse_bibtex(
        to_bibtex([{**PAPER, "authors": ["LIGO Scientific Collaboration and Virgo", "Ada Lovelace"]}])
    )
    assert entry["author"] == "{LIGO Scientific Collaboration and Virgo} and Lovelace, Ada"
    assert split_name("  Ada   Lovelace ").family == "Lovelace"


def test_a_library_entry_with_only_an_id_and_a_title() -> None:
    [entry] = parse_bibtex(to_bibtex([LIBRARY_ENTRY]))
    assert entry["ID"] == "anon2025paper"  # no author; the year and month come from the id
    assert entry["title"] == "A Paper That Left the Index"
    assert (entry["year"], entry["month"]) == ("2025", "May")
    assert entry["eprint"] == "2505.04321" and entry["archiveprefix"] == "arXiv"
    assert "primaryclass" not in entry and "author" not in entry and "abstract" not in entry
    bare = parse_bibtex(to_bibtex([{"id": "W2741809807"}]))  # an entry needs a field: the id stands in
    assert bare == [{"ENTRYTYPE": "misc", "ID": "anon", "title": "W2741809807"}]


def test_an_old_style_id() -> None:
    [entry] = parse_bibtex(to_bibtex([OLD_STYLE]))
    assert entry["ID"] == "witten1999strings"
    assert entry["eprint"] == "hep-th/9901001"
    assert entry["url"] == "https://arxiv.org/abs/hep-th/9901001"
    assert entry["doi"] == "10.48550/arXiv.hep-th/9901001"
    no_date = parse_bibtex(to_bibtex([{"id": "math.GT/0309136v2", "title": "Knots"}]))[0]
    assert (no_date["year"], no_date["month"], no_date["eprint"]) == ("2003", "September", "math.GT/0309136")


def test_a_non_arxiv_id_gets_a_plain_valid_entry() -> None:
    [entry] = parse_bibtex(to_bibtex([{**NOT_ARXIV, "categories": ["cs.CL"], "primary_category": "cs.CL"}]))
    assert entry["ID"] == "hopper2020work"
    assert entry["title"] == "A Work from Another Corpus" and entry["year"] == "2020"
    assert not {"eprint", "archiveprefix", "primaryclass", "url", "doi"} & set(entry)


def test_keys_are_unique_within_one_export() -> None:
    entries = parse_bibtex(to_bibtex([PAPER, PAPER, {**PAPER, "id": "2506.09999"}]))
    assert [e["ID"] for e in entries] == [
        "lovelace2026analytical",
        "lovelace2026analyticala",
        "lovelace2026analyticalb",
    ]
    # A suffixed key never takes another record's own key.
    assert unique_keys(["smith2026x", "smith2026x", "smith2026xa"]) == ["smith2026x", "smith2026xb", "smith2026xa"]


def test_keys_fold_names_to_ascii_letters_and_skip_small_title_words() -> None:
    record = {"id": "2506.01234", "date": "2026-01-02", "title": "The Ångström-scale $\\Lambda$ model"}
    assert citation_key({**record, "authors": ["Łukasz Müller-Schmidt"]}) == "mullerschmidt2026angstrom"
    assert citation_key({**record, "authors": ["Jan van der Berg"]}) == "berg2026angstrom"
    assert citation_key({**record, "authors": ["The ATLAS Collaboration"]}) == "atlas2026angstrom"
    assert citation_key({**record, "authors": ["李华"], "title": "On X-ray Jets"}) == "anon2026ray"


# ---- CSL-JSON


def no_nulls(value: object) -> bool:
    if isinstance(value, dict):
        return all(v is not None and no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(v is not None and no_nulls(v) for v in value)
    return True


def test_csl_json_of_a_full_paper() -> None:
    [item] = json.loads(to_csl_json([PAPER]))
    assert item["id"] == "2506.01234" and item["type"] == "article"
    assert item["title"] == PAPER["title"]
    assert item["author"][:2] == [
        {"family": "Lovelace", "given": "Ada"},
        {"family": "Berg", "given": "Jan", "non-dropping-particle": "van der"},
    ]
    assert item["issued"] == {"date-parts": [[2026, 6, 15]]}
    assert item["abstract"] == PAPER["abstract"]  # JSON needs no TeX escapes
    assert item["URL"] == "https://arxiv.org/abs/2506.01234"
    assert item["DOI"] == "10.48550/arXiv.2506.01234"
    assert (item["number"], item["publisher"], item["genre"]) == ("arXiv:2506.01234", "arXiv", "Preprint")
    assert item["keyword"] == "speech recognition" and item["version"] == "2"


def test_csl_json_leaves_absent_fields_out() -> None:
    items = json.loads(to_csl_json([LIBRARY_ENTRY, OLD_STYLE, NOT_ARXIV, {"id": "x", "title": None, "authors": None}]))
    assert no_nulls(items)
    assert items[0] == {
        "id": "2505.04321",
        "type": "article",
        "title": "A Paper That Left the Index",
        "issued": {"date-parts": [[2025, 5]]},
        "URL": "https://arxiv.org/abs/2505.04321",
        "DOI": "10.48550/arXiv.2505.04321",
        "number": "arXiv:2505.04321",
        "publisher": "arXiv",
        "genre": "Preprint",
    }
    assert items[1]["issued"] == {"date-parts": [[1999, 1, 4]]} and items[1]["number"] == "arXiv:hep-th/9901001"
    assert not {"URL", "DOI", "number", "publisher", "genre"} & set(items[2])
    assert items[3] == {"id": "x", "type": "article"}


# ---- CSV


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_reads_back_as_the_input_fields() -> None:
    tricky = {**PAPER, "title": 'Commas, "quotes"\nand a newline', "abstract": "a,b\r\nc"}
    [row, bare] = read_csv(to_csv([tricky, LIBRARY_ENTRY]))
    assert list(row) == list(CSV_HEADER)
    assert row == {
        "id": "2506.01234",
        "title": 'Commas, "quotes"\nand a newline',
        "authors": "Ada Lovelace; Jan van der Berg; Charles Babbage",
        "date": "2026-06-15",
        "updated": "2026-06-20",
        "primary_category": "cs.CL",
        "categories": "cs.CL cs.LG",
        "topic": "speech recognition",
        "url": "https://arxiv.org/abs/2506.01234",
        "abstract": "a,b\r\nc",
    }
    assert bare == dict.fromkeys(CSV_HEADER, "") | {
        "id": "2505.04321",
        "title": "A Paper That Left the Index",
        "url": "https://arxiv.org/abs/2505.04321",
    }


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_would_run_as_formulas_get_a_quote(start: str) -> None:
    formula = start + 'HYPERLINK("http://evil.example","x")'
    [row] = read_csv(to_csv([{**PAPER, "title": formula, "authors": [formula.strip() or "x"], "topic": None}]))
    assert row["title"] == "'" + formula
    assert row["id"] == "2506.01234" and row["topic"] == ""
    assert read_csv(to_csv([{**PAPER, "title": "Plain = safe"}]))[0]["title"] == "Plain = safe"


# ---- 300 real papers


@pytest.fixture(scope="module")
def real_papers() -> list[dict]:
    with gzip.open(CORPUS_SAMPLE, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def test_every_format_reads_back_300_real_papers(real_papers: list[dict]) -> None:
    entries = parse_bibtex(to_bibtex(real_papers))
    assert [e["eprint"] for e in entries] == [p["id"] for p in real_papers]
    assert len({e["ID"] for e in entries}) == len(real_papers)
    assert all(re.fullmatch(r"[a-z]+\d{4}[a-z]*", e["ID"]) for e in entries)
    for paper, entry in zip(real_papers, entries, strict=True):
        assert entry["primaryclass"] == paper["primary_category"]
        assert entry["author"].count(" and ") == len(paper["authors"]) - 1
        for field in ("title", "abstract", "author"):
            assert_latex_safe(entry[field])
        assert maths_of(entry["title"]) == maths_of(paper["title"])

    items = json.loads(to_csl_json(real_papers))
    assert no_nulls(items) and [i["id"] for i in items] == [p["id"] for p in real_papers]
    assert all(i["issued"]["date-parts"][0][0] == int(p["date"][:4]) for i, p in zip(items, real_papers, strict=True))
    assert all(len(i["author"]) == len(p["authors"]) for i, p in zip(items, real_papers, strict=True))

    rows = read_csv(to_csv(real_papers))
    assert [r["id"] for r in rows] == [p["id"] for p in real_papers]
    for paper, row in zip(real_papers, rows, strict=True):
        assert row["title"].removeprefix("'") == paper["title"]
        assert row["abstract"].removeprefix("'") == paper["abstract"]
        assert row["authors"].split("; ") == paper["authors"]
