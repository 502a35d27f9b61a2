"""ONNX Runtime backend: the exported, fused model in fp32 or int8.

The hot path: the Rust tokenizer prepares the next group of texts on a helper thread
while ONNX Runtime (which releases the GIL) runs the current one on every core; each
group is cut into length-bucketed batches of ~1k tokens; vectors go back to the
caller's order. Loading needs only onnxruntime and tokenizers, so a query process
starts in a fraction of a second; torch is imported only to export, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

import numpy as np

from engine.embedding import hardware, model_artifacts
from engine.embedding.token_batches import DEFAULT_BATCH_TOKENS, FastTokenizer, bucketed
from engine.errors import ModelError

TOKENIZE_GROUP = 256  # texts tokenized ahead of the model at a time


class OnnxEmbedder:
    def __init__(self, model, precision: str = "int8", batch_tokens: int = DEFAULT_BATCH_TOKENS) -> None:
        if precision not in {"fp32", "int8", "int8-rr"}:
            raise ModelError(f"onnx precision must be fp32 or int8, not {precision!r}")
        self._model = model
        # int8 resolves to what suits this CPU (full range with VNNI, reduced without).
        self._precision = model_artifacts.int8_variant() if precision.startswith("int8") else "fp32"
        self._batch_tokens = batch_tokens

    @property
    def model(self):
        return self._model

    @property
    def backend(self) -> str:
        return f"onnx-{self._precision}"

    @property
    def cache_tag(self) -> str:
        return f"{self.backend}-r{model_artifacts.ONNX_RECIPE}"

    @cached_property
    def tokenizer(self) -> FastTokenizer:
        return FastTokenizer(self._model.path)

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
        return ort.InferenceSession(
            str(path),
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=model_artifacts.SESSION_DISABLED_FUSIONS,
        )

    @cached_property
    def dimension(self) -> int:
        return int(self.embed(["dimension probe"]).shape[1])

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """``batch_size`` is ignored: batches are sized by tokens, not texts."""
        session = self._session
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        groups = [texts[i : i + TOKENIZE_GROUP] for i in range(0, len(texts), TOKENIZE_GROUP)]
        parts: list[np.ndarray] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenize") as ahead:
            pending = ahead.submit(self.tokenizer.encode, groups[0])
            for index in range(len(groups)):
                ids = pending.result()
                if index + 1 < len(groups):
                    pending = ahead.submit(self.tokenizer.encode, groups[index + 1])
                parts.append(self._run(session, ids))
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _run(self, session, ids: list[np.ndarray]) -> np.ndarray:
        out: np.ndarray | None = None
        for batch in bucketed(ids, self._batch_tokens):
            vectors = session.run(None, {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask})[0]
            if out is None:
                out = np.empty((len(ids), vectors.shape[1]), dtype=np.float32)
            out[batch.rows] = vectors
        assert out is not None
        return out
