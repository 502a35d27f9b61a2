"""Shared fixtures: the real model (loaded once), real FAISS, real SQLite.

The embedding cache goes to a per-session temporary folder so tests never touch
~/.cache and start cold.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS_SAMPLE = FIXTURES / "corpus-astro-ph.GA+cs.CL-300.jsonl.gz"
SNAPSHOT_SAMPLE = FIXTURES / "snapshot-sample.jsonl"
RELATED_SAMPLE = FIXTURES / "related-optimal-transport-41.jsonl.gz"  # see scripts/make-fixtures
RELATED_TRUTH = FIXTURES / "related-optimal-transport-41.truth.json"
GA_DIGEST_1 = FIXTURES / "digest-astro-ph.GA-2026-06-15.md"
GA_DIGEST_2 = FIXTURES / "digest-astro-ph.GA-2026-06-19.md"


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("paperscope-cache")
    os.environ["PAPERSCOPE_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def demo_digest() -> Path:
    from engine.cli.demo import demo_corpus

    return demo_corpus()


@pytest.fixture(scope="session")
def embedder():
    """The bundled all-MiniLM-L6-v2 on the default backend (``auto``: its quality guard
    runs once per test session, in the session's fresh cache), loaded once."""
    from engine.embedding.embedder import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory: pytest.TempPathFactory, demo_digest: Path, embedder) -> Path:
    """The demo digest (63 cs.CV papers) built once; tests must not modify it."""
    from engine.pipeline.build import Options, build

    path = tmp_path_factory.mktemp("indexes") / "demo"
    build([demo_digest], path, Options(embedder=embedder, progress=False))
    return path


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 astro-ph.GA and cs.CL papers with topics and sentence vectors, on the static
    backend (instant embedding: these tests are about the query layer); tests must not
    modify it."""
    from engine.pipeline.build import Options, build

    path = tmp_path_factory.mktemp("corpus") / "ix"
    build([CORPUS_SAMPLE], path, Options(backend="static", progress=False, sentences=True))
    return path


@pytest.fixture(scope="session")
def served_corpus(corpus_index: Path):
    """A real server process on loopback over ``corpus_index``; yields its base URL."""
    from engine.serve.server import server_process

    with server_process(corpus_index) as base:
        yield base
