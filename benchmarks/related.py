#!/usr/bin/env python3
"""Related papers against expert judgements: CSFCube's development half.

    python benchmarks/related.py [DATA_DIR] [--backend auto] [--index PATH ...] [--json OUT]

The collection (4,205 computer-science papers) is built into two temporary indexes
through the public API: one plain, one with ``--sentences``, both without the
embedding cache so their build times are honest. Every method ranks the whole
collection for each query paper (itself excluded) and is scored with CSFCube's
protocol: NDCG@20, gain 2^grade - 1, over the 21 query-facets (see csfcube.py).

Rows: the baselines (BM25 with the paper's title and abstract as the query, dense
cosine with fp32 and with the index's own vectors, their reciprocal-rank fusion),
``related`` and ``recommend`` (the query paper as the one liked paper) on both indexes,
and the variants tried: other weights, more candidates, pseudo-relevance feedback,
other sentence scores. Beside each figure: the mean and spread of the five folds of
query papers, and for the weights a cross-validated figure (weights picked on four
folds, scored on the fifth). Then ``related`` latency (here, and on each ``--index``)
and what the sentence vectors cost to build and store.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import csfcube
import numpy as np
from common import DEFAULT_DATA, peak_rss_mb, write_json

PLAIN_GRID = [{"dense": d / 10, "words": (10 - d) / 10} for d in range(2, 9)]
SENTENCE_GRID = [
    {"dense": d / 10, "words": w / 10, "sentences": (10 - d - w) / 10} for d in range(8) for w in range(8) if d + w < 10
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--index", type=Path, action="append", default=[], help="also time related on this index")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    cube = csfcube.load(args.data)
    with tempfile.TemporaryDirectory(prefix="paperscope-related-") as tmp:
        corpus = _write_corpus(cube, Path(tmp) / "csfcube.jsonl")
        builds = {
            name: _build(corpus, Path(tmp) / name, args.backend, sentences=name == "sentences")
            for name in ("plain", "sentences")
        }
        rows = _baselines(cube, Path(tmp) / "plain", args.backend)
        rows += _api_rows(cube, Path(tmp) / "plain", "")
        rows += _api_rows(cube, Path(tmp) / "sentences", " --sentences")
        grids = {
            "plain": _weight_grid(cube, Path(tmp) / "plain", "WEIGHTS", PLAIN_GRID),
            "sentences": _weight_grid(cube, Path(tmp) / "sentences", "WEIGHTS_WITH_SENTENCES", SENTENCE_GRID),
        }
        rows += _variants(cube, Path(tmp) / "plain", Path(tmp) / "sentences")
        latency = [_latency(Path(tmp) / name, 200) for name in builds]
    latency += [_latency(path, 300) for path in args.index]
    _print(rows, grids, latency, builds)
    write_json(
        args.json,
        {"rows": rows, "weights": grids, "latency": latency, "builds": builds, "peak_rss_mb": peak_rss_mb()},
    )


def _write_corpus(cube: csfcube.CSFCube, path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for pid, title, abstract in zip(cube.ids, cube.titles, cube.abstracts, strict=True):
            out.write(json.dumps({"id": pid, "title": title, "abstract": abstract}) + "\n")
    return path


def _build(corpus: Path, index: Path, backend: str, sentences: bool) -> dict:
    from engine.pipeline.build import Options, build

    options = Options(backend=backend, topics=False, progress=False, use_cache=False, sentences=sentences)
    report = build([corpus], index, options)
    version = index / "CURRENT"
    sizes = {p.name: p.stat().st_size for p in version.resolve().iterdir()}
    return {
        "papers": report.papers,
        "seconds": {k: round(v, 1) for k, v in report.seconds.items()},
        "bytes": sizes,
        "sentences": json.loads((version / "manifest.json").read_text()).get("sentences"),
    }


def _row(cube: csfcube.CSFCube, name: str, rank: Callable[[str], list[str]]) -> dict:
    values = csfcube.per_facet(cube, rank)
    per_fold = [csfcube.mean_over(values, fold) for fold in csfcube.folds(cube)]
    return {
        "method": name,
        "ndcg_at_20": round(csfcube.mean_over(values), 4),
        "folds_mean": round(float(np.mean(per_fold)), 4),
        "folds_sd": round(float(np.std(per_fold)), 4),
        "folds": [round(v, 4) for v in per_fold],
    }


def _baselines(cube: csfcube.CSFCube, plain: Path, backend: str) -> list[dict]:
    """BM25, dense (fp32 and the index's vectors) and their reciprocal-rank fusion."""
    import engine
    from engine.embedding.embedder import load_embedder
    from engine.pipeline.vectorize import embed_texts

    bm25 = _bm25_ranker(cube)
    fp32 = embed_texts(cube.texts, load_embedder(backend="torch-fp32"), {}, progress=False).vectors
    dense32 = csfcube.dense_ranker(cube, fp32)
    with engine.open(plain) as ix:
        ids = ix.ids()
        index_vectors = np.load(ix.path / "vectors.npy")
    row_of = {pid: row for row, pid in enumerate(ids)}
    order = [row_of[pid] for pid in cube.ids]
    dense_index = csfcube.dense_ranker(cube, index_vectors[order])
    return [
        _row(cube, "BM25 (title + abstract as the query)", bm25),
        _row(cube, "dense fp32, cosine", dense32),
        _row(cube, f"dense, the index's vectors ({backend}): related before", dense_index),
        _row(cube, "RRF k=60 of dense fp32 and BM25", _rrf(dense32, bm25)),
        _row(cube, "RRF k=60 of the index's vectors and BM25", _rrf(dense_index, bm25)),
    ]


def _bm25_ranker(cube: csfcube.CSFCube, k1: float = 1.2, b: float = 0.75) -> Callable[[str], list[str]]:
    """Okapi BM25 over title + abstract, the query paper's whole text as the query
    (its term counts weighting the terms), scikit-learn's English stop words."""
    from sklearn.feature_extraction.text import CountVectorizer

    counts = CountVectorizer(stop_words="english").fit_transform(cube.texts).tocsr().astype(np.float32)
    held = np.asarray((counts > 0).sum(axis=0)).ravel()
    idf = np.log((len(cube.ids) - held + 0.5) / (held + 0.5) + 1)
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    coo = counts.tocoo()
    norm = k1 * (1 - b + b * lengths[coo.row] / lengths.mean())
    weights = counts.copy()
    weights.data = (coo.data * (k1 + 1) / (coo.data + norm) * idf[coo.col]).astype(np.float32)
    row_of = {pid: i for i, pid in enumerate(cube.ids)}

    def rank(query: str) -> list[str]:
        scores = np.asarray((weights @ counts[row_of[query]].T).todense()).ravel()
        top = np.argsort(-scores, kind="stable")[: csfcube.DEPTH + 1]
        return [cube.ids[i] for i in top]

    return rank


def _rrf(*rankers: Callable[[str], list[str]], k: int = 60, depth: int = 100) -> Callable[[str], list[str]]:
    def rank(query: str) -> list[str]:
        scores: dict[str, float] = {}
        for ranker in rankers:
            for position, pid in enumerate(ranker(query)[:depth], start=1):
                scores[pid] = scores.get(pid, 0.0) + 1 / (k + position)
        return sorted(scores, key=lambda pid: -scores[pid])

    return rank


def _api_rows(cube: csfcube.CSFCube, index: Path, label: str) -> list[dict]:
    import engine

    with engine.open(index) as ix:
        return [
            _row(cube, f"related{label}", lambda q: [h.paper.id for h in ix.related(q, k=csfcube.DEPTH + 1)]),
            _row(
                cube,
                f"recommend{label}, the paper as the one like",
                lambda q: [h.paper.id for h in ix.recommend([q], k=csfcube.DEPTH + 1)],
            ),
        ]


def _weight_grid(cube: csfcube.CSFCube, index: Path, setting: str, grid: list[dict]) -> dict:
    """Every weighting of the grid, and a cross-validated figure: for each fold, the
    weights best on the other four folds, scored on it."""
    import engine
    from engine.query import related

    chosen = getattr(related, setting)
    values = []
    with engine.open(index) as ix:
        try:
            for weights in grid:
                setattr(related, setting, weights)
                values.append(csfcube.per_facet(cube, lambda q: [h.paper.id for h in ix.related(q, k=21)]))
        finally:
            setattr(related, setting, chosen)
    folds = csfcube.folds(cube)
    held_out = []
    for i, fold in enumerate(folds):
        rest = [q for j, other in enumerate(folds) if j != i for q in other]
        best = max(range(len(grid)), key=lambda g: csfcube.mean_over(values[g], rest))
        held_out.append(csfcube.mean_over(values[best], fold))
    table = [{"weights": w, "ndcg_at_20": round(csfcube.mean_over(v), 4)} for w, v in zip(grid, values, strict=True)]
    return {
        "chosen": chosen,
        "grid": table,
        "best": max(table, key=lambda row: row["ndcg_at_20"]),
        "cross_validated_mean": round(float(np.mean(held_out)), 4),
        "cross_validated_sd": round(float(np.std(held_out)), 4),
    }


def _variants(cube: csfcube.CSFCube, plain: Path, sentences: Path) -> list[dict]:
    """What else was tried, each through the public API with one setting changed."""
    import engine
    from engine.query import related, sentence_match

    def ids(ix, q):
        return [h.paper.id for h in ix.related(q, k=csfcube.DEPTH + 1)]

    out = []
    with engine.open(plain) as ix:
        vectors = np.asarray(np.load(ix.path / "vectors.npy"))
        with _setting(related, "CANDIDATES", 200):
            out.append(_row(cube, "related, 200 candidates", lambda q: ids(ix, q)))
        out.append(_row(cube, "dense with pseudo-relevance feedback (top 3, beta 0.5)", _prf(ix, vectors)))
    with engine.open(sentences) as ix:
        for name, score in (("symmetric mean", _symmetric), ("best pair only", _best_pair)):
            with _setting(sentence_match, "sentence_scores", score):
                out.append(_row(cube, f"related --sentences, sentence score: {name}", lambda q: ids(ix, q)))
        with _setting(related, "WEIGHTS_WITH_SENTENCES", {"dense": 0.0, "words": 0.0, "sentences": 1.0}):
            out.append(_row(cube, "sentences alone (late interaction over 100 candidates)", lambda q: ids(ix, q)))
    return out


class _setting:
    """Set a module attribute for the ``with`` block."""

    def __init__(self, module, name: str, value) -> None:
        self.module, self.name, self.value = module, name, value

    def __enter__(self) -> None:
        self.saved = getattr(self.module, self.name)
        setattr(self.module, self.name, self.value)

    def __exit__(self, *exc) -> None:
        setattr(self.module, self.name, self.saved)


def _symmetric(sims: np.ndarray, starts: np.ndarray) -> np.ndarray:
    stops = np.append(starts[1:], sims.shape[1])
    forward = np.maximum.reduceat(sims, starts, axis=1).mean(axis=0)
    backward = np.array([sims[:, a:b].max(axis=0).mean() for a, b in zip(starts, stops, strict=True)])
    return (forward + backward) / 2


def _best_pair(sims: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.maximum.reduceat(sims, starts, axis=1).max(axis=0)


def _prf(ix, vectors: np.ndarray, top: int = 3, beta: float = 0.5) -> Callable[[str], list[str]]:
    """Rocchio pseudo-relevance feedback: the paper's vector moved towards its ``top``
    nearest neighbours', then searched again (rows are the index's)."""
    ids = ix.ids()
    row_of = {pid: i for i, pid in enumerate(ids)}

    def rank(query: str) -> list[str]:
        q = vectors[row_of[query]]
        first = np.argsort(-(vectors @ q))[1 : top + 1]
        moved = q + beta * vectors[first].mean(axis=0)
        scores = vectors @ (moved / np.linalg.norm(moved))
        return [ids[i] for i in np.argsort(-scores)[: csfcube.DEPTH + 1]]

    return rank


def _latency(index: Path, samples: int) -> dict:
    """``related`` end to end (k=10: candidates, signals, papers, topics, reasons), over
    random papers of the index after a warm-up, and the share of hits with a reason."""
    import engine

    with engine.open(index) as ix:
        ids = ix.ids()
        picked = random.Random(0).sample(ids, min(samples, len(ids)))
        ix.related(picked[0], k=10)
        times, explained, total = [], 0, 0
        for pid in picked:
            tick = time.perf_counter()
            hits = ix.related(pid, k=10)
            times.append((time.perf_counter() - tick) * 1000)
            explained += sum(1 for h in hits if h.because and h.because.get("words") is not None)
            total += len(hits)
        return {
            "path": str(index),
            "papers": len(ix),
            "sentences": bool(ix.manifest.get("sentences")),
            "p50_ms": round(statistics.median(times), 2),
            "p90_ms": round(sorted(times)[int(0.9 * (len(times) - 1))], 2),
            "explained_share": round(explained / max(total, 1), 4),
        }


def _print(rows: list[dict], grids: dict, latency: list[dict], builds: dict) -> None:
    print("CSFCube dev half, NDCG@20 over 21 query-facets (5 folds of query papers: mean ± sd)")
    print(f"{'method':66s} {'NDCG@20':>8s} {'folds':>15s}")
    for row in rows:
        print(f"{row['method']:66s} {row['ndcg_at_20']:8.4f} {row['folds_mean']:8.4f} ± {row['folds_sd']:.3f}")
    for name, grid in grids.items():
        print(
            f"weights ({name}): chosen {grid['chosen']}; best in the grid {grid['best']['weights']} "
            f"{grid['best']['ndcg_at_20']:.4f}; cross-validated {grid['cross_validated_mean']:.4f} "
            f"± {grid['cross_validated_sd']:.3f}"
        )
    for item in latency:
        kind = "with sentences" if item["sentences"] else "plain"
        print(
            f"related latency on {item['path']} ({item['papers']:,} papers, {kind}): "
            f"p50 {item['p50_ms']:.1f} ms, p90 {item['p90_ms']:.1f} ms; hits with a reason {item['explained_share']:.0%}"
        )
    plain, full = builds["plain"], builds["sentences"]
    print(
        f"build without cache: plain {plain['seconds']['total']:.0f} s (embedding {plain['seconds']['embed']:.0f} s); "
        f"--sentences {full['seconds']['total']:.0f} s (sentences {full['seconds'].get('sentences', 0):.0f} s, "
        f"{full['sentences']['count']:,} of them, {full['sentences']['per_paper']} a paper)"
    )
    extra = full["bytes"]["sentences.npy"] + full["bytes"]["sentence-offsets.npy"]
    print(
        f"disk: sentence files {extra / 1e6:.1f} MB ({extra / full['papers']:.0f} B a paper) "
        f"beside vectors.npy {full['bytes']['vectors.npy'] / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    sys.exit(main())
