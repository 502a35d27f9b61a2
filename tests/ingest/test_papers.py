from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import RecordError
from engine.papers import Paper, clean_text, deduplicate, make_paper, split_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2011.09300", ("2011.09300", None)),
        ("2011.09300v2", ("2011.09300", 2)),
        ("arXiv:2011.09300v12", ("2011.09300", 12)),
        ("0704.0001", ("0704.0001", None)),
        ("hep-th/9901001v3", ("hep-th/9901001", 3)),
        ("math.GT/0309136", ("math.GT/0309136", None)),
        ("  2606.02580 ", ("2606.02580", None)),
        ("doi:10.1000/xyz123", ("doi:10.1000/xyz123", None)),  # not arXiv: kept as given
        ("my-paper-v2", ("my-paper-v2", None)),
    ],
)
def test_split_id(raw: str, expected: tuple) -> None:
    assert split_id(raw) == expected


def test_clean_text_decodes_entities_tags_links_and_mojibake() -> None:
    raw = (
        'Detecting Out-Distribution &amp; Adversarial<br>Samples, code at <a class="link-external" '
        'href="https://github.com/x/y" rel="nofollow">this https URL</a>; error 24.73\u00c2\u00b0  done'
    )
    assert clean_text(raw) == (
        "Detecting Out-Distribution & Adversarial Samples, code at https://github.com/x/y; error 24.73° done"
    )


def test_make_paper_validates_fields() -> None:
    with pytest.raises(RecordError, match="'title' is missing"):
        make_paper("1", None, "abstract")
    with pytest.raises(RecordError, match="'abstract' must be a string, got int"):
        make_paper("1", "t", 5)
    with pytest.raises(RecordError, match="'abstract' is empty"):
        make_paper("1", "t", "   <br>  ")
    with pytest.raises(RecordError, match="limit"):
        make_paper("1", "t", "x" * 1_000_001)
    paper = make_paper("2011.09300v2", "Title", "Abstract", categories=["cs.CV", "cs.LG", "cs.CV", ""])
    assert (paper.id, paper.version, paper.categories) == ("2011.09300", 2, ("cs.CV", "cs.LG"))
    assert paper.primary_category == "cs.CV"


def test_deduplicate_keeps_the_newest_copy_in_first_seen_order() -> None:
    old = Paper("a", "Old", "x", updated="2024-01-01", version=1)
    other = Paper("b", "B", "y")
    new = Paper("a", "New", "x", updated="2024-02-01", version=2)
    stale = Paper("a", "Stale", "x", updated="2023-01-01", version=1)
    result = deduplicate([old, other, new, stale])
    assert [p.title for p in result.papers] == ["New", "B"]
    assert result.duplicates == 2


def test_deduplicate_tie_goes_to_the_later_copy() -> None:
    result = deduplicate([Paper("a", "First", "x"), Paper("a", "Second", "x")])
    assert [p.title for p in result.papers] == ["Second"]


@given(st.text(max_size=300))
def test_clean_text_never_fails_and_gives_trimmed_single_spaced_text(text: str) -> None:
    once = clean_text(text)
    assert "  " not in once
    assert once == once.strip()
