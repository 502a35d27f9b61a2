"""Every backend against the fp32 reference on real abstracts, ``auto``'s choice,
cache keys per backend, and resuming an interrupted build."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.embedding import hardware
from engine.embedding.embedder import bundled_model, make_embedder
from engine.embedding.guard import (
    MAX_TASK_DROP,
    MIN_MEAN_COSINE,
    MIN_NN10_OVERLAP,
    Agreement,
    Trial,
    agreement,
    knn_overlap,
    task_drop,
)
from engine.embedding.model_artifacts import model_folder
from engine.ingest.sources import read_papers
from engine.pipeline.build import Options, build
from tests.conftest import CORPUS_SAMPLE, GA_DIGEST_1

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    # Not the guard's own sample: an independent check on other real abstracts.
    return [paper.text for paper in read_papers(CORPUS_SAMPLE).papers[:160]]


@pytest.fixture(scope="module")
def reference(texts: list[str]) -> np.ndarray:
    return make_embedder(bundled_model(), "torch-fp32").embed(texts)


def test_onnx_fp32_reproduces_the_reference(texts, reference) -> None:
    embedder = make_embedder(bundled_model(), "onnx-fp32")
    got = embedder.embed(texts)
    assert embedder.backend == "onnx-fp32" and got.dtype == np.float32
    assert agreement(reference, got).cos_min >= 0.9999


def test_onnx_int8_stays_within_the_guard_bounds(texts, reference) -> None:
    embedder = make_embedder(bundled_model(), "onnx-int8")
    assert embedder.backend == ("onnx-int8" if hardware.has_vnni() else "onnx-int8-rr")
    result = agreement(reference, embedder.embed(texts))
    assert result.cos_mean >= MIN_MEAN_COSINE and result.cos_min >= 0.98
    assert result.nn10_overlap >= MIN_NN10_OVERLAP


@pytest.mark.skipif(not hardware.has_bf16(), reason="this CPU has no native bf16")
def test_torch_bf16_is_nearly_exact(texts, reference) -> None:
    result = agreement(reference, make_embedder(bundled_model(), "torch-bf16").embed(texts))
    assert result.cos_min >= 0.999 and result.nn10_overlap >= 0.97


def test_static_is_fast_food_but_still_finds_neighbours(texts, reference) -> None:
    embedder = make_embedder(bundled_model(), "static")
    got = embedder.embed(texts)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    overlap = knn_overlap(reference, got)
    # Far below the guard (so auto never takes it), far above chance (10/159 ≈ 0.06).
    assert 0.25 <= overlap < MIN_NN10_OVERLAP
    assert (model_folder(bundled_model().fingerprint) / "static-r1" / "artifact.json").is_file()


@pytest.mark.parametrize(("backend", "bound"), [("onnx-fp32", 0.9999), ("onnx-int8", 0.98)])
def test_onnx_batches_by_tokens_and_restores_order(texts, backend: str, bound: float) -> None:
    embedder = make_embedder(bundled_model(), backend)
    mixed = [texts[0][:40], texts[1], "graph neural networks", texts[2][:300], texts[3]]
    together = embedder.embed(mixed)
    alone = np.vstack([embedder.embed([t]) for t in mixed])
    # fp32: padding must not leak into the pooled vector at all. int8: activation
    # scales are per batch, so batch mates shift a vector slightly (length buckets
    # keep mates alike; the guard's agreement figures include this effect).
    assert float(np.min(np.sum(together * alone, axis=1))) > bound
    assert embedder.embed([]).shape == (0, 384)


def test_auto_picks_the_fastest_backend_that_passes_and_remembers(embedder) -> None:
    verdicts = list(model_folder(embedder.model.fingerprint).glob("auto-*.json"))
    assert len(verdicts) == 1
    verdict = json.loads(verdicts[0].read_text())
    assert verdict["backend"] == embedder.backend
    trials = {t["backend"]: t for t in verdict["trials"]}
    chosen = trials[embedder.backend]
    assert chosen["eligible"] and embedder.backend != "static"
    if chosen["agreement"]:
        assert chosen["agreement"]["cos_mean"] >= MIN_MEAN_COSINE
        assert chosen["agreement"]["nn10_overlap"] >= MIN_NN10_OVERLAP
    faster_ones = [t for t in trials.values() if t["per_second"] > chosen["per_second"]]
    assert all(not t["eligible"] for t in faster_ones)
    before = verdicts[0].stat().st_mtime_ns
    from engine.embedding.embedder import load_embedder

    assert load_embedder().backend == embedder.backend  # the kept verdict, no new trials
    assert verdicts[0].stat().st_mtime_ns == before


def test_a_recipe_below_fp32_on_the_related_papers_task_is_never_auto() -> None:
    """The shipped task-check figures (benchmarks/embed.py --write-task-check) are read
    per recipe, and a drop beyond the bound makes a backend ineligible however close
    its vectors are."""
    from importlib import resources

    figures = json.loads((resources.files("engine") / "data" / "task-check.json").read_text())
    assert figures["max_drop"] == MAX_TASK_DROP and figures["ndcg20"]
    for tag, score in figures["ndcg20"].items():
        assert task_drop(tag) == round(figures["reference_fp32"] - score, 4)
    assert task_drop("no-such-recipe-r0") is None
    close = Agreement(cos_mean=1.0, cos_min=1.0, nn10_overlap=1.0)
    assert Trial("onnx-int8", 99.0, close, task_drop=MAX_TASK_DROP).eligible
    assert not Trial("onnx-int8", 99.0, close, task_drop=MAX_TASK_DROP + 0.001).eligible


@pytest.fixture
def private_cache(tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty embedding cache of its own, sharing the session's exported models (the
    export is not what these tests are about, and takes seconds)."""
    root = tmp_path / "cache"
    fingerprint = bundled_model().fingerprint
    (root / "models").mkdir(parents=True)
    make_embedder(bundled_model(), "onnx-fp32").embed(["export the model once"])
    os.symlink(isolated_cache / "models" / fingerprint, root / "models" / fingerprint)
    monkeypatch.setenv("PAPERSCOPE_CACHE", str(root))
    return root


def test_cache_and_index_reuse_only_within_one_backend(tmp_path: Path, private_cache: Path) -> None:
    index = tmp_path / "ix"
    int8 = Options(backend="onnx-int8", progress=False, topics=False)
    first = build([GA_DIGEST_1], index, int8)
    assert first.embedded > 0
    other = build([GA_DIGEST_1], index, Options(backend="onnx-fp32", progress=False, topics=False))
    assert other.embedded == first.embedded and other.reused == 0 and other.cached == 0
    again = build([GA_DIGEST_1], tmp_path / "ix2", int8)
    assert again.embedded == 0 and again.cached == first.embedded
    from engine.artifact import store

    artifact = store.Artifact.open(index)
    assert artifact.manifest["model"]["backend"] == "onnx-fp32"
    artifact.close()


def _cache_rows(cache_file: Path) -> int:
    if not cache_file.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{cache_file}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_killed_build_resumes_without_reembedding_finished_chunks(tmp_path: Path, private_cache: Path) -> None:
    index = tmp_path / "resumed"
    script = (
        "import sys; from engine.pipeline.build import Options, build; "
        "build([sys.argv[1]], sys.argv[2], Options(backend='onnx-int8', embed_chunk=24, progress=False, topics=False))"
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(CORPUS_SAMPLE), str(index)], cwd=ROOT)
    tag = make_embedder(bundled_model(), "onnx-int8").cache_tag
    cache_file = private_cache / "embeddings" / f"{bundled_model().fingerprint}-{tag}.sqlite"
    deadline = time.monotonic() + 300
    while _cache_rows(cache_file) < 48 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait()
    done_before = _cache_rows(cache_file)
    assert 48 <= done_before < 300, "the build must be killed mid-way through embedding"
    assert not (index / "CURRENT").exists()  # nothing was published by the killed build

    report = build([CORPUS_SAMPLE], index, Options(backend="onnx-int8", progress=False, topics=False))
    assert report.cached == done_before
    assert report.embedded == report.new_papers - done_before
