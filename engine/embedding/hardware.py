"""What this CPU can do, read once: cores we may use and the instruction sets that
decide which numeric formats are fast (bf16, int8 with VNNI)."""

from __future__ import annotations

import hashlib
import os
import platform
from functools import cache
from pathlib import Path


@cache
def cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


@cache
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def has_bf16() -> bool:
    """Native bf16 dot products (AVX512-BF16 or AMX-BF16)."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def has_vnni() -> bool:
    """int8 dot products in one instruction (AVX512-VNNI or AVX-VNNI): int8 GEMMs run
    ~4x fp32, and quantized weights need no reduced range to avoid overflow."""
    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & cpu_flags())


def usable_cores() -> int:
    """Cores this process may run on (respects taskset and cgroup CPU sets), or fewer
    when ``PAPERSCOPE_THREADS`` says so: a Ray actor gets a share of a machine that
    other actors run on too."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        cores = max(1, os.cpu_count() or 1)
    limit = os.environ.get("PAPERSCOPE_THREADS", "")
    return min(cores, int(limit)) if limit.isdigit() and int(limit) > 0 else cores


def cpu_signature() -> str:
    """Short key for decisions measured on this CPU (e.g. which backend ``auto`` picked)."""
    relevant = sorted(f for f in cpu_flags() if f.startswith(("avx", "amx", "fma", "sse4")))
    text = f"{cpu_model()}|{usable_cores()}|{' '.join(relevant)}"
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
