#!/usr/bin/env python3
"""OpenVINO's settings tried on this machine, against naive ``encode`` and our ONNX
Runtime int8, interleaved in one run (the numbers behind the openvino backend's choices).

    python benchmarks/openvino_tuning.py [--data ../shared/data] [--n 600] [--rounds 4]
                                         [--loaded] [--json OUT]

Variants (each the prepared model of the openvino backend, compiled with one setting
changed): precision hint, performance hint and streams, tokens per batch, rounding of
batch widths (fewer distinct shapes), static shapes per length bucket, and the
activation-quantization group size of the int8-weights model. ``--loaded`` runs the
whole comparison beside one competing CPU-bound process.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import DEFAULT_DATA, write_json
from embed import Naive, compare, sample_abstracts


class Variant:
    """An OpenVINO model compiled with ``config``, run through the backend's own batching."""

    def __init__(self, label: str, xml: Path, config: dict, batch_tokens: int = 1024, step: int = 1, static=False):
        import openvino as ov

        from engine.embedding.embedder import bundled_model
        from engine.embedding.token_batches import FastTokenizer

        self.backend, self.tokens, self.step, self.static = label, batch_tokens, step, static
        self.core, self.config = ov.Core(), config
        self.model = self.core.read_model(str(xml))
        self.compiled = {}
        self.tokenizer = FastTokenizer(bundled_model().path)

    def request(self, shape: tuple[int, int]):
        key = shape if self.static else None
        if key not in self.compiled:
            model = self.model.clone() if self.static else self.model
            if self.static:
                model.reshape({"input_ids": list(shape), "attention_mask": list(shape)})
            self.compiled[key] = self.core.compile_model(model, "CPU", self.config).create_infer_request()
        return self.compiled[key]

    def embed(self, texts):
        from engine.embedding.token_batches import bucketed

        ids = self.tokenizer.encode(texts)
        out = None
        for batch in bucketed(ids, self.tokens, self.step):
            inputs, mask = batch.input_ids, batch.attention_mask
            if self.static:  # pad rows too, so each width has one shape
                rows = max(1, min(64, self.tokens // inputs.shape[1]))
                inputs = np.pad(inputs, ((0, rows - len(inputs)), (0, 0)))
                mask = np.pad(mask, ((0, rows - len(mask)), (0, 0)))
            vectors = self.request(inputs.shape).infer({"input_ids": inputs, "attention_mask": mask})[0]
            if out is None:
                out = np.empty((len(ids), vectors.shape[1]), dtype=np.float32)
            out[batch.rows] = vectors[: len(batch.rows)]
        return out


def variants() -> list:
    from engine.embedding.embedder import bundled_model, make_embedder
    from engine.embedding.openvino_artifacts import openvino_model

    model = bundled_model()
    paths = {v: openvino_model(model, v) for v in ("fp32", "int8", "wint8")}
    base = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32", "NUM_STREAMS": 1}
    out = [Naive(model.path), make_embedder(model, "onnx-int8")]
    out += [
        Variant("ov-fp32", paths["fp32"], base),
        Variant("ov-int8", paths["int8"], base),
        Variant("ov-int8 step16", paths["int8"], base, step=16),
        Variant("ov-int8 step32 static", paths["int8"], base, step=32, static=True),
        Variant("ov-int8 2k tokens", paths["int8"], base, batch_tokens=2048),
        Variant("ov-int8 512 tokens", paths["int8"], base, batch_tokens=512),
        Variant("ov-int8 throughput", paths["int8"], {**base, "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": 2}),
        Variant("ov-wint8", paths["wint8"], base),
        Variant("ov-wint8 dq32", paths["wint8"], {**base, "DYNAMIC_QUANTIZATION_GROUP_SIZE": 32}),
        Variant("ov-wint8 dq0", paths["wint8"], {**base, "DYNAMIC_QUANTIZATION_GROUP_SIZE": 0}),
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--loaded", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    texts = sample_abstracts(args.data, args.n)
    found = variants()
    for v in found:  # compile every shape once outside the timing
        v.embed(texts)
    rows = compare(found, texts, args.rounds, args.loaded)
    write_json(args.json, {"n": len(texts), "loaded": args.loaded, "variants": rows})


if __name__ == "__main__":
    main()
