"""OpenVINO backend: the model converted from torch, in fp32, bf16 (where the CPU has
it), int8 (NNCF static quantization) or wint8 (int8 weights, activations quantized on
the fly).

The hot path (tokenizing ahead, length buckets) is :mod:`.batched`'s. OpenVINO's CPU
plugin defaults to bf16 on CPUs that have it, so fp32 and both int8 variants pin the
precision hint to f32 (for int8, the layers left unquantized then stay fp32). Compiled
models are cached beside the model (OpenVINO's ``CACHE_DIR``), so a query process
loads in a fraction of the first compile's time.
"""

from __future__ import annotations

import threading
from functools import cached_property

import numpy as np

from engine.embedding import hardware, openvino_artifacts
from engine.embedding.backends.batched import TokenBatchEmbedder
from engine.embedding.token_batches import DEFAULT_BATCH_TOKENS
from engine.errors import ModelError

PRECISIONS = ("fp32", "bf16", "int8", "wint8")


class OpenVinoEmbedder(TokenBatchEmbedder):
    def __init__(self, model, precision: str = "int8", batch_tokens: int = DEFAULT_BATCH_TOKENS) -> None:
        if precision not in PRECISIONS:
            raise ModelError(f"openvino precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        if precision == "bf16" and not hardware.has_bf16():
            raise ModelError("openvino-bf16 needs a CPU with native bf16 (AVX512-BF16 or AMX)")
        super().__init__(model, batch_tokens)
        self._precision = precision
        self._lock = threading.Lock()  # one infer request: calls from several threads take turns

    @property
    def backend(self) -> str:
        return f"openvino-{self._precision}"

    @property
    def cache_tag(self) -> str:
        return f"{self.backend}-r{openvino_artifacts.OPENVINO_RECIPE}"

    @property
    def recipe(self) -> dict:
        return openvino_artifacts.recipe("fp32" if self._precision == "bf16" else self._precision)

    @cached_property
    def _request(self):
        try:
            ov = openvino_artifacts.openvino_module()
        except ModelError as exc:
            raise ModelError(f"the {self.backend} backend needs the openvino package: pip install openvino") from exc
        variant = "fp32" if self._precision == "bf16" else self._precision
        path = openvino_artifacts.openvino_model(self._model, variant)
        core = ov.Core()
        core.set_property({"CACHE_DIR": str(path.parent / "compiled")})
        config = {
            "PERFORMANCE_HINT": "LATENCY",  # one stream: a batch uses every core
            "INFERENCE_NUM_THREADS": hardware.usable_cores(),
            "INFERENCE_PRECISION_HINT": "bf16" if self._precision == "bf16" else "f32",
        }
        compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        return compiled.create_infer_request()

    def prepare(self) -> None:
        self._request  # noqa: B018 - compiled (and the model derived) on first use

    def run_batch(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        with self._lock:
            result = self._request.infer({"input_ids": input_ids, "attention_mask": attention_mask})
            return np.array(result[0], dtype=np.float32)  # a copy: the request reuses its buffers
