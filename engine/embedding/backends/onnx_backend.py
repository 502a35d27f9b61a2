"""ONNX Runtime backend: the exported, fused model in fp32 or int8.

The hot path (tokenizing ahead, length buckets) is :mod:`.batched`'s. Loading needs
only onnxruntime and tokenizers, so a query process starts in a fraction of a second;
torch is imported only to export, once.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from engine.embedding import hardware, model_artifacts
from engine.embedding.backends.batched import TokenBatchEmbedder
from engine.embedding.token_batches import DEFAULT_BATCH_TOKENS
from engine.errors import ModelError


class OnnxEmbedder(TokenBatchEmbedder):
    def __init__(self, model, precision: str = "int8", batch_tokens: int = DEFAULT_BATCH_TOKENS) -> None:
        if precision not in {"fp32", "int8", "int8-rr"}:
            raise ModelError(f"onnx precision must be fp32 or int8, not {precision!r}")
        super().__init__(model, batch_tokens)
        # int8 resolves to what suits this CPU (full range with VNNI, reduced without).
        self._precision = model_artifacts.int8_variant() if precision.startswith("int8") else "fp32"

    @property
    def backend(self) -> str:
        return f"onnx-{self._precision}"

    @property
    def cache_tag(self) -> str:
        return f"{self.backend}-r{model_artifacts.ONNX_RECIPE}"

    @property
    def recipe(self) -> dict:
        import onnxruntime

        out = {
            "engine": "onnxruntime",
            "engine_version": onnxruntime.__version__,
            "recipe": model_artifacts.ONNX_RECIPE,
        }
        if self._precision != "fp32":
            out["quantization"] = {
                "method": "onnxruntime dynamic",
                "per_channel": True,
                "reduce_range": self._precision == "int8-rr",
            }
        return out

    @cached_property
    def _session(self):
        import onnxruntime as ort

        path = model_artifacts.onnx_model(self._model, self._precision)
        options = ort.SessionOptions()
        options.intra_op_num_threads = hardware.usable_cores()
        options.inter_op_num_threads = 1  # the graph is a chain: parallelism lives inside each op
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Threads spin between ops within a run (throughput) but stop when a run ends:
        # left spinning, they took both cores from the FAISS search right after a query
        # embedding (exact search at 87k: 32 ms end to end, 16 ms with this; batch speed
        # unchanged within noise).
        options.add_session_config_entry("session.force_spinning_stop", "1")
        # Nor do they spin between ops: beside one busy process that measured +8-10%
        # (2.06x naive instead of 1.87x), on a quiet machine -4-5%; paperscope builds
        # while its server answers and its user works (benchmarks/engine_trial.py).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(
            str(path),
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=model_artifacts.SESSION_DISABLED_FUSIONS,
        )

    def prepare(self) -> None:
        self._session  # noqa: B018 - opened (and the model derived) on first use

    def run_batch(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self._session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]
