"""An index written by paperscope 0.1.0 (before the engine was split into subpackages)
still opens, answers, verifies and grows: the artifact format did not change with the
code's layout. The fixture (tests/fixtures/index-v0.1.0/) is the bundled cs.CV digest
built with ``--backend static`` by that release."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import engine
from engine.artifact.verify import verify_index
from engine.pipeline.build import Options, add
from tests.conftest import FIXTURES, GA_DIGEST_1

OLD_INDEX = FIXTURES / "index-v0.1.0"


@pytest.fixture
def old_index(tmp_path: Path) -> Path:
    copy = tmp_path / "old"
    shutil.copytree(OLD_INDEX, copy, symlinks=True)
    return copy


def test_an_old_index_opens_and_answers(old_index: Path) -> None:
    with engine.open(old_index) as ix:
        assert len(ix) == 63 and ix.manifest["libraries"]["paperscope"] == "0.1.0"
        hits = ix.search("neural architecture search", k=3)
        assert len(hits) == 3 and all(hit.topic for hit in hits)
        assert [h.paper.id for h in ix.search("neural architecture search", k=5, mode="lexical")]
        related = ix.related(hits[0].paper.id, k=5)
        assert hits[0].paper.id not in [h.paper.id for h in related] and len(related) == 5
        assert all(h.because and h.because["similarity"] > 0 for h in related)  # a reason, even without counts
        assert ix.topics("fine") and ix.map_data().fine_topics


def test_an_old_index_verifies_and_grows(old_index: Path) -> None:
    assert not any(report.problems for report in verify_index(old_index, False))
    report = add([GA_DIGEST_1], old_index, Options(progress=False))
    assert report.version == "v000002" and report.papers > 63
    with engine.open(old_index) as ix:
        assert len(ix) == report.papers and ix.search("galaxy rotation curves", k=1)[0].topic
