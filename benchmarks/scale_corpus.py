"""Corpora past the 87k real papers for benchmarks/scale.py: the real papers plus
perturbed copies, with vectors put into an embedding cache so nothing is embedded.

Copy ``j`` of real paper ``i`` gets the id ``{1000 + j}.{i:05d}`` (no real arXiv id
looks like it), its title with the copy's number, and its abstract with one word
dropped; its vector is the real vector plus Gaussian noise of norm ~0.25,
renormalized (cosine ~0.97 to the original), so copies cluster near their originals
without being duplicates. Dates and categories stay the real paper's.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

NOISE = 0.25 / np.sqrt(384)  # per dimension: a noise vector of norm ~0.25


def real_papers(index: Path) -> tuple[list[dict], np.ndarray]:
    """The built index's papers (as corpus records) and vectors, row-aligned."""
    from engine.artifact.store import Artifact

    artifact = Artifact.open(index)
    try:
        records = [
            {
                "id": p.id,
                "title": p.title,
                "abstract": p.abstract,
                "authors": list(p.authors),
                "categories": list(p.categories),
                "date": p.date,
                "updated": p.updated,
            }
            for _, p, _ in artifact.all_papers()
        ]
        return records, np.array(artifact.vectors, dtype=np.float32)
    finally:
        artifact.close()


def copy_of(record: dict, i: int, j: int, rng: np.random.Generator) -> dict:
    words = record["abstract"].split()
    if len(words) > 8:
        del words[int(rng.integers(len(words)))]
    return dict(record, id=f"{1000 + j}.{i:05d}", title=f"{record['title']} ({j + 2})", abstract=" ".join(words))


def write_corpus(records: list[dict], size: int, path: Path, seed: int = 0, first_copy: int = 0) -> list[dict]:
    """Write ``size`` papers: the real ones, then copies; returns the copies' records
    (``first_copy`` numbers them, so a day's new papers never collide with the corpus)."""
    rng = np.random.default_rng(seed)
    copies = []
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
        start = 0
        if first_copy == 0:
            for record in records[:size]:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            start = min(size, len(records))
        for k in range(size - start):
            i, j = k % len(records), first_copy + k // len(records)
            record = copy_of(records[i], i, j, rng)
            copies.append({"row": i, "copy": j, "id": record["id"]})
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return copies


def inject_vectors(path: Path, real_ids: list[str], vectors: np.ndarray, backend: str, seed: int = 0) -> int:
    """Put the vectors of every paper in ``path`` into the embedding cache: real papers
    (``real_ids``, row-aligned with ``vectors``) their own, copies (id ``1xxx.iiiii``)
    their original's plus noise. Reads the file with paperscope's own reader, so the
    cache keys are the texts a build embeds."""
    from engine.embedding.cache import EmbeddingCache
    from engine.embedding.embedder import load_embedder, text_hash
    from engine.ingest.sources import read_papers

    embedder = load_embedder(backend=backend)
    cache = EmbeddingCache(embedder.model.fingerprint, embedder.cache_tag)  # as vectorize keys it
    rng = np.random.default_rng(seed)
    row_of = {pid: row for row, pid in enumerate(real_ids)}
    papers = read_papers(path).papers
    for start in range(0, len(papers), 50_000):
        items = []
        for paper in papers[start : start + 50_000]:
            if paper.id in row_of:
                vector = vectors[row_of[paper.id]]
            else:
                head, tail = paper.id.split(".", 1)
                assert 1000 <= int(head) < 2000, paper.id
                vector = vectors[int(tail)] + rng.normal(0.0, NOISE, vectors.shape[1]).astype(np.float32)
                vector = vector / np.linalg.norm(vector)
            items.append((text_hash(paper.text), vector))
        cache.put_many(items)
    cache.close()
    return len(papers)
