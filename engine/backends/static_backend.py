"""Static embeddings: a model2vec model distilled locally from the bundled weights.

A text's vector is the weighted mean of its tokens' precomputed vectors: no
transformer runs, so it indexes thousands of abstracts per second, at clearly lower
quality (the quality guard measures how much; ``auto`` never picks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from engine import model_artifacts


class StaticEmbedder:
    def __init__(self, model) -> None:
        self._model = model

    @property
    def model(self):
        return self._model

    @property
    def backend(self) -> str:
        return "static"

    @cached_property
    def _static(self):
        from model2vec import StaticModel

        return StaticModel.from_pretrained(model_artifacts.static_model(self._model), normalize=True)

    @property
    def dimension(self) -> int:
        return int(self._static.dim)

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # One process: vectorize already hands over bounded chunks, and forked workers
        # would fight the caller for the same two cores.
        vectors = self._static.encode(list(texts), use_multiprocessing=False, batch_size=1024)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)  # a text of unknown tokens only stays a zero vector
