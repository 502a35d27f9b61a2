"""The OpenVINO backend against the fp32 reference on real abstracts, its preparation
(atomic, repaired after a kill -9, done ahead by ``models prepare``, with no library
chatter), what the manifest records, a missing engine named clearly, and telemetry that
never starts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import engine
from engine.embedding import hardware
from engine.embedding.embedder import bundled_model, make_embedder
from engine.embedding.guard import MIN_MEAN_COSINE, MIN_NN10_OVERLAP, agreement
from engine.embedding.openvino_artifacts import OPENVINO_RECIPE
from engine.ingest.sources import read_papers
from tests.conftest import CORPUS_SAMPLE, GA_DIGEST_1

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = ["openvino-fp32", "openvino-int8", "openvino-wint8"] + (["openvino-bf16"] if hardware.has_bf16() else [])


def paperscope(*args: str, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return [paper.text for paper in read_papers(CORPUS_SAMPLE).papers[:160]]  # not the guard's sample


@pytest.fixture(scope="module")
def reference(texts: list[str]) -> np.ndarray:
    return make_embedder(bundled_model(), "torch-fp32").embed(texts)


@pytest.mark.parametrize("backend", VARIANTS)
def test_openvino_stays_within_the_guard_bounds(texts, reference, backend: str) -> None:
    embedder = make_embedder(bundled_model(), backend)
    got = embedder.embed(texts)
    assert embedder.backend == backend and got.dtype == np.float32 and got.shape == reference.shape
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-4)
    result = agreement(reference, got)
    assert result.cos_mean >= MIN_MEAN_COSINE and result.nn10_overlap >= MIN_NN10_OVERLAP
    if backend == "openvino-fp32":
        assert result.cos_min >= 0.9999
    # the same vectors whatever the batch: a query alone equals its row in a batch
    assert float(embedder.embed([texts[7]])[0] @ got[7]) >= 0.999


def test_a_kill_during_preparation_leaves_a_cache_the_next_run_repairs(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {"PAPERSCOPE_CACHE": str(cache)}
    folder = cache / "models" / bundled_model().fingerprint
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "models", "prepare", "--backend", "openvino-int8"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while not list(folder.glob(".openvino-int8-*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)  # the int8 artifact is being made (after the fp32 one)
    assert process.poll() is None, "preparation ended before it could be killed"
    time.sleep(2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (folder / f"openvino-int8-r{OPENVINO_RECIPE}").exists()  # nothing half-made is visible
    again = paperscope("models", "prepare", "--backend", "openvino-int8", env=env)
    assert again.returncode == 0, again.stderr
    assert (folder / f"openvino-int8-r{OPENVINO_RECIPE}" / "artifact.json").is_file()
    assert not list(folder.glob(".openvino-*")), "the dead run's leftovers were not removed"


def test_prepared_models_let_a_build_embed_at_once_and_the_manifest_says_how(tmp_path: Path) -> None:
    env = {"PAPERSCOPE_CACHE": str(tmp_path / "cache")}
    prepared = paperscope("models", "prepare", "--backend", "openvino-wint8", env=env)
    assert prepared.returncode == 0 and "making openvino-wint8" in prepared.stderr, prepared.stderr
    index = tmp_path / "ix"
    built = paperscope("build", str(GA_DIGEST_1), "--index", str(index), "--backend", "openvino-wint8", env=env)
    assert built.returncode == 0, built.stderr
    assert "making" not in built.stderr  # nothing converted or quantized: it embedded at once
    listed = json.loads(paperscope("models", "list", "--json", env=env).stdout)
    assert f"openvino-wint8-r{OPENVINO_RECIPE}" in {a["name"] for a in listed["prepared"]}
    with engine.open(index) as ix:
        model = ix.manifest["model"]
        assert model["backend"] == "openvino-wint8" and model["recipe"]["engine"] == "openvino"
        assert model["recipe"]["engine_version"] and "int8 weights" in model["recipe"]["quantization"]["method"]
        assert ix.embedder().backend == "openvino-wint8"  # queries embed as the index was built


def test_preparation_says_what_it_makes_and_nothing_the_libraries_say(tmp_path: Path) -> None:
    """ONNX Runtime's quantizer logs advice to the root logger, torch.onnx and
    transformers warn: none of it reaches the user, only paperscope's own lines."""
    prepared = paperscope("models", "prepare", "--backend", "onnx-int8", env={"PAPERSCOPE_CACHE": str(tmp_path)})
    assert prepared.returncode == 0, prepared.stderr
    lines = [line for line in prepared.stderr.splitlines() if line.strip()]
    assert any("making onnx-int8" in line for line in lines), prepared.stderr
    assert all(line.startswith("paperscope:") for line in lines), prepared.stderr


def test_an_index_keeps_its_backend_when_others_are_prepared(tmp_path: Path, corpus_index: Path) -> None:
    """The static-backend corpus index answers with static query vectors whatever auto
    would pick now, and an add embeds with the index's backend too."""
    copy = tmp_path / "ix"
    shutil.copytree(corpus_index, copy, symlinks=True)
    added = paperscope("add", str(GA_DIGEST_1), "--index", str(copy), "--json")
    assert added.returncode == 0, added.stderr
    with engine.open(copy) as ix:
        assert ix.manifest["model"]["backend"] == "static" and ix.embedder().backend == "static"
        assert ix.search("galaxy rotation curves", k=3)


def test_a_missing_engine_is_named_with_its_package(tmp_path: Path) -> None:
    hidden = tmp_path / "hidden"
    (hidden / "openvino").mkdir(parents=True)
    (hidden / "openvino" / "__init__.py").write_text("raise ImportError('No module named openvino')\n")
    env = {"PYTHONPATH": str(hidden), "PAPERSCOPE_CACHE": str(tmp_path / "cache")}
    done = paperscope("build", str(GA_DIGEST_1), "--index", str(tmp_path / "ix"), "--backend", "openvino-int8", env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "openvino-int8" in done.stderr and "pip install openvino" in done.stderr


def test_telemetry_never_starts(tmp_path: Path) -> None:
    """OpenVINO's converter and NNCF would create ~/intel/ (their consent folder) and
    report usage when no consent file says no; paperscope declines for them."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PAPERSCOPE_CACHE": str(tmp_path / "cache"), "CI": "", "NNCF_CI": ""}
    done = paperscope("models", "prepare", "--backend", "openvino-wint8", env=env)
    assert done.returncode == 0, done.stderr
    assert not (home / "intel").exists()
