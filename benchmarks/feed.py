#!/usr/bin/env python3
"""Which ranker should rank the feed: fused, Rocchio, the feed's SVM (a 5,000-paper
background), arxiv-sanity's SVM over the whole collection, or the per-library choice.

    python benchmarks/feed.py [--data ../shared/data] [--index indexes/feed-bench-87k] [--since-date DAY]
        [--readers 30] [--trials 2] [--seed 0] [--json benchmarks/results/feed.json]

Simulated readers over real papers and real dates (``arxiv-87k.jsonl.gz``, built once
with the real model into ``--index`` and reused while it exists; ``--since-date`` builds
only the papers from that day on). A reader's interest is one primary arXiv category
with at least 60 papers before the cutoff and at least 5 relevant papers in the feed
week; readers are picked round-robin over fields (cs, math, physics, astro-ph,
cond-mat, eess, ...). For each reader and trial: a cutoff Monday T (2026-01..2026-07);
a library of L liked papers of the category dated before T (L = 3, 10, 30; the smaller
libraries are prefixes of the larger); with unlikes, also 5 unliked papers of the
nearest other category (by centroid) dated before T. The feed is every paper dated in
[T, T + 7 days), all categories; relevant: the feed papers listing the interest
category (primary or cross-listed). Each method ranks the feed (k = 50): ``fused``,
``rocchio``, ``svm`` (as the feed ranks), ``svm-full`` (every other paper a negative),
``auto`` (``choose_ranker`` then ``rank_new``; the choice is timed with it) and
``newest`` (no likes). Scores: P@10, P@20 and NDCG@20 (binary relevance), p50 time per
feed; and for ``auto``, what it picked and how it compares with the best fixed ranker.
All methods see the same draws.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import math
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from common import DEFAULT_DATA, ROOT, peak_rss_mb, write_json

DATA_FILE = "arxiv-87k.jsonl.gz"
DEFAULT_INDEX = ROOT / "indexes" / "feed-bench-87k"
LIBRARY_SIZES = (3, 10, 30)
UNLIKES = 5
MIN_BEFORE = 60  # papers of the category before the cutoff
MIN_RELEVANT = 5  # relevant papers in the feed week
FIRST_CUTOFF, LAST_CUTOFF = dt.date(2026, 1, 1), dt.date(2026, 7, 31)
FEED_DAYS = 7
K = 50
FIXED = ("fused", "rocchio", "svm")  # what auto chooses among
METHODS = (*FIXED, "default", "svm-full", "auto", "newest")  # default: what the feed uses (by library size)
PHYSICS = {"gr-qc", "hep-th", "hep-ph", "hep-ex", "hep-lat", "nucl-th", "nucl-ex", "quant-ph", "math-ph", "nlin"}


def _field(category: str) -> str:
    head = category.split(".")[0]
    return "physics" if head in PHYSICS else head


def _ensure_index(data: Path, index: Path, since: str | None, backend: str) -> float | None:
    """Build the index when it does not exist yet; the seconds it took, or None."""
    if (index / "CURRENT").exists():
        return None
    from engine.pipeline.build import Options, build

    source = data / DATA_FILE
    with tempfile.TemporaryDirectory(prefix="paperscope-feed-") as tmp:
        if since:
            subset = Path(tmp) / f"since-{since}.jsonl.gz"
            with gzip.open(source, "rt", encoding="utf-8") as lines, gzip.open(subset, "wt", encoding="utf-8") as out:
                out.writelines(line for line in lines if (json.loads(line).get("date") or "") >= since)
            source = subset
        tick = time.perf_counter()
        build([source], index, Options(backend=backend, topics=False, progress=sys.stderr.isatty()))
        return time.perf_counter() - tick


def _mondays() -> list[str]:
    day = FIRST_CUTOFF + dt.timedelta(days=(7 - FIRST_CUTOFF.weekday()) % 7)
    out = []
    while day <= LAST_CUTOFF:
        out.append(day.isoformat())
        day += dt.timedelta(days=7)
    return out


def _week_after(day: str) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=FEED_DAYS)).isoformat()


class Papers:
    """Each row's date, primary category and categories, read once from the index."""

    def __init__(self, artifact) -> None:
        got = artifact.db.execute("SELECT row, date, categories FROM papers ORDER BY row").fetchall()
        n = len(artifact.vectors)
        self.date = [""] * n
        self.categories: list[tuple[str, ...]] = [()] * n
        for row, date, categories in got:
            self.date[row] = date or ""
            self.categories[row] = tuple(json.loads(categories))
        self.primary = [c[0] if c else "" for c in self.categories]
        self.by_primary: dict[str, list[int]] = defaultdict(list)
        for row in sorted(range(n), key=lambda r: (self.date[r], r)):
            self.by_primary[self.primary[row]].append(row)  # oldest first

    def before(self, category: str, day: str) -> list[int]:
        return [r for r in self.by_primary.get(category, []) if self.date[r] < day]

    def feed(self, day: str) -> list[int]:
        end = _week_after(day)
        return [r for r, d in enumerate(self.date) if day <= d < end]


def _readers(papers: Papers, count: int, trials: int, rng: random.Random) -> tuple[list, dict]:
    """(category, cutoffs) for ``count`` readers spread over fields, and every category's
    qualifying cutoffs (>= MIN_BEFORE papers before, >= MIN_RELEVANT relevant in the week)."""
    feeds = {day: papers.feed(day) for day in _mondays()}
    qualifying: dict[str, list[str]] = {}
    for category in sorted(papers.by_primary):
        days = [
            day
            for day, feed in feeds.items()
            if len(papers.before(category, day)) >= MIN_BEFORE
            and sum(category in papers.categories[r] for r in feed) >= MIN_RELEVANT
        ]
        if len(days) >= trials:
            qualifying[category] = days
    by_field: dict[str, list[str]] = defaultdict(list)
    for category in qualifying:
        by_field[_field(category)].append(category)
    for members in by_field.values():
        rng.shuffle(members)
    picked: list[str] = []
    while len(picked) < count and any(by_field.values()):
        for field in sorted(by_field):
            if by_field[field] and len(picked) < count:
                picked.append(by_field[field].pop())
    readers = [(c, sorted(rng.sample(qualifying[c], trials))) for c in sorted(picked)]
    return readers, qualifying


def _rivals(papers: Papers, matrix: np.ndarray) -> dict[str, list[str]]:
    """Every category (>= MIN_BEFORE papers) and the others, nearest centroid first."""
    categories = sorted(c for c, rows in papers.by_primary.items() if c and len(rows) >= MIN_BEFORE)
    centroids = np.stack(
        [np.asarray(matrix[sorted(papers.by_primary[c])], dtype=np.float32).mean(0) for c in categories]
    )
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    closeness = centroids @ centroids.T
    np.fill_diagonal(closeness, -np.inf)
    return {c: [categories[j] for j in np.argsort(-closeness[i])[:-1]] for i, c in enumerate(categories)}


def _scores(ranked: list[int], relevant: set[int]) -> dict[str, float]:
    rel = [1 if r in relevant else 0 for r in ranked]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(rel[:20]))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(20, len(relevant))))
    return {"p10": sum(rel[:10]) / 10, "p20": sum(rel[:20]) / 20, "ndcg20": dcg / ideal if ideal else 0.0}


def _svm_full(artifact, like: list[int], unlike: list[int], candidates: list[int]) -> list:
    """arxiv-sanity-lite's SVM (every other paper a negative), the candidates by margin."""
    from engine.query import ranking, recommend, related

    scores = recommend.svm_scores(artifact.vectors, like, unlike)
    inputs = set(like) | set(unlike)
    pool = [r for r in candidates if r not in inputs]
    margins = scores[pool]
    picked = [(pool[i], float(margins[i])) for i in np.argsort(-margins, kind="stable")[:K]]
    return related.explain(artifact, ranking.hits_for(artifact, picked), [r for r, _ in picked], like)


def _rank(artifact, index, method: str, like: list[int], unlike: list[int], candidates: list[int]):
    """(ranked rows, auto's choice or None) for one method."""
    from engine.query import feed

    choice = None
    if method == "newest":
        hits = feed.rank_new(artifact, index, [], [], candidates, K, "fused")
    elif method == "svm-full":
        hits = _svm_full(artifact, like, unlike, candidates)
    elif method == "default":
        hits = feed.rank_new(artifact, index, like, unlike, candidates, K, feed.default_choice(len(like)).method)
    elif method == "auto":
        choice = feed.choose_ranker(artifact, index, like, unlike)
        hits = feed.rank_new(artifact, index, like, unlike, candidates, K, choice.method)
    else:
        hits = feed.rank_new(artifact, index, like, unlike, candidates, K, method)
    return [artifact.row_of(h.paper.id) for h in hits], choice


def _mean(values) -> float:
    values = list(values)
    return round(float(np.mean(values)), 4) if values else float("nan")


def _ci95(values) -> float:
    """Half-width of a normal 95% interval of the mean (readers are the unit)."""
    values = list(values)
    return round(1.96 * float(np.std(values, ddof=1)) / math.sqrt(len(values)), 4) if len(values) > 1 else float("nan")


def _summaries(records: list[dict], methods: tuple[str, ...] = METHODS) -> tuple[list[dict], list[dict]]:
    """Per (unlikes, L, method): mean scores and p50 ms; per (unlikes, L): auto against
    the fixed rankers."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["unlikes"], r["likes"])].append(r)
    table, auto_rows = [], []
    for (unlikes, likes), rows in sorted(groups.items()):
        per_reader: dict[str, list[dict]] = defaultdict(list)
        for r in rows:
            per_reader[r["reader"]].append(r)
        for method in methods:
            mine = [r["methods"][method] for r in rows]
            by_reader = [np.mean([d["methods"][method]["ndcg20"] for d in draws]) for draws in per_reader.values()]
            table.append(
                {
                    "unlikes": unlikes,
                    "likes": likes,
                    "method": method,
                    **{key: _mean(m[key] for m in mine) for key in ("p10", "p20", "ndcg20")},
                    "ndcg20_ci95": _ci95(by_reader),
                    "ms_p50": round(float(np.median([m["ms"] for m in mine])), 1),
                }
            )
        if "auto" not in methods or not set(FIXED) <= set(methods):
            continue  # auto's comparison needs auto and every fixed ranker
        mean_of = {m: _mean(r["methods"][m]["ndcg20"] for r in rows) for m in FIXED}
        best_fixed = max(FIXED, key=lambda m: mean_of[m])
        reader_oracle, gaps, wins, ties, losses = [], [], 0, 0, 0
        for draws in per_reader.values():
            reader_means = {m: np.mean([d["methods"][m]["ndcg20"] for d in draws]) for m in (*FIXED, "auto")}
            reader_oracle.append(max(reader_means[m] for m in FIXED))
            gap = reader_means["auto"] - reader_means[best_fixed]
            gaps.append(gap)
            wins += gap > 1e-9
            losses += gap < -1e-9
            ties += abs(gap) <= 1e-9
        draw_best = [max(r["methods"][m]["ndcg20"] for m in FIXED) for r in rows]
        picked_best = [
            r["methods"][r["auto_pick"]]["ndcg20"] >= best - 1e-9 for r, best in zip(rows, draw_best, strict=True)
        ]
        picks = Counter(r["auto_pick"] for r in rows)
        auto_rows.append(
            {
                "unlikes": unlikes,
                "likes": likes,
                "draws": len(rows),
                "picked": {m: picks.get(m, 0) for m in FIXED},
                "auto_ndcg20": _mean(r["methods"]["auto"]["ndcg20"] for r in rows),
                "best_fixed": best_fixed,
                "best_fixed_ndcg20": mean_of[best_fixed],
                "reader_oracle_ndcg20": _mean(reader_oracle),
                "draw_oracle_ndcg20": _mean(draw_best),
                "picked_draw_best": _mean(picked_best),
                "auto_minus_best_fixed": _mean(gaps),
                "auto_minus_best_fixed_ci95": _ci95(gaps),
                "readers_vs_best_fixed": {"wins": int(wins), "ties": int(ties), "losses": int(losses)},
            }
        )
    return table, auto_rows


def _print_tables(table: list[dict], auto_rows: list[dict]) -> None:
    print(f"| unlikes | L | {'method':8s} | P@10  | P@20  | NDCG@20 (95% CI) | p50 ms |")
    print("|---|---|---|---|---|---|---|")
    for t in table:
        print(
            f"| {'yes' if t['unlikes'] else 'no'} | {t['likes']} | {t['method']:8s} | {t['p10']:.3f} | "
            f"{t['p20']:.3f} | {t['ndcg20']:.3f} ± {t['ndcg20_ci95']:.3f} | {t['ms_p50']:.0f} |"
        )
    if not auto_rows:
        return
    print()
    print(
        "| unlikes | L | auto picked (fused/rocchio/svm) | auto NDCG@20 | best fixed | reader oracle | "
        "draw oracle | picked draw's best | auto - best fixed (95% CI) | readers vs best fixed (W/T/L) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for a in auto_rows:
        picked = "/".join(str(a["picked"][m]) for m in FIXED)
        duel = a["readers_vs_best_fixed"]
        print(
            f"| {'yes' if a['unlikes'] else 'no'} | {a['likes']} | {picked} | {a['auto_ndcg20']:.3f} | "
            f"{a['best_fixed']} {a['best_fixed_ndcg20']:.3f} | {a['reader_oracle_ndcg20']:.3f} | "
            f"{a['draw_oracle_ndcg20']:.3f} | {a['picked_draw_best']:.0%} | "
            f"{a['auto_minus_best_fixed']:+.3f} ± {a['auto_minus_best_fixed_ci95']:.3f} | "
            f"{duel['wins']}/{duel['ties']}/{duel['losses']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--index", type=Path, default=None, help="built here when missing, reused when present")
    parser.add_argument("--since-date", default=None, help="build only the papers dated this day or later")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--readers", type=int, default=30)
    parser.add_argument("--trials", type=int, default=2, help="cutoff weeks per reader")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(LIBRARY_SIZES), help="library sizes L")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    methods, sizes = tuple(args.methods), tuple(args.sizes)
    if args.index is None:
        args.index = DEFAULT_INDEX if not args.since_date else ROOT / "indexes" / f"feed-bench-since-{args.since_date}"

    import engine

    built_s = _ensure_index(args.data, args.index, args.since_date, args.backend)
    if built_s is not None:
        print(f"built {args.index} in {built_s:.0f} s", file=sys.stderr)
    started = time.perf_counter()
    records = []
    with engine.open(args.index) as ix:
        artifact, index = ix._artifact, ix._faiss
        manifest = ix.manifest
        papers = Papers(artifact)
        rng = random.Random(args.seed)
        readers, qualifying = _readers(papers, args.readers, args.trials, rng)
        rivals = _rivals(papers, artifact.vectors)
        print(
            f"{len(qualifying)} categories qualify; {len(readers)} readers: {', '.join(c for c, _ in readers)}",
            file=sys.stderr,
        )
        feeds: dict[str, list[int]] = {}
        draws = []
        for category, cutoffs in readers:
            for day in cutoffs:
                liked_pool = papers.before(category, day)
                rival = next(c for c in rivals[category] if len(papers.before(c, day)) >= UNLIKES)
                # always as many as the default sizes need, so other --sizes see the same draws (prefixes)
                likes = rng.sample(liked_pool, max(*LIBRARY_SIZES, *sizes))
                unlikes = rng.sample(papers.before(rival, day), UNLIKES)
                feed_rows = feeds.setdefault(day, papers.feed(day))
                relevant = {r for r in feed_rows if category in papers.categories[r]}
                draws.append((category, rival, day, likes, unlikes, feed_rows, relevant))
        for number, (category, rival, day, likes, unlikes, feed_rows, relevant) in enumerate(draws, start=1):
            for with_unlikes in (False, True):
                for size in sizes:
                    like = likes[:size]
                    unlike = unlikes if with_unlikes else []
                    record = {
                        "reader": category,
                        "rival": rival,
                        "cutoff": day,
                        "likes": size,
                        "unlikes": with_unlikes,
                        "feed": len(feed_rows),
                        "relevant": len(relevant),
                        "methods": {},
                    }
                    for method in methods:
                        tick = time.perf_counter()
                        ranked, choice = _rank(artifact, index, method, like, unlike, feed_rows)
                        ms = (time.perf_counter() - tick) * 1000
                        record["methods"][method] = {**_scores(ranked, relevant), "ms": ms}
                        if choice is not None:
                            record["auto_pick"] = choice.method
                    records.append(record)
            elapsed = time.perf_counter() - started
            print(f"draw {number}/{len(draws)} ({category} {day}) {elapsed:.0f} s", file=sys.stderr)
    run_s = time.perf_counter() - started

    table, auto_rows = _summaries(records, methods)
    feed_sizes = [r["feed"] for r in records]
    base_rate = _mean(r["relevant"] / r["feed"] for r in records)
    print(
        f"{len(draws)} draws ({len(readers)} readers x {args.trials} cutoffs) x L {sizes} x unlikes no/yes; "
        f"{len(artifact.vectors)} papers; feed {min(feed_sizes)}-{max(feed_sizes)} papers "
        f"(median {int(np.median(feed_sizes))}), relevant share {base_rate:.3f}; run {run_s:.0f} s"
    )
    _print_tables(table, auto_rows)
    per_reader: dict[str, dict] = defaultdict(dict)
    for r in records:
        key = f"L{r['likes']}{'+unlikes' if r['unlikes'] else ''}"
        slot = per_reader[r["reader"]].setdefault(key, defaultdict(list))
        for method in methods:
            slot[method].append(round(r["methods"][method]["ndcg20"], 4))
        if "auto_pick" in r:
            slot["auto_pick"].append(r["auto_pick"])
    figures = {
        "data": DATA_FILE if not args.since_date else f"{DATA_FILE} since {args.since_date}",
        "index": str(args.index.relative_to(ROOT) if args.index.is_relative_to(ROOT) else args.index),
        "papers": len(artifact.vectors),
        "model": {key: manifest["model"].get(key) for key in ("name", "backend", "cache_tag")},
        "build_s": None if built_s is None else round(built_s, 1),
        "run_s": round(run_s, 1),
        "readers": [{"category": c, "cutoffs": days, "rival": rivals[c][0]} for c, days in readers],
        "qualifying_categories": len(qualifying),
        "trials": args.trials,
        "seed": args.seed,
        "k": K,
        "feed_papers_median": int(np.median(feed_sizes)),
        "relevant_share": base_rate,
        "table": table,
        "auto": auto_rows,
        "ndcg20_per_reader": {c: {k: dict(v) for k, v in slots.items()} for c, slots in sorted(per_reader.items())},
    }
    write_json(args.json, {**figures, "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    os.environ.setdefault("TQDM_DISABLE", "1")
    main()
