"""File integrity of a published version: sizes and sha256 against the manifest, and
the stamp that lets a reader skip re-hashing files it has already checked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from engine.errors import IndexCorrupt
from engine.fsutil import write_atomic

MANIFEST = "manifest.json"
TEMP_PREFIX = ".tmp-"  # what writers leave while working; the next writer removes it


def check_files(version: Path, manifest: dict) -> None:
    """Every listed file exists at its recorded size and, unless a stamp says these exact
    files (size, mtime, inode) were already checked, matches its recorded sha256.

    The writer stamps a version as it publishes it (it has just computed the hashes), so
    opening normally costs a few ``stat`` calls; a file changed behind our back gets a
    new mtime, fails the stamp and is caught by its checksum: an error naming the file,
    never wrong answers.
    """
    _check_sizes(version, manifest)
    files = manifest.get("files") or {}
    stamp = stamp_path(version)
    try:
        if json.loads(stamp.read_text()) == _file_keys(version, files):
            return
    except (OSError, ValueError):
        pass
    for name, info in files.items():
        if file_sha256(version / name) != info["sha256"]:
            raise IndexCorrupt(
                f"{version / name}: checksum differs from the manifest (altered); "
                f"run: paperscope verify --index {version.parent}"
            )
    write_stamp(version, files)


def stamp_path(version: Path) -> Path:
    return version.parent / f".stamp-{version.name}.json"


def _file_keys(version: Path, files: dict) -> dict:
    keys = {}
    for name in sorted(files):
        st = (version / name).stat()
        keys[name] = [st.st_size, st.st_mtime_ns, st.st_ino]
    return keys


def write_stamp(version: Path, files: dict) -> None:
    """Best effort: a reader without write access simply checks again next time."""
    try:  # only a record of a check: no need to sync it
        data = json.dumps(_file_keys(version, files)).encode()
        write_atomic(stamp_path(version), data, temp_prefix=TEMP_PREFIX, durable=False)
    except OSError:
        pass


def _check_sizes(version: Path, manifest: dict) -> None:
    for name, info in (manifest.get("files") or {}).items():
        path = version / name
        try:
            size = path.stat().st_size
        except OSError:
            raise IndexCorrupt(f"{path}: missing (listed in {version / MANIFEST})") from None
        if size != info["bytes"]:
            raise IndexCorrupt(
                f"{path}: {size:,} bytes, the manifest says {info['bytes']:,} (truncated or altered); "
                f"run: paperscope verify --index {version.parent}"
            )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
