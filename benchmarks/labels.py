#!/usr/bin/env python3
"""Topic-label quality on the 24-category clustering set (7,200 arXiv papers).

    python benchmarks/labels.py [--data ../shared/data] [--backend auto] [--json OUT]

Builds an index of the set through the public API (topics on; vectors from the
embedding cache when present) in a temporary folder and scores the labels of both
topic levels, fine and broad (coarse):

- named like its category: share of topics whose label, embedded with the index's
  model, is nearest (cosine) to the official arXiv name of the topic's majority
  category among the 24 names;
- broad repeats a child: broad topics whose label is one of their fine children's;
- duplicates: labels worn by two or more topics of one level;
- acronym stutter: labels and keywords holding an acronym of the words just before
  it ("knowledge distillation kd", "retrieval-augmented generation rag") or whose
  tail is the initials of all the words before it ("model llm agents"); a word the
  papers mostly write in lower case ("spin glass") is not taken for an acronym;
- fragments: labels whose first word, in their topic's titles and abstracts, follows
  one same (non stop) word in at least 60% of the phrase's occurrences, so the label
  cut a longer name short ("intelligence ai" inside "artificial intelligence ai");
- V-measure of the fine and broad assignments against the category (outliers, topic
  -1, count as one cluster), to show that label work left the clustering alone.

Labels are compared case-insensitively and ignoring a plural "s". Every label is
printed with its size and majority category, broad topics with their fine children.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from common import DEFAULT_DATA, peak_rss_mb, write_json

# The official arXiv names of the 24 categories of the set (arxiv.org/category_taxonomy).
CATEGORY_NAMES = {
    "astro-ph.CO": "Cosmology and Nongalactic Astrophysics",
    "astro-ph.EP": "Earth and Planetary Astrophysics",
    "astro-ph.GA": "Astrophysics of Galaxies",
    "astro-ph.HE": "High Energy Astrophysical Phenomena",
    "astro-ph.IM": "Instrumentation and Methods for Astrophysics",
    "astro-ph.SR": "Solar and Stellar Astrophysics",
    "cond-mat.mes-hall": "Mesoscale and Nanoscale Physics",
    "cond-mat.mtrl-sci": "Materials Science",
    "cond-mat.stat-mech": "Statistical Mechanics",
    "cond-mat.str-el": "Strongly Correlated Electrons",
    "cs.AI": "Artificial Intelligence",
    "cs.CE": "Computational Engineering, Finance, and Science",
    "cs.CL": "Computation and Language",
    "cs.CV": "Computer Vision and Pattern Recognition",
    "cs.GR": "Graphics",
    "cs.GT": "Computer Science and Game Theory",
    "cs.IT": "Information Theory",
    "cs.LG": "Machine Learning",
    "cs.NE": "Neural and Evolutionary Computing",
    "cs.RO": "Robotics",
    "eess.IV": "Image and Video Processing",
    "gr-qc": "General Relativity and Quantum Cosmology",
    "hep-ph": "High Energy Physics - Phenomenology",
    "math.RT": "Representation Theory",
}
LEVELS = ("coarse", "fine")
LEVEL_NAMES = {"coarse": "broad", "fine": "fine"}
FRAGMENT_SHARE = 0.6  # share of a label's occurrences that follow one same word
FRAGMENT_MIN_OCCURRENCES = 3  # fewer occurrences say nothing about what precedes a phrase
ACRONYM_CAPS_SHARE = 0.5  # a word written in capitals this often in the papers is an acronym
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_ACRONYM = re.compile(r"[a-z]{2,6}")


def words(phrase: str) -> list[str]:
    """Lower-cased words, hyphenated compounds kept whole."""
    return _WORD.findall(phrase.lower())


def singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def normalized(label: str) -> str:
    """A label compared case-insensitively and ignoring a plural "s"."""
    return " ".join(singular(w) for w in words(label))


# --- the index ----------------------------------------------------------------------


def read_categories(path: Path) -> dict[str, str]:
    """The primary arXiv category (the record's ``label``) of every paper, by id."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return {(record := json.loads(line))["id"]: record["label"] for line in handle}


def build_and_open(path: Path, index_dir: Path, backend: str):
    """Build the index with the public API and open it."""
    import engine
    from engine.pipeline.build import Options, build

    build([path], index_dir, Options(backend=backend, progress=False))
    return engine.open(index_dir)


def read_topics(ix, categories: dict[str, str]) -> dict[str, list[dict]]:
    """Both levels' topics (outliers left out) with members, majority category and share."""
    out: dict[str, list[dict]] = {}
    for level in LEVELS:
        out[level] = []
        for topic in ix.topics(level):
            if topic.id < 0:
                continue
            members = ix.topic_members(topic.id, level)
            counts = Counter(categories[m] for m in members)
            majority, count = counts.most_common(1)[0]
            out[level].append({
                "id": topic.id,
                "label": topic.label,
                "keywords": list(topic.keywords),
                "size": topic.size,
                "parent": topic.parent,
                "majority": majority,
                "majority_share": round(count / len(members), 3),
                "members": members,
            })  # fmt: skip
    return out


# --- the metrics --------------------------------------------------------------------


def named_like_category(topics: list[dict], embed) -> float:
    """Share of topics whose label's nearest official category name is their majority
    category's; records the nearest name on each topic."""
    codes = sorted(CATEGORY_NAMES)
    names = np.asarray(embed([CATEGORY_NAMES[c] for c in codes]), dtype=np.float32)
    labels = np.asarray(embed([t["label"] for t in topics]), dtype=np.float32)
    nearest = (labels @ names.T).argmax(axis=1)  # unit vectors: dot product = cosine
    for topic, index in zip(topics, nearest, strict=True):
        topic["nearest_category"] = codes[index]
    return round(float(np.mean([t["nearest_category"] == t["majority"] for t in topics])), 4)


def broad_repeats_child(topics: dict[str, list[dict]]) -> list[dict]:
    """Broad topics that wear the label of one of their own fine children, with their
    number of children (a broad topic with a single child holds much the same papers,
    so its repeating the label is less of a fault than one over several children)."""
    children: dict[int, list[str]] = {}
    for fine in topics["fine"]:
        children.setdefault(fine["parent"], []).append(normalized(fine["label"]))
    return [
        {"topic": t["id"], "label": t["label"], "children": len(children[t["id"]])}
        for t in topics["coarse"]
        if normalized(t["label"]) in children.get(t["id"], [])
    ]


def duplicates(topics: list[dict]) -> list[str]:
    """Labels (normalized) that two or more topics of one level wear."""
    counts = Counter(normalized(t["label"]) for t in topics)
    return sorted(label for label, n in counts.items() if n > 1)


def initials(before: list[str]) -> list[str]:
    """The initials of the words before a token: one per hyphenated part, and one per word."""
    return ["".join(part[0] for w in before for part in w.split("-")), "".join(w[0] for w in before)]


def stutter(phrase: str, caps_share: dict[str, float]) -> str | None:
    """The acronym in a phrase that repeats the words before it, if any."""
    tokens = words(phrase)
    for i, token in enumerate(tokens[1:], start=1):
        if not _ACRONYM.fullmatch(token) or caps_share.get(token, 1.0) < ACRONYM_CAPS_SHARE:
            continue
        forms = {token} | ({token[:-1]} if token.endswith("s") and len(token) > 2 else set())
        for letters in forms:
            for before in initials(tokens[:i]):
                # Its letters are the last initials, or its tail is all of them.
                if before.endswith(letters) or letters.endswith(before):
                    return token
    return None


def caps_shares(texts: list[str]) -> dict[str, float]:
    """For every short word of the papers, the share of its occurrences written in
    capitals ("LLM", "LLMs" count for "llm" and "llms")."""
    total: Counter[str] = Counter()
    caps: Counter[str] = Counter()
    for text in texts:
        for raw in re.findall(r"\b[A-Za-z]{2,7}\b", text):
            key = raw.lower()
            total[key] += 1
            stem = raw[:-1] if raw.endswith("s") else raw
            caps[key] += len(stem) > 1 and stem.isupper()
    return {key: caps[key] / n for key, n in total.items()}


def acronym_stutters(topics: dict[str, list[dict]], caps_share: dict[str, float]) -> dict:
    """Labels and keywords (both levels) with a stuttering acronym, and the acronym-like
    words left out because the papers write them in lower case."""
    labels, keywords, ordinary = [], [], set()
    for level in LEVELS:
        for topic in topics[level]:
            for phrase, found in [(topic["label"], labels)] + [(k, keywords) for k in topic["keywords"]]:
                token = stutter(phrase, caps_share)
                if token:
                    found.append({"level": level, "topic": topic["id"], "phrase": phrase, "acronym": token})
                elif stutter(phrase, {}):
                    ordinary.add(phrase)
    return {"labels": labels, "keywords": keywords, "lower_case_words_skipped": sorted(ordinary)}


def preceding_word(phrase: list[str], texts: list[list[str]], stop: frozenset[str]) -> tuple[str, float, int]:
    """The word that most often comes just before ``phrase`` in ``texts`` (stop words
    never count), the share of the phrase's occurrences it precedes, and how many
    occurrences there are."""
    before: Counter[str] = Counter()
    occurrences = 0
    width = len(phrase)
    for tokens in texts:
        for i in range(len(tokens) - width + 1):
            if tokens[i : i + width] == phrase:
                occurrences += 1
                if i > 0 and tokens[i - 1] not in stop:
                    before[tokens[i - 1]] += 1
    word, count = before.most_common(1)[0] if before else ("", 0)
    return word, (count / occurrences if occurrences else 0.0), occurrences


def fragments(topics: dict[str, list[dict]], token_lists: dict[str, list[str]]) -> list[dict]:
    """Labels that are the tail of a longer name their papers use (see the docstring)."""
    from engine.text import english_stop_words

    # English stop words only: the abstract boilerplate list holds "large", and
    # "language models" cut from "large language models" is just what we look for.
    stop = english_stop_words()
    found = []
    for level in LEVELS:
        for topic in topics[level]:
            phrase = [singular(w) for w in words(topic["label"])]
            texts = [token_lists[m] for m in topic["members"]]
            word, share, occurrences = preceding_word(phrase, texts, stop)
            if occurrences >= FRAGMENT_MIN_OCCURRENCES and share >= FRAGMENT_SHARE:
                found.append({
                    "level": level, "topic": topic["id"], "label": topic["label"],
                    "preceded_by": word, "share": round(share, 3), "occurrences": occurrences,
                })  # fmt: skip
    return found


def v_measures(ix, categories: dict[str, str]) -> dict[str, float]:
    from sklearn.metrics import v_measure_score

    data = ix.map_data()
    truth = [categories[i] for i in data.ids]
    # Topic -1 (outliers) is left as it is: one more cluster, as benchmarks/topics.py scores.
    return {level: round(float(v_measure_score(truth, getattr(data, level))), 4) for level in LEVELS}


# --- report -------------------------------------------------------------------------


def print_labels(topics: dict[str, list[dict]]) -> None:
    """Every broad topic with its fine children: size, majority category (share), label."""

    def line(t: dict) -> str:
        named = "" if t["nearest_category"] == t["majority"] else f"  [named like {t['nearest_category']}]"
        return f"{t['size']:>5} {t['majority']:<18} {t['majority_share']:>4.0%}  {t['label']}{named}"

    print("  labels (size, majority category and its share, label; [nearest name when not the majority's]):")
    for broad in sorted(topics["coarse"], key=lambda t: -t["size"]):
        print(f"  B{broad['id']:<4} {line(broad)}")
        for fine in sorted((f for f in topics["fine"] if f["parent"] == broad["id"]), key=lambda t: -t["size"]):
            print(f"      f{fine['id']:<4} {line(fine)}")
    orphans = [f for f in topics["fine"] if f["parent"] is None]
    for fine in orphans:
        print(f"      f{fine['id']:<4} {line(fine)}  (no broad parent)")


def print_figures(figures: dict) -> None:
    m = figures["metrics"]
    print(f"labels benchmark: {figures['papers']:,} papers, {figures['categories']} categories, "
          f"{figures['topics']['coarse']} broad and {figures['topics']['fine']} fine topics, "
          f"backend {figures['backend']}, engine from {figures['engine']}")  # fmt: skip
    print(f"  {'metric':<38} {'broad':>7} {'fine':>7}")
    named = m["named_like_category"]
    print(f"  {'label nearest its category name':<38} {named['coarse']:>7.1%} {named['fine']:>7.1%}")
    print(f"  {'duplicate labels':<38} {len(m['duplicates']['coarse']):>7} {len(m['duplicates']['fine']):>7}")
    print(f"  {'V-measure against category':<38} {m['v_measure']['coarse']:>7.3f} {m['v_measure']['fine']:>7.3f}")
    repeats = m["broad_repeats_child"]
    several = [r for r in repeats if r["children"] > 1]
    stutters = m["acronym_stutter"]
    print(f"  broad labels repeating a fine child: {len(repeats)} ({len(several)} over 2+ children); "
          f"acronym stutters (both levels): {len(stutters['labels'])} labels, {len(stutters['keywords'])} keywords; "
          f"fragment labels (both levels): {len(m['fragments'])}")  # fmt: skip
    for level in LEVELS:
        if m["duplicates"][level]:
            print(f"  duplicate {LEVEL_NAMES[level]} labels: {'; '.join(m['duplicates'][level])}")
    if repeats:
        listed = [r["label"] + (f" ({r['children']} children)" if r["children"] > 1 else "") for r in repeats]
        print(f"  broad labels repeating a child: {'; '.join(listed)}")
    for kind in ("labels", "keywords"):
        phrases = sorted({s["phrase"] for s in stutters[kind]})
        if phrases:
            print(f"  stuttering {kind}: {'; '.join(phrases)}")
    if stutters["lower_case_words_skipped"]:
        print(f"  not acronyms (lower case in the papers): {'; '.join(stutters['lower_case_words_skipped'])}")
    for f in m["fragments"]:
        print(f"  fragment ({LEVEL_NAMES[f['level']]} {f['topic']}): {f['label']!r} follows "
              f"{f['preceded_by']!r} in {f['share']:.0%} of {f['occurrences']}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()

    import engine
    from engine.ingest.sources import read_papers

    path = args.data / "eval" / "clustering-24x300.jsonl.gz"
    categories = read_categories(path)
    papers = read_papers(path).papers
    missing = [p.id for p in papers if p.id not in categories]
    if missing:
        raise SystemExit(f"{len(missing)} papers have no label, e.g. {missing[:3]}")
    texts = {p.id: f"{p.title}. {p.abstract}" for p in papers}
    with tempfile.TemporaryDirectory(prefix="paperscope-labels-") as scratch:
        tick = time.perf_counter()
        ix = build_and_open(path, Path(scratch) / "index", args.backend)
        build_s = time.perf_counter() - tick
        with ix:
            topics = read_topics(ix, categories)
            embed = ix.embedder().embed
            named = {level: named_like_category(topics[level], embed) for level in LEVELS}
            v_measure = v_measures(ix, categories)
            backend = ix.manifest["model"].get("backend")
    token_lists = {i: [singular(w) for w in words(text)] for i, text in texts.items()}
    metrics = {
        "named_like_category": named,
        "broad_repeats_child": broad_repeats_child(topics),
        "duplicates": {level: duplicates(topics[level]) for level in LEVELS},
        "acronym_stutter": acronym_stutters(topics, caps_shares(list(texts.values()))),
        "fragments": fragments(topics, token_lists),
        "v_measure": v_measure,
    }
    for level in LEVELS:
        for topic in topics[level]:
            del topic["members"]
    figures = {
        "papers": len(papers),
        "categories": len(set(categories.values())),
        "topics": {level: len(topics[level]) for level in LEVELS},
        "backend": backend,
        "engine": str(Path(engine.__file__).parent),
        "metrics": metrics,
        "labels": topics,
        "build_s": round(build_s, 1),
        "peak_rss_mb": peak_rss_mb(),
    }
    print_figures(figures)
    print_labels(topics)
    print(f"  build {figures['build_s']:.1f} s, peak RSS {figures['peak_rss_mb']} MB")
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
