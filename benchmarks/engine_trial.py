#!/usr/bin/env python3
"""Engines tried and not (yet) shipped, against naive ``encode`` and our ``onnx-int8``,
interleaved in one run: CTranslate2 (int8, int8_float32, fp32; tokens per batch) and
ONNX Runtime with its worker threads never spinning.

    pip install ctranslate2          # not a paperscope dependency (see benchmarks/README.md)
    python benchmarks/engine_trial.py [--data ../shared/data] [--n 400] [--rounds 4]
                                      [--loaded] [--json OUT]

CTranslate2 runs the model converted from the bundled weights (into a temporary
folder, timed: that is its preparation cost), on the same tokenization and length
buckets as our backends, mean pooling done here. ``--loaded`` runs the whole
comparison beside one competing CPU-bound process.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from common import DEFAULT_DATA, write_json
from embed import Naive, compare, sample_abstracts


class CTranslate2Encoder:
    """The converted model through ``ctranslate2.Encoder``, batched like our backends."""

    def __init__(self, label: str, folder: Path, compute_type: str, batch_tokens: int = 1024) -> None:
        import ctranslate2

        from engine.embedding.embedder import bundled_model
        from engine.embedding.hardware import usable_cores
        from engine.embedding.token_batches import FastTokenizer

        self.backend, self.batch_tokens = label, batch_tokens
        self.encoder = ctranslate2.Encoder(
            str(folder), device="cpu", compute_type=compute_type, intra_threads=usable_cores(), inter_threads=1
        )
        self.tokenizer = FastTokenizer(bundled_model().path)

    def embed(self, texts):
        from engine.embedding.token_batches import bucketed

        ids = self.tokenizer.encode(texts)
        out = np.empty((len(ids), 384), dtype=np.float32)
        for batch in bucketed(ids, self.batch_tokens):
            lengths = batch.attention_mask.sum(axis=1)
            rows = [row[:n].tolist() for row, n in zip(batch.input_ids, lengths, strict=True)]
            hidden = np.asarray(self.encoder.forward_batch(rows).last_hidden_state)
            mask = batch.attention_mask[:, : hidden.shape[1], None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
            out[batch.rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out


def no_spin_onnx(model):
    """Our onnx-int8 embedder with ``session.intra_op.allow_spinning`` off: idle worker
    threads sleep at once instead of spinning (kinder to a competing process)."""
    import onnxruntime as ort

    from engine.embedding import hardware, model_artifacts
    from engine.embedding.backends.onnx_backend import OnnxEmbedder

    class NoSpin(OnnxEmbedder):
        backend = "onnx-int8 no-spin"  # type: ignore[assignment]

        def prepare(self) -> None:
            if "_session" in self.__dict__:
                return
            options = ort.SessionOptions()
            options.intra_op_num_threads = hardware.usable_cores()
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            path = model_artifacts.onnx_model(self._model, self._precision)
            self.__dict__["_session"] = ort.InferenceSession(
                str(path),
                options,
                providers=["CPUExecutionProvider"],
                disabled_optimizers=model_artifacts.SESSION_DISABLED_FUSIONS,
            )

    return NoSpin(model, "int8")


def convert(model, out: Path) -> dict:
    """The bundled weights converted by CTranslate2, per quantization; seconds taken."""
    from ctranslate2.converters import TransformersConverter

    from engine.embedding.model_artifacts import third_party_quiet

    seconds = {}
    for quantization in ("int8", "float32"):
        tick = time.perf_counter()
        with third_party_quiet():
            TransformersConverter(str(model.path)).convert(str(out / quantization), quantization=quantization)
        seconds[quantization] = round(time.perf_counter() - tick, 1)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--loaded", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")

    from engine.embedding.embedder import bundled_model, make_embedder

    model = bundled_model()
    texts = sample_abstracts(args.data, args.n)
    with tempfile.TemporaryDirectory() as folder:
        converted = Path(folder)
        convert_s = convert(model, converted)
        print(f"CTranslate2 conversion: {convert_s} s")
        found = [
            Naive(model.path),
            make_embedder(model, "onnx-int8"),
            no_spin_onnx(model),
            make_embedder(model, "onnx-fp32"),
            CTranslate2Encoder("ct2-int8", converted / "int8", "int8"),
            CTranslate2Encoder("ct2-int8 2k tokens", converted / "int8", "int8", 2048),
            CTranslate2Encoder("ct2-int8_float32", converted / "int8", "int8_float32"),
            CTranslate2Encoder("ct2-fp32", converted / "float32", "float32"),
        ]
        for variant in found:  # load and warm outside the timing
            variant.embed(texts[:64])
        rows = compare(found, texts, args.rounds, args.loaded)
    write_json(args.json, {"n": len(texts), "loaded": args.loaded, "convert_s": convert_s, "variants": rows})


if __name__ == "__main__":
    main()
