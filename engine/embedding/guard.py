"""The quality guard: how far a backend's vectors stray from the fp32 reference, and
which backend ``auto`` may use.

Agreement is measured on real abstracts: the mean and minimum cosine between each
text's vector and its fp32 reference vector, and how many of each text's 10 nearest
neighbours stay the same (the thing search and topics actually depend on). ``auto``
times every eligible backend on the same texts, interleaved so a noisy machine
slows them alike, and takes the fastest one that passes. One task-level check comes
on top: a backend recipe whose related-paper NDCG@20 on CSFCube fell more than 0.005
below fp32's when the benchmark measured it (``engine/data/task-check.json``) is never
chosen. The verdict is kept per model, CPU and engine versions, so the trial runs once
per machine.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from engine.embedding import hardware, model_artifacts
from engine.fsutil import write_atomic
from engine.progress import announce, progress_bar, timed

log = logging.getLogger(__name__)

MIN_MEAN_COSINE = 0.99
MIN_NN10_OVERLAP = 0.9
MAX_TASK_DROP = 0.005  # related-paper NDCG@20 below fp32 that a backend may lose
NEVER_AUTO = {"static"}  # far below the bounds by design; only on explicit request
VERDICT_VERSION = 2  # 2: the task check


@dataclass(frozen=True)
class Agreement:
    cos_mean: float
    cos_min: float
    nn10_overlap: float

    @property
    def passes(self) -> bool:
        return self.cos_mean >= MIN_MEAN_COSINE and self.nn10_overlap >= MIN_NN10_OVERLAP


def knn_overlap(reference: np.ndarray, vectors: np.ndarray, k: int = 10) -> float:
    """Mean share of each row's k nearest rows (by cosine, itself excluded) that both agree on."""
    k = min(k, len(reference) - 1)
    if k <= 0:
        return 1.0

    def neighbours(x: np.ndarray) -> np.ndarray:
        sims = x @ x.T
        np.fill_diagonal(sims, -np.inf)
        return np.argpartition(-sims, k - 1, axis=1)[:, :k]

    ref, got = neighbours(reference), neighbours(vectors)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ref, got, strict=True)]))


def agreement(reference: np.ndarray, vectors: np.ndarray) -> Agreement:
    cosines = np.sum(reference * vectors, axis=1)
    return Agreement(
        cos_mean=round(float(cosines.mean()), 6),
        cos_min=round(float(cosines.min()), 6),
        nn10_overlap=round(knn_overlap(reference, vectors), 4),
    )


def guard_texts() -> list[str]:
    """256 real abstracts spread over the whole arXiv corpus (package data)."""
    return model_artifacts.packaged_abstracts("guard-abstracts.jsonl.gz")


@dataclass
class Trial:
    backend: str
    per_second: float
    agreement: Agreement | None  # None for the reference itself
    error: str | None = None
    task_drop: float | None = None  # related-paper NDCG@20 below fp32's, when measured

    @property
    def eligible(self) -> bool:
        if self.error or self.backend in NEVER_AUTO:
            return False
        if self.task_drop is not None and self.task_drop > MAX_TASK_DROP:
            return False
        return self.agreement is None or self.agreement.passes


def task_drop(cache_tag: str) -> float | None:
    """How far this backend recipe's related-paper NDCG@20 (CSFCube dev half) falls
    below the fp32 reference's, as ``benchmarks/embed.py --write-task-check`` measured
    it (package data: the benchmark's data is never shipped); None when not measured."""
    figures = _task_check()
    score = figures.get("ndcg20", {}).get(cache_tag)
    return None if score is None else round(figures["reference_fp32"] - score, 4)


@functools.cache
def _task_check() -> dict:
    source = resources.files("engine") / "data" / "task-check.json"
    return json.loads(source.read_text()) if source.is_file() else {}


def timed_interleaved(
    embedders: Sequence, texts: Sequence[str], rounds: int = 4
) -> tuple[list[np.ndarray], list[float]]:
    """Each embedder's vectors for ``texts`` and its texts per second, measured in
    ``rounds`` slices with the order rotated every slice (fair on a noisy machine)."""
    for embedder in embedders:
        embedder.embed(texts[:2])  # load weights and sessions outside the timing
    seconds: dict[int, float] = {}
    parts: list[list[np.ndarray]] = [[] for _ in embedders]
    bounds = np.linspace(0, len(texts), rounds + 1).astype(int)
    for r in range(rounds):
        piece = texts[bounds[r] : bounds[r + 1]]
        order = list(range(len(embedders)))
        order = order[r % len(order) :] + order[: r % len(order)]
        for i in order:
            with timed(seconds, i):
                parts[i].append(embedders[i].embed(piece))
    vectors = [np.concatenate(p) for p in parts]
    return vectors, [len(texts) / max(seconds[i], 1e-9) for i in range(len(embedders))]


def candidates() -> list[str]:
    """The backends ``auto`` tries on this machine (the engines that are installed).

    OpenVINO's int8 variants are tried only where int8 has its own dot-product
    instructions (VNNI): without them (AVX2 Zen 3, benchmarks/README.md) they ran at
    0.96x and 1.15x naive against 1.36x for OpenVINO fp32 and 2.0x for ONNX Runtime's
    int8, so their ~30 s of quantization and ~45 s of trial could never pay off."""
    names = ["onnx-int8", "onnx-fp32", "torch-fp32"]
    if hardware.has_bf16():
        names.insert(1, "torch-bf16")
    if _installed("openvino") and _installed("nncf"):
        names[:0] = ["openvino-int8", "openvino-wint8", "openvino-fp32"] if hardware.has_vnni() else ["openvino-fp32"]
        if hardware.has_bf16():
            names.insert(names.index("openvino-fp32") + 1, "openvino-bf16")
    return names


def _installed(package: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(package) is not None


def run_trials(model, make: Callable[[object, str], object], names: Sequence[str]) -> list[Trial]:
    """Trials of ``names`` against torch-fp32 on the guard texts (torch-fp32 is always timed too)."""
    texts = guard_texts()
    names = ["torch-fp32"] + [n for n in names if n != "torch-fp32"]
    embedders, trials = [], {}
    with progress_bar(len(names), "preparing backends", unit="backends") as advance:
        for number, name in enumerate(names, start=1):
            announce(f"preparing backend {number}/{len(names)}: {name}")
            advance(0, name)
            try:
                embedder = make(model, name)
                embedder.embed(["warm up"])  # exports, converts or distills on first use; failures show here
                embedders.append(embedder)
            except Exception as exc:  # a backend that cannot run here is simply not eligible
                log.warning("backend %s unavailable: %s", name, exc)
                trials[name] = Trial(name, 0.0, None, error=f"{type(exc).__name__}: {exc}")
            advance(1)
    announce(f"timing {len(embedders)} backends on {len(texts)} abstracts and checking them against fp32")
    vectors, speeds = timed_interleaved(embedders, texts)
    reference = vectors[0]
    for embedder, vecs, speed in zip(embedders, vectors, speeds, strict=True):
        name = embedder.backend
        close = None if name == "torch-fp32" else agreement(reference, vecs)
        trials[name] = Trial(name, round(speed, 2), close, task_drop=task_drop(embedder.cache_tag))
    return [trials[n] for n in trials]


def verdict_path(model) -> Path:
    """Where ``auto``'s verdict for this model, CPU and engine versions is kept."""
    return model_artifacts.model_folder(model.fingerprint) / f"auto-{_verdict_key()}.json"


def kept_verdict(model) -> dict | None:
    """The verdict ``auto`` measured earlier on this machine, if it is still valid."""
    path = verdict_path(model)
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
        if saved.get("version") == VERDICT_VERSION:
            saved["trials"] = [_trial_from(t) for t in saved["trials"]]
            return saved
    except (ValueError, KeyError, TypeError):
        log.warning("%s: unreadable auto verdict, measuring again", path)
    return None


def choose_backend(model, make: Callable[[object, str], object]) -> tuple[str, list[Trial]]:
    """The fastest eligible backend on this CPU, from a kept verdict or fresh trials."""
    saved = kept_verdict(model)
    if saved is not None:
        return saved["backend"], saved["trials"]
    path = verdict_path(model)
    announce("choosing the fastest embedding backend that passes the quality guard (once per machine)")
    trials = run_trials(model, make, candidates())
    eligible = [t for t in trials if t.eligible]
    best = max(eligible, key=lambda t: t.per_second)  # torch-fp32, the reference, is always eligible
    verdict = {
        "version": VERDICT_VERSION,
        "backend": best.backend,
        "cpu": hardware.cpu_model(),
        "bounds": {"cos_mean": MIN_MEAN_COSINE, "nn10_overlap": MIN_NN10_OVERLAP, "task_drop": MAX_TASK_DROP},
        "trials": [trial_record(t) for t in trials],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(verdict, indent=2).encode())
    announce(f"auto uses {best.backend} ({best.per_second:.0f} abstracts/s here); see: paperscope models list")
    return best.backend, trials


def _verdict_key() -> str:
    import onnxruntime

    # A new export recipe or runtime can change both speed and agreement: measure again.
    key = f"{hardware.cpu_signature()}-ort{onnxruntime.__version__}-r{model_artifacts.ONNX_RECIPE}"
    # New task-check figures can make a backend ineligible: they are part of the key too.
    key += "-t" + hashlib.blake2b(json.dumps(_task_check(), sort_keys=True).encode(), digest_size=3).hexdigest()
    if _installed("openvino"):
        from importlib import metadata

        from engine.embedding.openvino_artifacts import OPENVINO_RECIPE

        # The installed version, read without importing openvino: every auto lookup
        # (each build or query process) computes this key.
        key += f"-ov{metadata.version('openvino')}-r{OPENVINO_RECIPE}"
    return key


def trial_record(trial: Trial) -> dict:
    """A trial as JSON (the kept verdict, ``paperscope models list --json``)."""
    out = asdict(trial)
    out["eligible"] = trial.eligible
    return out


def _trial_from(data: dict) -> Trial:
    agreement_data = data.get("agreement")
    return Trial(
        data["backend"],
        data["per_second"],
        Agreement(**agreement_data) if agreement_data else None,
        data.get("error"),
        data.get("task_drop"),
    )
