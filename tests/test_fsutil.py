"""fsutil's copy: what an add brings over from the live version must be byte for byte."""

from __future__ import annotations

import os
from pathlib import Path

from engine.fsutil import copy_file


def test_a_copy_holds_the_source_s_bytes_and_nothing_else(tmp_path: Path) -> None:
    source, target = tmp_path / "source.bin", tmp_path / "target.bin"
    data = os.urandom(3 * 2**20 + 17)  # past one copy_file_range call's usual chunk
    source.write_bytes(data)
    target.write_bytes(b"x" * (len(data) + 4096))  # longer: must be cut to the source's size
    copy_file(source, target)
    assert target.read_bytes() == data
    source.write_bytes(b"")
    copy_file(source, target)
    assert target.read_bytes() == b""
