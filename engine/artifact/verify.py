"""``paperscope verify``: check every file of an index against its manifest.

Opening an index checks only what is cheap (files present at their recorded sizes,
counts and shapes agreeing). Verification reads everything: the sha256 of each file,
SQLite's own integrity check, that the vectors (and sentence vectors, if any) are
finite and unit-norm, and that FAISS loads with the right number of vectors. Every
problem names its file.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.artifact import integrity, sentences, store, vectors
from engine.errors import PaperscopeError


@dataclass
class VersionReport:
    path: Path
    live: bool
    papers: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)


def verify_index(index_dir: str | Path, all_versions: bool = False) -> list[VersionReport]:
    """Reports for the live version (and, with ``all_versions``, every kept one)."""
    index_dir = Path(index_dir)
    live = store.resolve_version(index_dir)
    versions = [live]
    if all_versions and live != index_dir:
        versions = sorted(
            p for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("v") and p.name[1:].isdigit()
        )
    return [verify_version(v, live=v.resolve() == live.resolve()) for v in versions]


def verify_version(version: Path, live: bool = True) -> VersionReport:
    report = VersionReport(version, live)
    try:
        manifest = store.read_manifest(version)
    except PaperscopeError as exc:
        report.problems.append(str(exc))
        return report
    listed = manifest.get("files") or {}
    report.files = len(listed)
    report.papers = int(manifest["counts"]["papers"])
    damaged = set()
    for name, info in sorted(listed.items()):
        path = version / name
        if not path.is_file():
            report.problems.append(f"{path}: missing")
            damaged.add(name)
            continue
        size = path.stat().st_size
        if size != info["bytes"]:
            report.problems.append(
                f"{path}: {size:,} bytes, the manifest says {info['bytes']:,} (truncated or extended)"
            )
            damaged.add(name)
        elif integrity.file_sha256(path) != info["sha256"]:
            report.problems.append(f"{path}: checksum differs from the manifest (altered)")
            damaged.add(name)
    for path in sorted(version.iterdir()):
        if path.name not in listed and path.name != integrity.MANIFEST:
            report.problems.append(f"{path}: not listed in the manifest")
    if store.PAPERS_DB not in damaged:
        report.problems += _check_database(version / store.PAPERS_DB, report.papers)
    if store.VECTORS not in damaged:
        report.problems += _check_vectors(version / store.VECTORS, report.papers, manifest["model"]["dimension"])
    if store.FAISS_INDEX not in damaged:
        report.problems += _check_faiss(version / store.FAISS_INDEX, report.papers, manifest.get("index"))
    if manifest.get("sentences") and not damaged & set(sentences.FILES):
        report.problems += sentences.check(version, report.papers, manifest["model"]["dimension"])
    return report


def _check_database(path: Path, papers: int) -> list[str]:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            verdict = [row[0] for row in db.execute("PRAGMA integrity_check")]
            if verdict != ["ok"]:
                return [f"{path}: SQLite integrity check: {'; '.join(verdict[:3])}"]
            rows = db.execute("SELECT COUNT(*), MIN(row), MAX(row) FROM papers").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return [f"{path}: unreadable ({exc})"]
    if rows[0] != papers or (papers and (rows[1], rows[2]) != (0, papers - 1)):
        return [f"{path}: {rows[0]} papers in rows {rows[1]}..{rows[2]}, the manifest says {papers}"]
    return []


def _check_vectors(path: Path, papers: int, dimension: int) -> list[str]:
    try:
        vectors = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        return [f"{path}: unreadable ({exc})"]
    if vectors.shape != (papers, dimension) or vectors.dtype != np.float32:
        return [f"{path}: {vectors.dtype} {vectors.shape}, expected float32 {(papers, dimension)}"]
    problems = []
    for start in range(0, papers, 65536):  # bounded memory on big indexes
        block = np.asarray(vectors[start : start + 65536])
        if not np.isfinite(block).all():
            problems.append(f"{path}: non-finite values near row {start}")
            break
        norms = np.linalg.norm(block, axis=1)
        bad = ~((np.abs(norms - 1) < 1e-3) | (norms == 0))  # zero: a text with no known token (static)
        if bad.any():
            problems.append(f"{path}: row {start + int(np.argmax(bad))} is not unit length")
            break
    return problems


def _check_faiss(path: Path, papers: int, spec: dict | None) -> list[str]:
    try:
        vectors.VectorIndex.load(path, papers, spec)
    except PaperscopeError as exc:
        return [str(exc)]
    return []
