"""OpenVINO models derived once from the local weights, into the model cache.

* ``fp32``: the transformer plus pooling and L2 normalization, converted from torch
  with SDPA attention (OpenVINO fuses it into its own scaled-dot-product attention;
  a model that went through ONNX with eager attention ran slower), dynamic batch and
  length. bf16 is the same model compiled with a bf16 precision hint.
* ``int8``: NNCF post-training static quantization of the fp32 model (model type
  TRANSFORMER) calibrated on real abstracts that the quality guard never sees
  (``engine/data/calibration-abstracts.jsonl.gz``), cut into the same length buckets
  the backend runs.
* ``wint8``: int8 weights only (NNCF weight compression); activations are quantized on
  the fly by the CPU plugin. No calibration, so it is ready in seconds.

Each is an artifact of :func:`engine.embedding.model_artifacts.ensure_artifact`:
made under the model folder's lock into a hidden folder renamed into place, so a
process killed mid-way leaves nothing half-made, and the next run makes it again.
Telemetry of OpenVINO and NNCF stays off (:func:`quiet_openvino`).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

from engine.embedding.model_artifacts import (
    ensure_artifact,
    packaged_abstracts,
    pooled_module,
    pooling_mode,
    quiet_libraries,
)
from engine.errors import ModelError

OPENVINO_RECIPE = 1  # bump whenever conversion or quantization changes
VARIANTS = ("fp32", "int8", "wint8")
CALIBRATION_TEXTS = 128  # enough for stable activation ranges; preparation time grows with it
XML = "model.xml"


def openvino_model(model, variant: str) -> Path:
    """The ``model.xml`` (beside its ``model.bin``) of ``variant``, made on first use."""
    if variant not in VARIANTS:
        raise ModelError(f"openvino variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    fp32 = ensure_artifact(model, f"openvino-fp32-r{OPENVINO_RECIPE}", _convert) / XML
    if variant == "fp32":
        return fp32
    make = _quantize if variant == "int8" else _compress_weights
    # Made after (never inside) the fp32 artifact: the model folder's lock is not re-entrant.
    return ensure_artifact(model, f"openvino-{variant}-r{OPENVINO_RECIPE}", lambda m, work: make(m, fp32, work)) / XML


def openvino_module():
    """``openvino``, imported only after its telemetry is declined: importing it starts
    the converter's telemetry (``openvino.tools.ovc`` initializes it at import)."""
    quiet_openvino()
    try:
        import openvino
    except ImportError as exc:
        raise ModelError("the openvino backends need the openvino package: pip install openvino") from exc
    return openvino


def recipe(variant: str) -> dict:
    """What the manifest records of how an OpenVINO model was made."""
    out = {"engine": "openvino", "engine_version": openvino_module().get_version(), "recipe": OPENVINO_RECIPE}
    if variant == "int8":
        out["quantization"] = {"method": "nncf static", "model_type": "transformer", "calibration": CALIBRATION_TEXTS}
    elif variant == "wint8":
        out["quantization"] = {"method": "nncf int8 weights + dynamic activations"}
    return out


def quiet_openvino() -> None:
    """OpenVINO's converter and NNCF report usage to Google Analytics unless a consent
    file in the user's home says no; paperscope never lets them: NNCF is told it runs
    in CI (its own switch), and the shared consent check answers 'declined' without
    reading or writing anything in the user's home."""
    quiet_libraries()
    os.environ.setdefault("NNCF_CI", "1")
    try:
        from openvino_telemetry.utils import opt_in_checker
    except ImportError:  # no telemetry package: nothing can be sent
        return
    opt_in_checker.OptInChecker.check = lambda self, *args, **kwargs: opt_in_checker.ConsentCheckResult.DECLINED
    for name in ("nncf", "openvino"):
        logging.getLogger(name).setLevel(logging.ERROR)


def calibration_texts(count: int = CALIBRATION_TEXTS) -> list[str]:
    """Real abstracts spread over the corpus, disjoint from the guard's (package data)."""
    return packaged_abstracts("calibration-abstracts.jsonl.gz")[:count]


def _convert(model, work: Path) -> dict:
    ov = openvino_module()
    import torch
    from transformers import AutoModel

    transformer = AutoModel.from_pretrained(str(model.path), attn_implementation="sdpa", local_files_only=True)
    pooled = pooled_module(transformer.eval(), pooling_mode(model.path))
    example = {"input_ids": torch.ones(2, 16, dtype=torch.long), "attention_mask": torch.ones(2, 16, dtype=torch.long)}
    shapes = [("input_ids", [-1, -1], ov.Type.i64), ("attention_mask", [-1, -1], ov.Type.i64)]
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        converted = ov.convert_model(pooled, example_input=example, input=shapes)
    converted.outputs[0].get_tensor().set_names({"embedding"})
    ov.save_model(converted, str(work / XML), compress_to_fp16=False)
    return {**recipe("fp32"), "pooling": pooled.mode, "torch": torch.__version__}


def _quantize(model, fp32: Path, work: Path) -> dict:
    ov = openvino_module()
    import nncf

    from engine.embedding.token_batches import DEFAULT_BATCH_TOKENS, FastTokenizer, bucketed

    # Calibrate on batches shaped like the ones the backend runs (length buckets of
    # ~1k padded tokens), so activation ranges are measured where they occur.
    ids = FastTokenizer(model.path).encode(calibration_texts())
    batches = [
        {"input_ids": b.input_ids, "attention_mask": b.attention_mask} for b in bucketed(ids, DEFAULT_BATCH_TOKENS)
    ]
    quantized = nncf.quantize(
        ov.Core().read_model(str(fp32)),
        nncf.Dataset(batches),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(batches),
    )
    ov.save_model(quantized, str(work / XML), compress_to_fp16=False)
    return recipe("int8")


def _compress_weights(model, fp32: Path, work: Path) -> dict:
    ov = openvino_module()
    import nncf

    compressed = nncf.compress_weights(ov.Core().read_model(str(fp32)), mode=nncf.CompressWeightsMode.INT8_ASYM)
    ov.save_model(compressed, str(work / XML), compress_to_fp16=False)
    return recipe("wint8")
