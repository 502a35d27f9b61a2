"""Exports of paper records (the API's paper answers, or library entries that only know
an id and a title) as BibTeX, CSL-JSON and CSV, for LaTeX, Zotero, pandoc and spreadsheets.
BibTeX follows arXiv's "Export BibTeX citation" (``@misc`` with eprint, archivePrefix,
primaryClass, url, DataCite DOI) with Google Scholar's keys; Unicode stays Unicode (biber,
Zotero and pandoc read UTF-8)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from string import ascii_lowercase
from typing import Any

from engine.errors import ExportError
from engine.papers import normalize_id
from engine.text import english_stop_words, without_tex

FORMATS = {
    "bibtex": (".bib", "application/x-bibtex; charset=utf-8"),
    "csl-json": (".json", "application/vnd.citationstyles.csl+json"),
    "csv": (".csv", "text/csv; charset=utf-8"),
}
_SUFFIXES = {".bib": "bibtex", ".bibtex": "bibtex", ".json": "csl-json", ".csv": "csv"}
CSV_HEADER = ("id", "title", "authors", "date", "updated", "primary_category", "categories", "topic", "url", "abstract")


def check_format(name: object) -> str:
    """The export format ``name`` names (any case), or ExportError naming the choices."""
    wanted = name.strip().lower() if isinstance(name, str) else name
    if wanted not in FORMATS:
        raise ExportError(f"unknown export format {name!r}: choose one of {', '.join(FORMATS)}")
    return wanted


def format_for_path(path: str | Path) -> str:
    """The export format a file name asks for by its suffix."""
    fmt = _SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise ExportError(f"cannot tell the export format of {str(path)!r}: name it .bib, .bibtex, .json or .csv")
    return fmt


def render(fmt: str, records: Iterable[Mapping[str, Any]]) -> str:
    """The whole export of ``records`` in format ``fmt``, as text."""
    writers = {"bibtex": to_bibtex, "csl-json": to_csl_json, "csv": to_csv}
    return writers[check_format(fmt)](list(records))


# ---- what every format reads from a record
def _text(record: Mapping[str, Any], field: str) -> str:
    value = record.get(field)
    return value if isinstance(value, str) else ""  # as written: CSV gives fields back unchanged


def _strings(record: Mapping[str, Any], field: str) -> list[str]:
    value = record.get(field)
    return [v.strip() for v in value if isinstance(v, str) and v.strip()] if isinstance(value, list | tuple) else []


def _topic_label(record: Mapping[str, Any]) -> str:
    topic = record.get("topic")
    return _text(topic, "label") if isinstance(topic, Mapping) else ""


def _primary_category(record: Mapping[str, Any]) -> str:
    return _text(record, "primary_category") or next(iter(_strings(record, "categories")), "")


# New style since 2007 (2506.01234), old style before it (hep-th/9901001, math.GT/0309136).
_ARXIV_ID = re.compile(r"^(?:(\d{2})(\d{2})\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Za-z]{2})?/(\d{2})(\d{2})\d{3})$")


def arxiv_id(record: Mapping[str, Any]) -> str | None:
    """The record's arXiv id without version, or None for another corpus's id."""
    paper_id = normalize_id(str(record.get("id") or ""))
    return paper_id if _ARXIV_ID.match(paper_id) else None


def _issued(record: Mapping[str, Any]) -> list[int]:
    """[year, month, day] of first submission, as much as is known. Without a date, an
    arXiv id still tells year and month (its YYMM), which a library entry needs."""
    by_id = _ARXIV_ID.match(arxiv_id(record) or "")
    if found := re.match(r"^(\d{4})(?:-(\d\d)(?:-(\d\d))?)?", _text(record, "date")):
        parts = [int(p) for p in found.groups() if p]
    elif by_id:  # old-style ids began in 1991, new-style ones in 2007
        yy, mm = (int(p) for p in (by_id.group(1, 2) if by_id.group(1) else by_id.group(3, 4)))
        parts = [(1900 if by_id.group(3) and yy >= 91 else 2000) + yy, mm]
    else:
        return []
    if len(parts) > 1 and not 1 <= parts[1] <= 12:
        parts = parts[:1]
    return parts[:2] if len(parts) > 2 and not 1 <= parts[2] <= 31 else parts


# ---- author names
@dataclass(frozen=True)
class Name:
    """An author name in CSL's parts; ``literal`` is a name kept whole (a collaboration)."""

    family: str = ""
    given: str = ""
    particle: str = ""
    suffix: str = ""
    literal: str = ""


# Lower-case particles belong to the family name ("van der Berg, Jan"); capitalized ones
# ("De Lucia") are part of it already.
_PARTICLE_WORDS = """van von der den de del della delle dei degli da das dos do du di la le les lo ter ten te
zu zum zur af av bin ibn al el"""
PARTICLES = frozenset(_PARTICLE_WORDS.split())
_SUFFIX_WORDS = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})
_CORPORATE = re.compile(r"\b(?:collaboration|collaborations|consortium|team|group|project|committee|and)\b", re.I)
# An initial: "J.", "-M.", "J.-P.", "Th.", "Yu.", or a lone capital.
_INITIAL = re.compile(r"^-?(?:[^\W\d_][hu]?\.-?)+$|^[^\W\d_]$")


def split_name(name: str) -> Name:
    """Family, given, particle and suffix of "First Middle Last", "A. B. Family Name" or
    "Last, First"; a single word is a family name, a collaboration stays whole."""
    text = " ".join(name.split())
    if _CORPORATE.search(text):
        return Name(literal=text)
    if "," in text:
        family, *rest = (part.strip() for part in text.split(","))
        if len(rest) == 1 and rest[0].lower() not in _SUFFIX_WORDS:
            return _with_particle(family.split(), given=rest[0])
        if len(rest) == 2:  # BibTeX's "von Last, Jr, First"
            return _with_particle(family.split(), given=rest[1], suffix=rest[0])
        text = " ".join([family, *rest])  # "J. W. Davidson, Jr." is a suffix, not a given name
    words = text.split()
    suffix = words.pop() if len(words) > 2 and words[-1].lower() in _SUFFIX_WORDS else ""
    if len(words) < 2:
        return Name(family=text)
    # "A. Da Silva", "T. Matamoro Zatarain": after a name's leading initials comes its
    # whole family name (astronomers' and arXiv's usual form), capitalized particles too.
    initials = [i for i, w in enumerate(words[:-1]) if _INITIAL.match(w) and w.lstrip("-")[0].isupper()]
    if initials and initials[0] == 0:
        cut = initials[-1] + 1
    else:
        cut = next((i for i in range(1, len(words) - 1) if words[i] in PARTICLES), len(words) - 1)
    return _with_particle(words[cut:], given=" ".join(words[:cut]), suffix=suffix)


def _with_particle(family_words: list[str], given: str, suffix: str = "") -> Name:
    split = next((i for i, word in enumerate(family_words[:-1]) if word not in PARTICLES), len(family_words) - 1)
    return Name(" ".join(family_words[split:]), given, " ".join(family_words[:split]), suffix)


# ---- BibTeX
# Maths ($...$, $$...$$, \(...\)) is kept as written; outside it a scan splits control
# sequences (kept whole: "\LaTeX", "\&"), braces (balanced later) and plain runs.
_TEX_PIECE = re.compile(
    r"(?P<maths>\$\$(?:\\.|[^$\\])+\$\$|\$(?:\\.|[^$\\])+\$|\\\(.*?\\\))|\\(?:[A-Za-z]+|.)?|[{}]|[^\\{}$]+|\$",
    re.DOTALL,
)
_MATHS_PIECE = re.compile(r"\\(?:[A-Za-z]+|.)?|[{}]|[^\\{}]+", re.DOTALL)
_TEXT_ESCAPES = str.maketrans({"&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "$": r"\$", "^": r"\^{}"})
_MATHS_ESCAPES = str.maketrans({"&": r"\&", "%": r"\%", "#": r"\#"})  # these break maths too; "_" and "^" are maths
# A word with a capital after its first letter in any hyphenated part: BERT, GPT-4, LLMs, iPhone.
_CASE_WORD = re.compile(r"(?<![\w\\])[^\W_]+(?:-[^\W_]+)*(?!\w)")
_UNMATCHED = {
    False: {"{": r"\textbraceleft{}", "}": r"\textbraceright{}"},
    True: {"{": r"\lbrace{}", "}": r"\rbrace{}"},
}


def _protect_case(run: str, after_command: bool) -> str:
    def protect(match: re.Match[str]) -> str:
        word = match.group()
        if after_command and match.start() == 0:
            return word  # the argument of an accent or command ("\'E"): braces would change it
        mixed = any(any(c.isupper() for c in part[1:]) for part in word.split("-"))
        return "{" + word + "}" if mixed else word

    return _CASE_WORD.sub(protect, run)


def latex_value(text: str, protect_case: bool = False) -> str:
    """``text`` safe as a BibTeX value: one line; ``& % # _ $ ^`` escaped outside maths and
    ``& % #`` in it; an unmatched brace (a backslash does not hide one from BibTeX) spelt
    ``\\textbraceright{}`` (``\\rbrace{}`` in maths); no trailing backslash.

    ``protect_case`` (titles) braces maths and mixed-case words so styles that lower-case
    titles keep "BERT" and ``$\\Lambda$``, as Better BibTeX does. Not the whole title, as
    some exporters do (arXiv does not): that would stop sentence case for every word."""
    pieces: list[tuple[str, bool]] = []  # (piece, in maths)
    depth = 0
    for match in _TEX_PIECE.finditer(" ".join(text.split())):
        piece, maths = match.group(), match.group("maths")
        if maths:  # balanced on its own: a TeX group cannot open or close across a "$"
            inside = [(p if p[0] in "\\{}" else p.translate(_MATHS_ESCAPES), True) for p in _MATHS_PIECE.findall(maths)]
            maths = "".join(_balance_braces(inside))
            pieces.append(("{" + maths + "}" if protect_case and depth == 0 else maths, True))
        elif piece in ("{", "}"):
            depth = depth + 1 if piece == "{" else max(depth - 1, 0)
            pieces.append((piece, False))
        elif piece.startswith("\\"):
            pieces.append((piece if len(piece) > 1 else "", False))  # a lone trailing backslash would escape "}"
        else:
            escaped = piece.translate(_TEXT_ESCAPES)
            if protect_case and depth == 0:
                escaped = _protect_case(escaped, after_command=bool(pieces) and pieces[-1][0][:1] == "\\")
            pieces.append((escaped, False))
    return "".join(_balance_braces(pieces))


def _balance_braces(pieces: list[tuple[str, bool]]) -> list[str]:
    """The pieces with each unmatched brace ("{", "}", "\\{", "\\}") replaced."""
    out, open_at = [p for p, _ in pieces], []
    for index, (piece, maths) in enumerate(pieces):
        if piece in ("{", "\\{"):
            open_at.append(index)
        elif piece in ("}", "\\}") and open_at:
            open_at.pop()
        elif piece in ("}", "\\}"):
            out[index] = _UNMATCHED[maths]["}"]
    for index in open_at:
        out[index] = _UNMATCHED[pieces[index][1]]["{"]
    return out


def bibtex_name(name: str) -> str:
    """One author in BibTeX's "von Last, Jr, First" form; a collaboration braced whole."""
    parts = split_name(name)
    if parts.literal:
        return "{" + latex_value(parts.literal) + "}"
    family = " ".join(p for p in (parts.particle, parts.family) if p)
    given = ", ".join(p for p in (parts.suffix, parts.given) if p)
    return latex_value(f"{family}, {given}" if given else family)


# Letters NFKD does not decompose into an ASCII base letter.
_ASCII = str.maketrans(
    dict(zip("øØłŁđĐðı", "oOlLdDdi", strict=True)) | {"ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "þ": "th"}
)


def _key_letters(text: str) -> str:
    """Lower-case ASCII letters of ``text`` (Müller → muller, Łukasz → lukasz)."""
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


def _first_word(text: str) -> str:
    stop = english_stop_words()
    words = (_key_letters(word) for word in re.split(r"[\s/\u2010-\u2014-]+", without_tex(text)))
    return next((w for w in words if len(w) > 1 and w not in stop), "")  # "X-ray" gives "ray"


def citation_key(record: Mapping[str, Any]) -> str:
    """Google Scholar's key: first author's family name, year, first significant title
    word (``lovelace2026analytical``); "anon" stands in for a missing author."""
    authors = _strings(record, "authors")
    first = split_name(authors[0]) if authors else Name()
    family = _first_word(first.literal) if first.literal else _key_letters(first.family)
    year = _issued(record)[:1]
    return f"{family or 'anon'}{year[0] if year else ''}{_first_word(_text(record, 'title'))}"


def unique_keys(keys: list[str]) -> list[str]:
    """``keys`` with repeats suffixed a, b, c... (the first keeps its key, and no suffixed
    key takes another record's plain one)."""
    taken, used, result = set(keys), set(), []
    for key in keys:
        if key in used:
            suffixes = ("".join(s) for n in itertools.count(1) for s in itertools.product(ascii_lowercase, repeat=n))
            key = next(key + s for s in suffixes if key + s not in taken)
            taken.add(key)
        used.add(key)
        result.append(key)
    return result


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _braced(value: str) -> str:
    return "{" + value + "}" if value else ""


def bibtex_entry(record: Mapping[str, Any], key: str) -> str:
    """One ``@misc`` entry. The month is a bare macro (``month = jun``): BibTeX styles
    define it and biber turns it into the number biblatex wants; ``{jun}`` would not be."""
    issued, paper_id, authors = _issued(record), arxiv_id(record), _strings(record, "authors")
    fields: list[tuple[str, str]] = [
        # Without a title, the id: an entry with no field at all is one many readers skip.
        ("title", _braced(latex_value(_text(record, "title") or str(record.get("id") or ""), protect_case=True))),
        ("author", _braced(" and ".join(bibtex_name(a) for a in authors))),
        ("year", f"{{{issued[0]}}}" if issued else ""),
        ("month", _MONTHS[issued[1] - 1] if len(issued) > 1 else ""),
    ]
    if paper_id:
        fields += [
            ("eprint", f"{{{paper_id}}}"),
            ("archivePrefix", "{arXiv}"),
            ("primaryClass", _braced(latex_value(_primary_category(record)))),
            ("url", f"{{https://arxiv.org/abs/{paper_id}}}"),
            ("doi", f"{{10.48550/arXiv.{paper_id}}}"),
        ]
    fields += [
        ("abstract", _braced(latex_value(_text(record, "abstract")))),
        # keywords, not note: styles print note in the reference list, and a paperscope
        # topic is a reading aid, not bibliographic data; Zotero imports keywords as tags.
        ("keywords", _braced(latex_value(_topic_label(record)))),
    ]
    body = ",\n".join(f"  {name} = {value}" for name, value in fields if value)
    return f"@misc{{{key},\n{body}\n}}\n" if body else f"@misc{{{key}}}\n"


def to_bibtex(records: Iterable[Mapping[str, Any]]) -> str:
    records = list(records)
    keys = unique_keys([citation_key(record) for record in records])
    return "\n".join(bibtex_entry(record, key) for record, key in zip(records, keys, strict=True))


# ---- CSL-JSON
_CSL_NAME_PARTS = ("family", "given", "non-dropping-particle", "suffix")


def csl_name(name: str) -> dict[str, str]:
    parts = split_name(name)
    if parts.literal:
        return {"literal": parts.literal}
    values = (parts.family, parts.given, parts.particle, parts.suffix)
    return {field: value for field, value in zip(_CSL_NAME_PARTS, values, strict=True) if value}


def csl_item(record: Mapping[str, Any]) -> dict[str, Any]:
    """One CSL item as Zotero writes an arXiv preprint: type "article" with publisher
    arXiv, genre Preprint and the arXiv id as number. Absent fields are left out."""
    paper_id, issued = arxiv_id(record), _issued(record)
    item: dict[str, Any] = {
        "id": str(record.get("id") or ""),
        "type": "article",
        "title": " ".join(_text(record, "title").split()),
        "author": [csl_name(a) for a in _strings(record, "authors")],
        "issued": {"date-parts": [issued]} if issued else None,
        "abstract": _text(record, "abstract").strip(),
        "keyword": _topic_label(record),
        "version": str(record["version"]) if record.get("version") else None,
    }
    if paper_id:
        item |= {
            "URL": f"https://arxiv.org/abs/{paper_id}",
            "DOI": f"10.48550/arXiv.{paper_id}",
            "number": f"arXiv:{paper_id}",
            "publisher": "arXiv",
            "genre": "Preprint",
        }
    return {field: value for field, value in item.items() if value}


def to_csl_json(records: Iterable[Mapping[str, Any]]) -> str:
    return json.dumps([csl_item(record) for record in records], ensure_ascii=False, indent=2) + "\n"


# ---- CSV
# Spreadsheets run a cell that starts with one of these as a formula (=HYPERLINK(...),
# +cmd|...), and titles and abstracts are text anyone can submit to arXiv. OWASP's advice
# is a leading quote, which shows the text and stops the formula. Every cell here is
# text (no column holds a number), so the quote never turns a number into text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_row(record: Mapping[str, Any]) -> list[str]:
    paper_id = arxiv_id(record)
    row = {
        "id": str(record.get("id") or ""),
        "title": _text(record, "title"),
        "authors": "; ".join(_strings(record, "authors")),
        "date": _text(record, "date"),
        "updated": _text(record, "updated"),
        "primary_category": _primary_category(record),
        "categories": " ".join(_strings(record, "categories")),
        "topic": _topic_label(record),
        "url": f"https://arxiv.org/abs/{paper_id}" if paper_id else "",
        "abstract": _text(record, "abstract"),
    }
    return [csv_cell(row[column]) for column in CSV_HEADER]


def to_csv(records: Iterable[Mapping[str, Any]]) -> str:
    """RFC 4180 CSV (CRLF line ends, quoted where needed): write it to a file opened with
    ``newline=""`` so the line ends stay as they are."""
    out = io.StringIO()
    csv.writer(out).writerows([CSV_HEADER, *(csv_row(record) for record in records)])
    return out.getvalue()
