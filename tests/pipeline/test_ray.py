"""Embedding on a real local Ray (2 CPUs, fractional actors), embedding shards, and
IVF indexes built per shard and merged on disk. Vectors from Ray must match the
single-process path for the same backend; the merged index must answer like one
built in a single pass."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import pytest

import engine
from engine.artifact import shards, store, vectors
from engine.embedding.embedder import bundled_model, chunk_bounds, make_embedder
from engine.errors import IndexCorrupt
from engine.ingest.sources import read_papers
from engine.pipeline.build import Options, build
from tests.conftest import CORPUS_SAMPLE, GA_DIGEST_1

pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def _listening_ports() -> set[int]:
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_ray_build_matches_single_process_and_merges_ivf_shards(tmp_path: Path) -> None:
    from engine.embedding.ray_embed import RayPlan

    plan = RayPlan()
    options = Options(backend="onnx-int8", use_cache=False, progress=False, topics=False, index_type="ivf")
    options.embed_chunk, options.ray = 64, plan  # chunks of 32, 64, 64, 64, 64, 12: both actors get work
    chunks = len(chunk_bounds(300, 64))
    report = build([CORPUS_SAMPLE], tmp_path / "ray", options)
    papers = read_papers(CORPUS_SAMPLE).papers
    assert report.embedded == len(papers) == 300
    assert plan.stats["actors"] == 2 and 0 < plan.stats["cpus_per_actor"] < 1  # fractional on 2 cores
    assert len(plan.stats["actor_peak_rss_mb"]) == 2 and report.ray["shards"] == chunks == 6

    # the single-process path, same backend and the same chunks
    embedder = make_embedder(bundled_model(), "onnx-int8")
    texts = [p.text for p in papers]
    single = np.concatenate([embedder.embed(texts[start:stop]) for start, stop in chunk_bounds(len(texts), 64)])
    version = store.resolve_version(tmp_path / "ray")
    from_ray = np.load(version / store.VECTORS)
    assert np.min(np.sum(single * from_ray, axis=1)) >= 0.9999

    # the IVF index came from the shards, merged on disk, lists beside it
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["index"]["built_from_shards"] == chunks and (version / shards.IVF_DATA).is_file()
    assert manifest["index"]["parts_built_by"] == "ray tasks"  # each shard's part built in a Ray task
    assert manifest["index"]["recall_at_10"] >= vectors.TARGET_RECALL
    assert not [p for p in (tmp_path / "ray").iterdir() if p.name.startswith(".tmp-")]  # shards removed
    with engine.open(tmp_path / "ray") as ix:
        hits = ix.search(papers[7].title, k=5, mode="dense")
        assert hits[0].paper.id == papers[7].id


def test_cli_build_with_ray_then_add_keeps_working(tmp_path: Path) -> None:
    index = tmp_path / "cli"
    # The session's cache, whose models are prepared (a fresh one would run auto's trial
    # again: minutes), but no embedding cache: Ray must embed every paper.
    env = dict(os.environ)
    result = _cli(
        "build",
        str(CORPUS_SAMPLE),
        "--index",
        str(index),
        "--ray",
        "--backend",
        "onnx-int8",
        "--no-cache",
        "--json",
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)  # stdout is only the JSON, whatever Ray and FAISS print
    assert report["embedded"] == 300 and report["ray"]["actors"] == 2
    with engine.open(index) as ix:
        assert ix.has_topics() and len(ix) == 300
    add = _cli("add", str(GA_DIGEST_1), "--index", str(index), "--json", env=env)
    assert add.returncode == 0, add.stderr[-2000:]
    assert json.loads(add.stdout)["papers"] > 300


def test_local_ray_sends_no_usage_stats_and_serves_no_dashboard() -> None:
    import ray
    from ray._common.usage import usage_lib

    from engine.embedding import ray_embed

    before = _listening_ports()
    assert ray_embed.start(None)
    try:
        assert usage_lib.usage_stats_enabled() is False
        assert ray.cluster_resources()["CPU"] == 2
        opened = _listening_ports() - before
        assert 8265 not in opened and 52365 not in opened  # no dashboard, no dashboard agent HTTP
    finally:
        ray_embed.stop()


def test_shards_round_trip_and_refuse_damage(tmp_path: Path) -> None:
    rows, vecs = np.arange(10, 20), np.random.default_rng(0).standard_normal((10, 8)).astype(np.float32)
    path = shards.write_shard(tmp_path, 3, rows, vecs)
    assert path.name == "shard-000003.npz" and not list(tmp_path.glob(".tmp-*"))
    got_rows, got_vecs = shards.read_shard(path)
    np.testing.assert_array_equal(got_rows, rows)
    np.testing.assert_array_equal(got_vecs, vecs)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IndexCorrupt, match=r"shard-000003\.npz"):
        shards.read_shard(path)


def test_ivf_merged_from_shards_answers_like_one_built_in_one_pass(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = rng.standard_normal((4000, 32)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    order = rng.permutation(4000)  # shards arrive with rows in any order, as from Ray
    for number, part in enumerate(np.array_split(order, 4)):
        shards.write_shard(tmp_path / "shards", number, part, data[part])
    version = tmp_path / "v"
    version.mkdir()
    merged = vectors.IVFIndex.from_shards(tmp_path / "shards", data, version / "faiss.index", seed=0)
    spec = merged.spec
    assert spec["built_from_shards"] == 4 and len(merged) == 4000
    one_pass = vectors.trained_ivf(shards.sample_rows(shards.shard_paths(tmp_path / "shards"), 4000, 0), 4000, 0)
    one_pass.add(data)
    del merged
    loaded = vectors.VectorIndex.load(version / "faiss.index", 4000, spec).faiss  # from faiss.ivfdata, on disk
    one_pass.nprobe = loaded.nprobe
    queries = data[:50]
    np.testing.assert_array_equal(loaded.search(queries, 10)[1], one_pass.search(queries, 10)[1])
    moved = tmp_path / "moved"  # the lists file is found beside the index wherever the folder goes
    version.rename(moved)
    again = vectors.VectorIndex.load(moved / "faiss.index", 4000, spec).faiss
    assert (again.search(queries, 1)[1][:, 0] == np.arange(50)).mean() >= 0.95


@contextmanager
def ray_head() -> Iterator[tuple[str, dict]]:
    """A Ray head started apart (as on a cluster) with 2 CPUs: yields its address and
    the environment a client needs to join it. Its processes are stopped afterwards by
    their ids (those naming its own temporary folder, and their children), never by
    ``ray stop``, which would stop every Ray on the machine."""
    import socket
    import tempfile

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ray_bin = Path(sys.executable).parent / "ray"
    # The head turns on Ray's token auth and writes the token to ~/.ray/auth_token; a
    # client sends it only when told the cluster uses tokens.
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token")
    folder = tempfile.mkdtemp(prefix="rayhead-", dir="/tmp")  # short: Ray's socket paths live in it
    head = [str(ray_bin), "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false"]
    head += ["--disable-usage-stats", f"--temp-dir={folder}"]
    try:
        started = subprocess.run(head, env=env, capture_output=True, text=True, timeout=180)
        assert started.returncode == 0, started.stderr[-2000:]
        from ray._private.services import get_node_ip_address

        yield f"{get_node_ip_address()}:{port}", env  # the head's GCS, as a cluster's nodes see it
    finally:
        _stop_processes(_processes_naming(folder))
        shutil.rmtree(folder, ignore_errors=True)


def _processes_naming(text: str) -> set[int]:
    """The live processes whose command line contains ``text``, and their descendants."""
    parents, found = {}, set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if state == "Z":  # exited, waiting for a parent to reap it
            continue
        parents[int(entry.name)] = int(ppid)
        if text in command:
            found.add(int(entry.name))
    while more := {pid for pid, ppid in parents.items() if ppid in found} - found:
        found |= more
    return found


def _stop_processes(pids: set[int], grace: float = 10.0) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while (alive := {pid for pid in pids if _alive(pid)}) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in alive:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_build_on_a_ray_cluster_address(tmp_path: Path) -> None:
    """A Ray head started apart (as on a cluster), reached by its address."""
    with ray_head() as (address, env):
        index = tmp_path / "cluster"
        result = _cli(
            "build", str(GA_DIGEST_1), "--index", str(index), "--ray-address", address, "--no-cache", "--no-topics", "--index-type", "ivf",
            "--json", env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        report = json.loads(result.stdout)
        assert report["embedded"] == len(read_papers(GA_DIGEST_1).papers) and report["ray"]["actors"] == 2
        with engine.open(index) as ix:  # the index parts were built by tasks on the cluster
            assert ix.manifest["index"]["parts_built_by"] == "ray tasks"
            assert ix.search("galaxy", k=3, mode="dense")
