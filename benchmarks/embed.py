#!/usr/bin/env python3
"""Batch embedding: the naive sentence-transformers call against every backend.

    python benchmarks/embed.py [--data ../shared/data] [--n 2000] [--json OUT]
                               [--rounds 8] [--ghz 4.0] [--profile] [--modes quiet,loaded]
                               [--backends a,b,...] [--task-check] [--write-task-check]

N real abstracts, spread evenly over arxiv-87k.jsonl.gz (every field, every month).
All variants run in one process, interleaved: the texts are cut into ``--rounds``
slices and every variant embeds each slice, in an order rotated per slice, so a
noisy machine slows them alike. The naive variant is the plain
``SentenceTransformer(path).encode(texts, batch_size=32)`` in fp32; it is also the
reference for quality (cosine per abstract, 10-NN overlap).

Per variant: abstracts/s, real tokens/s, ratio to naive, achieved GFLOP/s (useful
work only: padding counts as waste), share of the CPU's peak for the variant's
number format (cores x GHz x FLOP/cycle: fp32 64, bf16 128, int8 256 on AVX-512
Zen 5), cosine mean/min, nn10 overlap, and peak RSS of a separate process that loads
only that variant and embeds 512 abstracts. Also: measured GEMM ceilings (the best a
large matrix product reaches here), query latency p50/p95 per backend, the cold
start of a query process, which backend ``auto`` chose, and with ``--profile`` where
ONNX Runtime spends its time (per operator type).

``--modes quiet,loaded`` times every variant twice in the same run: quiet, and
``loaded``, beside one competing CPU-bound process (a single-threaded loop of float
work started before the timing and stopped after it), which is how a build fares next
to the server or other work. ``--task-check`` scores each variant's vectors on the
related-papers task (CSFCube dev half, NDCG@20, see benchmarks/csfcube.py);
``--write-task-check`` writes the figures to engine/data/task-check.json, which
``auto`` reads: a backend more than 0.005 below the fp32 reference is never chosen.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import DEFAULT_DATA, ROOT, write_json

BACKENDS = [
    "torch-fp32",
    "torch-bf16",
    "onnx-fp32",
    "onnx-int8",
    "openvino-fp32",
    "openvino-bf16",
    "openvino-int8",
    "openvino-wint8",
    "static",
]
FORMAT_OF = {
    "naive": "fp32",
    "torch-fp32": "fp32",
    "torch-bf16": "bf16",
    "onnx-fp32": "fp32",
    "onnx-int8": "int8",
    "openvino-fp32": "fp32",
    "openvino-bf16": "bf16",
    "openvino-int8": "int8",
    "openvino-wint8": "int8",
}
BURNER = "import numpy as np\na = np.random.rand(256, 256)\nwhile True:\n    a = np.tanh(a @ a.T / 256)"
FLOP_PER_CYCLE = {"fp32": 64, "bf16": 128, "int8": 256}  # per core: 2 x 512-bit FMA pipes
QUERIES = [
    "graph neural networks for molecules",
    "dark matter halo density profiles",
    "adversarial attacks on image classifiers",
    "retrieval augmented generation evaluation",
    "quantum error correction surface codes",
    "diffusion models for video generation",
    "medical image segmentation with transformers",
    "reinforcement learning from human feedback",
    "neural architecture search",
    "gravitational wave detection",
]


def sample_abstracts(data: Path, n: int) -> list[str]:
    with gzip.open(data / "arxiv-87k.jsonl.gz", "rt", encoding="utf-8") as handle:
        lines = handle.readlines()
    step = max(1, len(lines) // n)
    records = [json.loads(line) for line in lines[::step][:n]]
    return [f"{r['title']}. {r['abstract']}" for r in records]  # what Paper.text embeds


def flop_per_sequence(config: dict):
    """Multiply-adds x2 of one sequence of L tokens: the linear layers (per token) plus
    attention scores and mixing (per token pair)."""
    h, ffn, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    per_token = 2 * layers * (4 * h * h + 2 * h * ffn)
    per_pair = 2 * 2 * layers * h
    return lambda lengths: float(np.sum(per_token * lengths + per_pair * lengths.astype(np.float64) ** 2))


class Naive:
    backend = "naive"

    def __init__(self, path: Path) -> None:
        from sentence_transformers import SentenceTransformer

        self.st = SentenceTransformer(str(path), device="cpu")

    def embed(self, texts):
        return self.st.encode(list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True)


def make(name: str):
    from engine.embedding.embedder import bundled_model, make_embedder

    return Naive(bundled_model().path) if name == "naive" else make_embedder(bundled_model(), name)


def gemm_ceilings(cores: int) -> dict:
    """GFLOP/s of a large matrix product per number format: what the kernels reach here."""
    import torch

    torch.set_num_threads(cores)
    m, k, n = 4096, 384, 1536
    out = {}
    for name, make_pair, fn in (
        ("fp32", lambda: (torch.randn(m, k), torch.randn(k, n)), torch.matmul),
        (
            "bf16",
            lambda: (torch.randn(m, k, dtype=torch.bfloat16), torch.randn(k, n, dtype=torch.bfloat16)),
            torch.matmul,
        ),
        (
            "int8",
            lambda: (
                torch.randint(-99, 99, (m, k), dtype=torch.int8),
                torch.randint(-99, 99, (k, n), dtype=torch.int8),
            ),
            torch._int_mm,
        ),
    ):
        a, b = make_pair()
        for _ in range(3):
            fn(a, b)
        tick = time.perf_counter()
        for _ in range(30):
            fn(a, b)
        out[name] = round(2 * m * k * n * 30 / (time.perf_counter() - tick) / 1e9, 1)
    return out


def query_latency(embedders: dict, repeats: int = 20) -> dict:
    out = {}
    for name, embedder in embedders.items():
        if name == "naive":
            continue
        embedder.embed([QUERIES[0]])
        times = []
        for _ in range(repeats):
            for q in QUERIES:
                tick = time.perf_counter()
                embedder.embed([q])
                times.append((time.perf_counter() - tick) * 1000)
        times.sort()
        out[name] = {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(len(times) * 0.95)], 2)}
    return out


def standalone(name: str, texts: list[str]) -> dict:
    """Peak RSS of a process that loads only this variant and embeds the texts, and the
    seconds from process start to a first query vector (import + load + embed).
    VmHWM, not ru_maxrss: the latter carries the parent's peak across fork and exec."""
    code = (
        "import sys, time, json; t0 = time.perf_counter(); sys.path.insert(0, sys.argv[1]);"
        "sys.path.insert(0, sys.argv[1] + '/benchmarks'); from embed import make;"
        "e = make(sys.argv[2]); e.embed(['graph neural networks']); t1 = time.perf_counter() - t0;"
        "texts = json.load(sys.stdin); e.embed(texts);"
        "print(json.dumps({'cold_query_s': round(t1, 2),"
        "'peak_rss_mb': [round(int(l.split()[1]) / 1024, 1) for l in open('/proc/self/status') if l.startswith('VmHWM')][0]}))"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), name],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_s"] = round(time.perf_counter() - started, 2)
    return figures


def onnx_profile(texts: list[str], precision: str = "int8") -> dict:
    """Share of ONNX Runtime's kernel time per operator type on real, bucketed batches."""
    import tempfile

    import onnxruntime as ort

    from engine.embedding.embedder import bundled_model
    from engine.embedding.model_artifacts import SESSION_DISABLED_FUSIONS, int8_variant, onnx_model
    from engine.embedding.token_batches import FastTokenizer, bucketed

    model = bundled_model()
    precision = int8_variant() if precision == "int8" else precision
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    session = ort.InferenceSession(
        str(onnx_model(model, precision)),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=SESSION_DISABLED_FUSIONS,
    )
    for batch in bucketed(FastTokenizer(model.path).encode(texts)):
        session.run(None, {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask})
    events = json.loads(Path(session.end_profiling()).read_text())
    totals: dict[str, float] = {}
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            op = event["args"]["op_name"]
            totals[op] = totals.get(op, 0.0) + event["dur"]
    whole = sum(totals.values())
    return {op: round(us / whole, 4) for op, us in sorted(totals.items(), key=lambda kv: -kv[1]) if us / whole >= 0.001}


class Burner:
    """One competing CPU-bound process (single-threaded float work) for the loaded mode."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.process = enabled, None

    def __enter__(self) -> Burner:
        if self.enabled:
            env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            self.process = subprocess.Popen([sys.executable, "-c", BURNER], env=env)
            time.sleep(1.0)  # let it reach full speed before the timing starts
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


def compare(variants: list, texts: list[str], rounds: int, loaded: bool) -> list[dict]:
    """Interleaved speed of ``variants`` (the first is the reference: naive) and their
    agreement with it, quiet or beside one busy process; prints a line per variant."""
    from engine.embedding.guard import agreement, timed_interleaved

    with Burner(loaded):
        vectors, speeds = timed_interleaved(variants, texts, rounds=rounds)
    print(f"{len(texts)} abstracts, {'loaded' if loaded else 'quiet'}")
    rows = []
    for variant, vecs, speed in zip(variants, vectors, speeds, strict=True):
        quality = agreement(vectors[0], vecs)
        rows.append({"variant": variant.backend, "per_s": round(speed, 1), "ratio": round(speed / speeds[0], 2)})
        rows[-1].update(vars(quality))
        print(
            f"{variant.backend:24s} {speed:7.1f}/s  x{speed / speeds[0]:5.2f}  cos {quality.cos_mean:.4f} "
            f"min {quality.cos_min:.4f} nn10 {quality.nn10_overlap:.3f}",
            flush=True,
        )
    return rows


def usable(names: list[str]) -> list[str]:
    """The variants this machine can run (bf16 needs native bf16)."""
    from engine.embedding import hardware

    return [n for n in names if not n.endswith("bf16") or hardware.has_bf16()]


def task_check(data: Path, embedders: dict) -> dict:
    """Related-paper NDCG@20 on CSFCube's dev half for each variant's vectors."""
    import csfcube

    cube = csfcube.load(data)
    scores = {}
    for name, embedder in embedders.items():
        vectors = embedder.embed(cube.texts)
        scores[name] = round(csfcube.score(cube, csfcube.dense_ranker(cube, vectors)), 4)
        print(f"  task check {name}: NDCG@20 {scores[name]}", flush=True)
    return scores


def write_task_check(scores: dict, embedders: dict) -> None:
    """engine/data/task-check.json: NDCG@20 per backend recipe (cache tag) and the fp32
    reference's, which ``auto`` reads (never committing the benchmark data itself)."""
    reference = scores["naive"]
    by_tag = {
        embedders[n].cache_tag: v for n, v in scores.items() if n != "naive" and hasattr(embedders[n], "cache_tag")
    }
    payload = {
        "task": "CSFCube dev half, related papers by cosine, NDCG@20",
        "command": "python benchmarks/embed.py --task-check --write-task-check",
        "reference_fp32": reference,
        "max_drop": 0.005,
        "ndcg20": by_tag,
    }
    (ROOT / "engine" / "data" / "task-check.json").write_text(json.dumps(payload, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--ghz", type=float, default=4.0, help="clock for the peak figure (Zen 5 boost)")
    parser.add_argument("--profile", action="store_true", help="add ONNX Runtime's per-operator profile")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--modes", default="quiet", help="quiet, loaded, or both: quiet,loaded")
    parser.add_argument("--backends", default=None, help="comma-separated subset of the backends")
    parser.add_argument("--task-check", action="store_true", help="score each variant on CSFCube (related papers)")
    parser.add_argument("--write-task-check", action="store_true", help="and write engine/data/task-check.json")
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")

    from engine.embedding import hardware
    from engine.embedding.embedder import bundled_model, load_embedder
    from engine.embedding.guard import agreement, timed_interleaved
    from engine.embedding.token_batches import FastTokenizer

    texts = sample_abstracts(args.data, args.n)
    model = bundled_model()
    lengths = np.array([len(ids) for ids in FastTokenizer(model.path).encode(texts)])
    config = json.loads((model.path / "config.json").read_text())
    flops = flop_per_sequence(config)(lengths)
    cores = hardware.usable_cores()
    auto = load_embedder(backend="auto").backend  # may run the guard's trials once

    names = ["naive", *usable(args.backends.split(",") if args.backends else BACKENDS)]
    embedders = {name: make(name) for name in names}
    print(
        f"{len(texts)} abstracts, {lengths.mean():.0f} tokens on average ({(lengths >= 256).mean():.0%} truncated at 256)"
    )
    modes = args.modes.split(",")
    loaded_speeds = None
    for mode in modes:
        print(f"{mode}: interleaving {len(names)} variants over {args.rounds} rounds on {cores} cores...", flush=True)
        with Burner(mode == "loaded"):
            vectors_now, speeds_now = timed_interleaved(list(embedders.values()), texts, rounds=args.rounds)
        if mode == "loaded":
            loaded_speeds = speeds_now
        if mode == modes[0]:
            vectors, speeds = vectors_now, speeds_now
    reference = vectors[0]

    rows = []
    for name, vecs, per_s in zip(names, vectors, speeds, strict=True):
        seconds = len(texts) / per_s
        fmt = FORMAT_OF.get(name)
        gflops = flops / seconds / 1e9 if fmt else None
        peak = cores * args.ghz * FLOP_PER_CYCLE[fmt] if fmt else None
        quality = agreement(reference, vecs)
        rows.append(
            {
                "variant": name,
                "backend": embedders[name].backend,
                "abstracts_per_s": round(per_s, 1),
                "tokens_per_s": round(float(lengths.sum()) / seconds),
                "ratio_to_naive": round(per_s / speeds[0], 2),
                **(
                    {"loaded_ratio_to_naive": round(loaded_speeds[names.index(name)] / loaded_speeds[0], 2)}
                    if loaded_speeds
                    else {}
                ),
                "gflops": round(gflops, 1) if gflops else None,
                "share_of_limit": round(gflops / peak, 3) if gflops else None,
                "cos_mean": quality.cos_mean,
                "cos_min": quality.cos_min,
                "nn10_overlap": quality.nn10_overlap,
            }
        )
    print("standalone processes (peak memory, cold query start)...", flush=True)
    for row in rows:
        row.update(standalone(row["variant"], texts[:512]))
    latency = query_latency(embedders)
    ceilings = gemm_ceilings(cores)
    tasks = task_check(args.data, {n: e for n, e in embedders.items() if n != "static"}) if args.task_check else {}
    if args.write_task_check:
        write_task_check(tasks, embedders)

    header = (
        f"{'variant':15s} {'abs/s':>7s} {'tok/s':>7s} {'x naive':>7s} {'loaded':>6s} {'GFLOP/s':>8s} {'of peak':>7s} "
    )
    header += f"{'cos mean':>8s} {'cos min':>8s} {'nn10':>5s} {'RSS MB':>7s} {'cold s':>6s} {'q p50 ms':>8s}"
    print(header)
    for row in rows:
        q = latency.get(row["variant"], {}).get("p50_ms")
        print(
            f"{row['variant']:15s} {row['abstracts_per_s']:7.1f} {row['tokens_per_s']:7d} {row['ratio_to_naive']:7.2f} "
            f"{row.get('loaded_ratio_to_naive') or 0:6.2f} "
            f"{row['gflops'] or 0:8.1f} {row['share_of_limit'] or 0:7.1%} {row['cos_mean']:8.5f} {row['cos_min']:8.5f} "
            f"{row['nn10_overlap']:5.3f} {row['peak_rss_mb']:7.0f} {row['cold_query_s']:6.2f} {q if q is not None else '-':>8}"
        )
    print(f"auto chose: {auto}")
    print("GEMM ceilings here (GFLOP/s, 4096x384 @ 384x1536): " + ", ".join(f"{k} {v}" for k, v in ceilings.items()))
    figures = {
        "n": len(texts),
        "mean_tokens": round(float(lengths.mean()), 1),
        "truncated_share": round(float((lengths >= 256).mean()), 3),
        "cores": cores,
        "cpu": hardware.cpu_model(),
        "peak_gflops": {fmt: cores * args.ghz * f for fmt, f in FLOP_PER_CYCLE.items()},
        "gemm_ceiling_gflops": ceilings,
        "auto": auto,
        "variants": rows,
        "query_latency": latency,
        "modes": modes,
        "task_check_ndcg20": tasks,
    }
    if args.profile:
        figures["onnx_int8_profile"] = onnx_profile(texts[:256])
        print(
            "ONNX Runtime int8, share of kernel time: "
            + ", ".join(f"{k} {v:.0%}" for k, v in figures["onnx_int8_profile"].items())
        )
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
