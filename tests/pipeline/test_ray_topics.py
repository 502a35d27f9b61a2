"""The topic stage's kNN searches in chunks: the local searcher (the default, which
must not need Ray) and the Ray searcher (each chunk a Ray task), on a local Ray and
on a separately started head. Both give the same neighbours, so a build on Ray gives
the same topics as one without."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from engine.artifact import store, topic_store
from engine.pipeline.build import Options, build
from engine.topics import fit
from engine.topics.fit import TopicParams
from tests.conftest import CORPUS_SAMPLE

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
ROOT = Path(__file__).resolve().parents[2]
SAMPLED = TopicParams(sample_size=120)  # 120 papers fitted, 180 assigned


def _options(**extra) -> Options:
    # The static backend: instant; the embedding cache makes the vectors of every build
    # here the same, so only where the topic stage searched differs between them.
    return Options(backend="static", progress=False, topic_params=SAMPLED, **extra)


def _topics(index: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    artifact = store.Artifact.open(index)
    try:
        fine, coarse, _ = topic_store.assignments(artifact.db)
        return fine, coarse, artifact.manifest["topics"]
    finally:
        artifact.close()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 300 fixture papers built without Ray, topics fitted on a sample of 120."""
    path = tmp_path_factory.mktemp("plain") / "ix"
    build([CORPUS_SAMPLE], path, _options())
    return path


@pytest.fixture(scope="module")
def vectors(plain: Path) -> np.ndarray:
    artifact = store.Artifact.open(plain)
    try:
        return np.array(artifact.vectors, dtype=np.float32)
    finally:
        artifact.close()


@pytest.fixture
def faiss_threads():
    """Restores FAISS's thread count after a test that sets it."""
    before = faiss.omp_get_max_threads()
    yield
    faiss.omp_set_num_threads(before)


def test_a_chunked_knn_graph_is_one_search_s_graph_exactly() -> None:
    """Chunks of whole FAISS query blocks (SEARCH_CHUNK) give one search's exact
    results, past EXACT_KNN_LIMIT (an IVF index) too; each paper's own row is dropped
    across chunk borders."""
    rng = np.random.default_rng(0)
    data = rng.standard_normal((fit.EXACT_KNN_LIMIT + 1_000, 32)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    data[fit.SEARCH_CHUNK + 3] = data[5]  # an exact duplicate, in another chunk
    chunked = fit.neighbours(data, 10, seed=1)  # two chunks: 20,480 and 520 rows
    whole = fit.neighbours(data, 10, seed=1, chunk=len(data))
    for got, expected in zip(chunked, whole, strict=True):
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
    rows = chunked[1]
    assert not (rows == np.arange(len(data))[:, None]).any()
    assert rows[5, 0] == fit.SEARCH_CHUNK + 3 and rows[fit.SEARCH_CHUNK + 3, 0] == 5


@needs_ray
def test_the_ray_searcher_gives_the_local_searcher_s_results_in_order(vectors, faiss_threads) -> None:
    from engine.embedding import ray_embed
    from engine.pipeline.ray_topics import RaySearcher

    index = fit.knn_index(vectors)
    bounds = range(0, len(vectors), 64)  # 5 chunks: 64, 64, 64, 64, 44 rows
    pulled = 0

    def chunks():
        nonlocal pulled
        for start in bounds:
            pulled += 1
            yield vectors[start : start + 64]

    assert ray_embed.start(None)
    try:
        for threads in (1, 2):  # the same FAISS threads here and in the tasks: the same rounding
            faiss.omp_set_num_threads(threads)
            local = list(fit.local_search(index, chunks(), 10))
            searcher, pulled = RaySearcher(threads=threads, in_flight=2), 0
            found = []
            for result in searcher(index, chunks(), 10):
                found.append(result)
                assert pulled - len(found) <= 1  # a chunk is taken only when a task can have it
            assert len(found) == len(local) == 5
            for (sims, rows), (local_sims, local_rows) in zip(found, local, strict=True):
                assert np.array_equal(sims, local_sims) and np.array_equal(rows, local_rows)
            assert searcher.stats == {
                "search_tasks": 5, "indexes": 1, "threads_per_task": threads, "in_flight": 2, "peak_in_flight": 2
            }  # fmt: skip
        # through fit.neighbours: the graph is the local one, own rows dropped at chunk borders
        searcher = RaySearcher()
        assert np.array_equal(fit.neighbours(vectors, 30, searcher=searcher, chunk=64)[1], fit.neighbours(vectors, 30, chunk=64)[1])
        assert searcher.stats["in_flight"] == 4  # by default twice the cluster's 2 CPUs
        stopped = searcher(index, chunks(), 10)
        next(stopped)
        stopped.close()  # the tasks still out are cancelled, nothing raises
    finally:
        ray_embed.stop()


@needs_ray
def test_a_build_on_a_local_ray_searches_there_and_finds_the_same_topics(plain: Path, tmp_path: Path) -> None:
    from engine.embedding.ray_embed import RayPlan

    report = build([CORPUS_SAMPLE], tmp_path / "ray", _options(ray=RayPlan()))
    assert report.cached == 300  # the same vectors as the plain build's: only the searches moved
    _same_topics(plain, tmp_path / "ray")


@needs_ray
def test_a_build_on_a_ray_cluster_searches_there_and_finds_the_same_topics(
    plain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.embedding.ray_embed import RayPlan
    from tests.pipeline.test_ray import ray_head

    with ray_head() as (address, env):
        monkeypatch.setenv("RAY_AUTH_MODE", env["RAY_AUTH_MODE"])
        report = build([CORPUS_SAMPLE], tmp_path / "cluster", _options(ray=RayPlan(address=address)))
    assert report.cached == 300
    _same_topics(plain, tmp_path / "cluster")


@needs_ray
def test_a_refit_on_ray_from_the_command_line_finds_the_same_topics(plain: Path, tmp_path: Path) -> None:
    index = tmp_path / "refit"
    shutil.copytree(plain, index, symlinks=True)
    command = ["topics", "--refit", "--ray", "--topic-sample", "120", "--index", str(index), "--json"]
    done = subprocess.run([sys.executable, "-m", "engine.cli", *command], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert store.resolve_version(index) != store.resolve_version(plain)  # a new version, refitted
    _same_topics(plain, index)


def _same_topics(plain: Path, on_ray: Path) -> None:
    fine, coarse, summary = _topics(on_ray)
    plain_fine, plain_coarse, plain_summary = _topics(plain)
    assert summary["sample"] == plain_summary["sample"] == {"fitted": 120, "assigned": 180, "strata": 3}
    assert np.array_equal(fine, plain_fine) and np.array_equal(coarse, plain_coarse)
    # one task for the sample's kNN graph, one for the assignment of the other 180
    assert summary["ray"]["search_tasks"] == summary["ray"]["indexes"] == 2
    assert "ray" not in plain_summary


def test_the_default_build_never_imports_ray(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from engine.pipeline.build import Options, build\n"
        "from engine.topics.fit import TopicParams\n"
        f"build([{str(CORPUS_SAMPLE)!r}], {str(tmp_path / 'ix')!r}, Options(backend='static', progress=False,"
        " topic_params=TopicParams(sample_size=120)))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'ray' or m.startswith(('ray.', 'engine.pipeline.ray')))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    assert _topics(tmp_path / "ix")[2]["sample"]["assigned"] == 180  # the assignment ran, locally
