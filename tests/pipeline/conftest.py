"""What the sync tests share (``sync --arxiv-api`` and ``sync --oai-pmh``)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def sync_embedder():
    """The bundled model on torch fp32: real, and ready in a second on a cold cache (the
    session's ``auto`` embedder first exports and quantizes an ONNX model, ~100 s here)."""
    from engine.embedding.embedder import load_embedder

    return load_embedder(backend="torch-fp32")
