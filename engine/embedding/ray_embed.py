"""Embedding on Ray: the same embedder, in an actor pool fed by a Ray Data pipeline.

``paperscope build --ray [ADDRESS]`` sends the texts that need a model through
``map_batches`` over a pool of actors, each loading the model once; Ray Data's
streaming executor bounds what is in flight (backpressure), so a slow consumer
never piles vectors up in the object store. The driver receives vectors batch by
batch and hands them to the caller, which writes them to the cache (a killed run
resumes) and to embedding shards (the index build reads those; for IVF, each
shard's part of the index is built by a Ray task, see :mod:`engine.pipeline.ray_index`).

Without an address a local Ray starts on this machine: dashboard off, usage
statistics off, logs kept in its session folder. Actors take fractional CPUs: on
2 cores, actors holding a whole CPU each would leave none for Ray Data's own
tasks and the pipeline would stall; each actor instead runs its model on
``threads`` threads (``PAPERSCOPE_THREADS``), so the pool never oversubscribes the
cores. Note: Ray 2.60's core gRPC servers listen on every interface whatever node
address is given (upstream behaviour); Ray's token authentication, on by default,
guards them, and nothing here connects outward.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from engine.embedding.embedder import chunk_bounds
from engine.progress import timed

log = logging.getLogger(__name__)

# Set before Ray starts, in the driver and (through runtime_env) in every worker.
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",  # no usage report is ever sent
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
    "RAY_DEDUP_LOGS": "0",
    "RAY_DATA_DISABLE_PROGRESS_BARS": "1",  # the build draws its own
    "TOKENIZERS_PARALLELISM": "false",  # one thread per actor: the pool is the parallelism
}


@dataclass
class RayPlan:
    address: str | None = None  # None: a local Ray on this machine
    actors: int | None = None  # None: one per usable core (local) or per cluster CPU
    threads: int = 1  # model threads per actor
    stats: dict = field(default_factory=dict)  # filled in: actors, CPU share, seconds, peak RSS per actor


def _actor_class(model_path: str, backend: str, threads: int) -> type:
    """The actor class with its settings built in: constructor arguments would sit in
    the object store, and Ray warns that a restarted actor could lose them."""

    class EmbedActor:
        """One model per actor, loaded once; each call embeds whole chunks."""

        def __init__(self) -> None:
            os.environ["PAPERSCOPE_THREADS"] = str(threads)
            from engine.embedding.embedder import make_embedder, resolve_model

            self._embedder = make_embedder(resolve_model(model_path), backend)
            self._embedder.embed(["warm up"])  # load now, not inside the first timed chunk

        def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            """One row per chunk of texts in, one row per text out."""
            import resource

            positions, vectors = [], []
            for start, texts in zip(batch["start"], batch["texts"], strict=True):
                vectors.append(self._embedder.embed([str(t) for t in texts]).astype(np.float32))
                positions.append(np.arange(start, start + len(texts), dtype=np.int64))
            count = sum(len(p) for p in positions)
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            return {
                "position": np.concatenate(positions),
                "vector": np.concatenate(vectors),
                "rss_mb": np.full(count, peak_mb, dtype=np.float32),
                "pid": np.full(count, os.getpid(), dtype=np.int64),
            }

    return EmbedActor


def start(address: str | None, threads: int = 1) -> bool:
    """Connect to ``address`` or start a local Ray; returns whether we started it."""
    os.environ.update(RAY_ENV)
    import ray

    if ray.is_initialized():
        return False
    runtime_env = {"env_vars": {**RAY_ENV, "PAPERSCOPE_THREADS": str(threads)}}
    if address:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False, logging_level=logging.WARNING)
    else:
        from engine.embedding import hardware

        ray.init(
            num_cpus=hardware.usable_cores(),
            include_dashboard=False,
            runtime_env=runtime_env,
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    _quiet_ray_data()
    return True


def _quiet_ray_data() -> None:
    from ray.data import DataContext

    context = DataContext.get_current()
    context.print_on_execution_start = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)


def stop() -> None:
    import ray

    ray.shutdown()


@contextmanager
def session(plan: RayPlan) -> Iterator[None]:
    """Ray for the length of a build (embedding, then the per-shard index parts):
    started or joined once, stopped afterwards if this process started it."""
    started = start(plan.address, plan.threads)
    try:
        yield
    finally:
        if started:
            stop()


def embed_batches(
    texts: Sequence[str], model_path: str, backend: str, plan: RayPlan, chunk_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (positions in ``texts``, vectors) as chunks finish, in no set order.

    Each actor call embeds one chunk of consecutive texts (:func:`chunk_bounds`), exactly
    the chunks the single-process path embeds: int8 backends quantize activations per
    batch, so the same batches are what make the vectors match (cosine >= 0.9999).
    Starts (and afterwards stops) a local Ray unless one is running or an address
    is given."""
    started = start(plan.address, plan.threads)
    try:
        import ray

        cpus = float(ray.cluster_resources().get("CPU", 1))
        actors = plan.actors or max(1, int(cpus // plan.threads))
        share = min(cpus / actors, plan.threads) * 0.5  # leave room for Ray Data's own tasks
        bounds = chunk_bounds(len(texts), chunk_size)
        chunks = [{"start": start, "texts": list(texts[start:stop])} for start, stop in bounds]
        dataset = ray.data.from_items(chunks, override_num_blocks=len(chunks))
        vectors = dataset.map_batches(
            _actor_class(model_path, backend, plan.threads),
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=share,
        )
        seconds: dict[str, float] = {}
        rss: dict[int, float] = {}
        with timed(seconds, "embed"):
            for batch in vectors.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=2):
                for pid, mb in zip(batch["pid"], batch["rss_mb"], strict=True):
                    rss[int(pid)] = max(rss.get(int(pid), 0.0), float(mb))
                yield batch["position"].astype(np.int64), batch["vector"]
        plan.stats.update(
            actors=actors,
            cpus_per_actor=round(share, 3),
            threads_per_actor=plan.threads,
            seconds=round(seconds["embed"], 2),
            actor_peak_rss_mb=sorted(round(v) for v in rss.values()),
        )
    finally:
        if started:
            stop()
