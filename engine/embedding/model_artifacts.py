"""Derived models, made once from the local sentence-transformers folder and reused.

* ``onnx``: the transformer plus pooling and L2 normalization exported with
  ``torch.onnx``, its attention, layer norms and GELUs fused by ONNX Runtime's
  transformer optimizer, and an int8 copy made by dynamic quantization (per-channel
  weights; full int8 range where the CPU has VNNI, reduced range where it does not,
  so the u8×s8 products cannot saturate).
* ``static``: a model2vec model distilled from the same weights (each vocabulary
  token embedded by the model, kept in the model's 384-d space, SIF-weighted).

Everything lives under ``$PAPERSCOPE_CACHE/models/<model fingerprint>/``. Each
artifact is written into a temporary sibling, then renamed into place, under a file
lock, so concurrent processes build it once and nobody ever sees half of one.
Nothing is downloaded: the inputs are the local weights.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from importlib import resources
from pathlib import Path

from engine.embedding import hardware
from engine.embedding.cache import cache_root
from engine.errors import ModelError
from engine.fsutil import atomic_folder, exclusive_lock
from engine.progress import announce, timed

log = logging.getLogger(__name__)

ONNX_RECIPE = 2  # bump whenever the export or quantization steps change
STATIC_RECIPE = 1


# Fusions that make this CPU slower: ONNX Runtime's SkipLayerNormalization and BiasGelu
# kernels are scalar loops (16% and 9-14% of int8 time); plain Add + LayerNormalization
# + Gelu run vectorized. Without them int8 went from 61 to 74 abstracts/s (same
# vectors, interleaved on real abstracts). The session must not re-fuse them either.
UNFUSED = ("enable_skip_layer_norm", "enable_bias_gelu")
SESSION_DISABLED_FUSIONS = ["SkipLayerNormFusion", "BiasGeluFusion"]


def packaged_abstracts(name: str) -> list[str]:
    """The texts of a gzipped JSON-lines sample of real abstracts shipped in engine/data."""
    source = resources.files("engine") / "data" / name
    with source.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    return [f"{r['title']}. {r['abstract']}" for r in records]  # what Paper.text embeds


def model_folder(fingerprint: str) -> Path:
    return cache_root() / "models" / fingerprint


def int8_variant() -> str:
    """``int8`` on CPUs with VNNI; ``int8-rr`` (reduced range) elsewhere: different numbers, different cache key."""
    return "int8" if hardware.has_vnni() else "int8-rr"


def onnx_model(model, precision: str) -> Path:
    """Path of the exported ONNX file for ``precision`` (``fp32`` or an int8 variant)."""
    folder = ensure_artifact(model, f"onnx-r{ONNX_RECIPE}", _build_onnx)
    path = folder / f"model-{precision}.onnx"
    if not path.is_file():
        with exclusive_lock(folder.parent / ".lock", wait_seconds=None):
            if not path.is_file():
                announce(f"making onnx-{precision} from the exported model (once)")
                with third_party_quiet():  # the quantizer logs advice to the root logger
                    _quantize(folder / "model-fp32.onnx", path, reduce_range=precision == "int8-rr")
    return path


def static_model(model) -> Path:
    """Folder of the model2vec model distilled from ``model``."""
    return ensure_artifact(model, f"static-r{STATIC_RECIPE}", _distill)


def ensure_artifact(model, name: str, make: Callable[[object, Path], dict]) -> Path:
    home = model_folder(model.fingerprint)
    target = home / name
    if (target / "artifact.json").is_file():
        return target
    with exclusive_lock(home / ".lock", wait_seconds=None):
        if (target / "artifact.json").is_file():  # another process made it while we waited
            return target
        with atomic_folder(target) as work:  # a process that dies mid-way leaves only a hidden folder
            announce(f"making {name} from {model.name} (once; kept in {home.parent})")
            seconds: dict[str, float] = {}
            with timed(seconds, "make"), third_party_quiet():
                details = make(model, work)
            announce(f"made {name} in {seconds['make']:.0f} s")
            details.update(model=model.name, fingerprint=model.fingerprint, seconds=round(seconds["make"], 1))
            (work / "artifact.json").write_text(json.dumps(details, indent=2))
    return target


def pooling_mode(model_dir: Path) -> str:
    config = model_dir / "1_Pooling" / "config.json"
    if not config.is_file():
        return "mean"
    settings = json.loads(config.read_text())
    if settings.get("pooling_mode_mean_tokens"):
        return "mean"
    if settings.get("pooling_mode_cls_token"):
        return "cls"
    raise ModelError(f"{config}: only mean or CLS pooling can be exported to ONNX")


def _build_onnx(model, work: Path) -> dict:
    import torch
    from transformers import AutoConfig, AutoModel

    quiet_libraries()
    config = AutoConfig.from_pretrained(str(model.path), local_files_only=True)
    # Eager attention exports the MatMul/Softmax pattern that ONNX Runtime fuses into
    # one Attention kernel; SDPA would export as an opaque subgraph it cannot fuse.
    transformer = AutoModel.from_pretrained(str(model.path), attn_implementation="eager", local_files_only=True)
    pooled = pooled_module(transformer.eval(), pooling_mode(model.path))
    raw = work / "raw.onnx"
    example = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            pooled,
            example,
            str(raw),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
            opset_version=17,
        )
    fused = _fuse(raw, work / "model-fp32.onnx", config)
    raw.unlink()
    return {"recipe": ONNX_RECIPE, "pooling": pooled.mode, "fused": fused, "torch": torch.__version__}


def _fuse(raw: Path, out: Path, config) -> dict:
    if config.model_type not in {"bert", "roberta", "distilbert", "xlm-roberta", "mpnet"}:
        shutil.copyfile(raw, out)  # unknown architecture: run unfused, still correct
        return {}
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    fusions = FusionOptions("bert")
    for name in UNFUSED:
        setattr(fusions, name, False)
    optimized = optimizer.optimize_model(
        str(raw),
        model_type="bert",
        num_heads=config.num_attention_heads,
        hidden_size=config.hidden_size,
        opt_level=1,  # portable fusions only; hardware-specific ones happen at session start
        optimization_options=fusions,
    )
    optimized.save_model_to_file(str(out))
    return {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}


def _quantize(fp32: Path, out: Path, reduce_range: bool) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet_libraries()
    tmp = out.with_name(f".{out.name}.tmp")
    quantize_dynamic(
        str(fp32),
        str(tmp),
        weight_type=QuantType.QInt8,
        # Per-channel scales: one per-tensor scale lets a few outlier columns crush the
        # rest (mean cosine 0.94 to fp32 instead of 0.995, measured on real abstracts).
        per_channel=True,
        reduce_range=reduce_range,
        op_types_to_quantize=["MatMul", "Attention"],
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True},
    )
    os.replace(tmp, out)


def _distill(model, work: Path) -> dict:
    quiet_libraries()
    from model2vec.distill import distill

    # pca_dims=None keeps the teacher's 384-d output space, so static vectors are
    # directly comparable with the model's (the quality guard measures how far).
    static = distill(model_name=str(model.path), pca_dims=None)
    static.save_pretrained(str(work))
    import model2vec

    return {"recipe": STATIC_RECIPE, "model2vec": model2vec.__version__, "pca_dims": None}


def offline_environment() -> None:
    """Nothing may reach a model hub at run time: every model is a local folder. Library
    progress bars stay off too (ours are rich bars, on a terminal only)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")  # Rust threads; we never fork after tokenizing
    os.environ.setdefault("TQDM_DISABLE", "1")


@contextmanager
def third_party_quiet() -> Iterator[None]:
    """While a model is derived, the libraries say nothing: their warnings and log lines
    below ERROR are dropped (onnxruntime's quantizer logs advice to the root logger),
    and whatever they print to stdout (NNCF draws rich progress bars there) goes to
    /dev/null at the file-descriptor level, so ``--json`` output stays pure. What
    paperscope has to say comes through :func:`engine.progress.announce` (stderr)."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    sys.stdout.flush()
    saved, sink = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(sink, 1)
    try:
        with warnings.catch_warnings(), open(os.devnull, "w") as silent, redirect_stdout(silent):
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(sink)
        logging.disable(previous)


def quiet_libraries() -> None:
    """Before transformers, torch.onnx or model2vec run: offline, and only errors logged.

    transformers reads these variables when it is imported; it is told directly only if
    it already was. Importing it here would cost a query process seconds (it imports
    torch), which an OpenVINO backend that only loads a prepared model never needs."""
    offline_environment()
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in ("onnxruntime", "transformers", "model2vec"):
        logging.getLogger(name).setLevel(logging.ERROR)
    hf_logging = sys.modules.get("transformers.utils.logging")
    if hf_logging is not None:
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


def pooled_module(transformer, mode: str):
    """Transformer → pooling → L2 norm as one torch module (what sentence-transformers
    computes), defined here so torch is imported only when exporting."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer
            self.mode = mode

        def forward(self, input_ids, attention_mask):
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            if self.mode == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return Pooled()
