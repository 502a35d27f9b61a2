"""The real model: normalization, determinism, model folders, the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.embedding.cache import EmbeddingCache
from engine.embedding.embedder import load_embedder, resolve_model, text_hash
from engine.errors import ModelError
from engine.ingest.sources import read_papers
from tests.conftest import CORPUS_SAMPLE


@pytest.fixture(scope="module")
def abstracts() -> list[str]:
    papers = read_papers(CORPUS_SAMPLE).papers
    return [p.text for p in papers[:48]]


def test_vectors_are_unit_norm_float32_and_deterministic(embedder, abstracts: list[str]) -> None:
    first = embedder.embed(abstracts[:8])
    again = embedder.embed(abstracts[:8])
    assert first.dtype == np.float32 and first.shape == (8, 384)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(first, again, atol=1e-6)


def test_batching_and_order_do_not_change_vectors(embedder, abstracts: list[str]) -> None:
    whole = embedder.embed(abstracts[:16], batch_size=16)
    reversed_small = embedder.embed(abstracts[:16][::-1], batch_size=3)[::-1]
    assert float(np.min(np.sum(whole * reversed_small, axis=1))) > 0.999


def test_model_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model folder not found"):
        resolve_model(tmp_path / "missing")
    with pytest.raises(ModelError, match="not a sentence-transformers model"):
        resolve_model(tmp_path)


def test_model_path_accepts_any_sentence_transformers_folder(embedder, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "my-minilm"
    shutil.copytree(embedder.model.path, copy)
    other = load_embedder(copy, embedder.backend)
    assert other.model.name == "my-minilm"
    assert other.model.fingerprint == embedder.model.fingerprint  # same weights, same cache key
    vec = other.embed(["graph neural networks"])
    assert float(np.dot(vec[0], embedder.embed(["graph neural networks"])[0])) > 0.9999


def test_cache_roundtrip_and_keys(tmp_path: Path) -> None:
    cache = EmbeddingCache("abc", "torch-bf16", root=tmp_path)
    vec = np.arange(4, dtype=np.float32)
    cache.put_many([(text_hash("x"), vec)])
    assert cache.dimension() == 4 and len(cache) == 1
    got = cache.get_many([text_hash("x"), text_hash("y")], 4)
    assert list(got) == [text_hash("x")]
    np.testing.assert_array_equal(got[text_hash("x")], vec)
    assert cache.get_many([text_hash("x")], 8) == {}  # wrong size is a miss, not garbage
    other_backend = EmbeddingCache("abc", "torch-fp32", root=tmp_path)
    assert other_backend.get_many([text_hash("x")], 4) == {}
    cache.close()
    other_backend.close()
