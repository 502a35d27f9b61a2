"""What the graph backends (ONNX Runtime, OpenVINO) share: the hot path around one
model call per batch.

The Rust tokenizer prepares the next group of texts on a helper thread while the
engine (which releases the GIL) runs the current one on every core; each group is cut
into length-bucketed batches of ~1k padded tokens; vectors go back to the caller's
order. A backend says only how to run one batch (:meth:`run_batch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

import numpy as np

from engine.embedding.token_batches import DEFAULT_BATCH_TOKENS, FastTokenizer, bucketed

TOKENIZE_GROUP = 256  # texts tokenized ahead of the model at a time


class TokenBatchEmbedder:
    """Base of the backends that run a graph on padded ``input_ids``/``attention_mask``."""

    width_step = 1  # see token_batches.bucketed

    def __init__(self, model, batch_tokens: int = DEFAULT_BATCH_TOKENS) -> None:
        self._model = model
        self._batch_tokens = batch_tokens

    @property
    def model(self):
        return self._model

    @cached_property
    def tokenizer(self) -> FastTokenizer:
        return FastTokenizer(self._model.path)

    @cached_property
    def dimension(self) -> int:
        return int(self.embed(["dimension probe"]).shape[1])

    def prepare(self) -> None:
        """Load (and, the first time, derive) the model before any text arrives."""

    def run_batch(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Unit-norm vectors for one padded batch, float32 ``[rows, dimension]``."""
        raise NotImplementedError

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """``batch_size`` is ignored: batches are sized by tokens, not texts."""
        self.prepare()
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
                parts.append(self._run(ids))
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _run(self, ids: list[np.ndarray]) -> np.ndarray:
        out: np.ndarray | None = None
        for batch in bucketed(ids, self._batch_tokens, self.width_step):
            vectors = self.run_batch(batch.input_ids, batch.attention_mask)
            if out is None:
                out = np.empty((len(ids), vectors.shape[1]), dtype=np.float32)
            out[batch.rows] = vectors
        assert out is not None
        return out
