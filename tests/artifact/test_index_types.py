"""One contract, every index type: flat, hnsw and ivf answer the same questions the
same way (within the tuned recall), keep filters, survive save/load, and record the
recall they were tuned to in the manifest. Real vectors: the static embeddings of the
300-paper fixture plus the guard's 256 abstracts."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import engine
from engine.artifact import vectors
from engine.embedding.guard import guard_texts
from engine.pipeline.build import Options, build
from engine.query.filters import Filters
from tests.conftest import CORPUS_SAMPLE, GA_DIGEST_1

TYPES = ("flat", "hnsw", "ivf")


@pytest.fixture(scope="module")
def real_vectors() -> np.ndarray:
    from engine.embedding.embedder import bundled_model, make_embedder
    from engine.ingest.sources import read_papers

    texts = [p.text for p in read_papers(CORPUS_SAMPLE).papers] + guard_texts()
    return make_embedder(bundled_model(), "onnx-int8").embed(texts)


@pytest.mark.parametrize("kind", TYPES)
def test_tuned_recall_against_exact(real_vectors: np.ndarray, kind: str, tmp_path: Path) -> None:
    index = vectors.VectorIndex.build(real_vectors, kind, seed=0)
    spec = index.spec
    assert spec["type"] == kind and spec["recall_at_10"] >= vectors.TARGET_RECALL
    path = tmp_path / "faiss.index"
    index.save(path)
    loaded = vectors.VectorIndex.load(path, len(real_vectors), spec)
    assert type(loaded) is type(index) and loaded.kind == kind
    exact = vectors.VectorIndex.build(real_vectors, "flat").faiss
    queries = real_vectors[::7] + 0.05 * np.random.default_rng(1).standard_normal((len(real_vectors[::7]), 384))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    _, truth = exact.search(queries, 10)
    _, got = loaded.search(queries, 10, rerank_with=real_vectors)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got, strict=True)])
    assert recall >= vectors.TARGET_RECALL  # on fresh queries too, after a save/load round trip


@pytest.mark.parametrize("kind", TYPES)
def test_every_type_serves_search_filters_and_related(tmp_path: Path, kind: str) -> None:
    index = tmp_path / kind
    build([CORPUS_SAMPLE, GA_DIGEST_1], index, Options(backend="static", topics=False, index_type=kind, progress=False))
    with engine.open(index) as ix:
        assert ix.manifest["index"]["type"] == kind and ix.manifest["index"]["recall_at_10"] >= 0.95
        hits = ix.search("galaxy rotation curves", k=10, mode="dense")
        assert len(hits) == 10 and all(a.score >= b.score - 1e-6 for a, b in itertools.pairwise(hits))
        narrow = ix.search("galaxy rotation curves", k=10, mode="dense", filters=Filters(categories=("cs.CL",)))
        assert len(narrow) == 10 and all("cs.CL" in h.paper.categories for h in narrow)
        source = hits[0].paper.id
        related = ix.related(source, k=5)
        assert len(related) == 5 and source not in [h.paper.id for h in related]


def test_choice_by_size_and_override() -> None:
    assert vectors.choose_type(1_000) == "flat"
    assert vectors.choose_type(vectors.FLAT_MAX + 1) == "hnsw"
    assert vectors.choose_type(vectors.HNSW_MAX + 1) == "ivf"
    assert vectors.choose_type(10, "hnsw") == "hnsw"
    with pytest.raises(Exception, match="index type"):
        vectors.choose_type(10, "lsh")
