"""The file-system mechanisms every writer shares: one lock, one atomic write, one way
to give up on a half-written version.

* :func:`exclusive_lock`: an ``flock`` on a lock file that names its holder, so a
  second writer is told who is busy (or waits for it).
* :func:`atomic_file` / :func:`write_atomic`: a temporary sibling, synced, renamed over
  the target, the folder synced: after a crash the target holds the old bytes or the
  new ones, never a mix.
* :func:`atomic_folder`: the same for a folder that is filled and then renamed into place.
* :func:`abandoned_on_error`: a writer whose work is thrown away if anything fails.
* :func:`copy_file`: a file's contents, shared block by block where the file system can.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol, TypeVar


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_file(source: Path, target: Path) -> None:
    """``source``'s contents into ``target`` (new or truncated), by ``copy_file_range``:
    XFS and btrfs then share the blocks (a reflink: a 3 GB papers database in
    milliseconds), other file systems copy in the kernel. Where the call is refused
    (another file system, an old kernel), an ordinary copy."""
    try:
        with open(source, "rb") as src, open(target, "wb") as dst:
            left = os.fstat(src.fileno()).st_size
            while left > 0:
                done = os.copy_file_range(src.fileno(), dst.fileno(), left)
                if done == 0:  # the source shrank under us: copy what is there
                    break
                left -= done
    except OSError as error:
        if error.errno not in {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP}:
            raise
        shutil.copyfile(source, target)


@contextmanager
def exclusive_lock(
    path: Path, wait_seconds: float | None = 0.0, busy: Callable[[str], Exception] | None = None
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block.

    ``wait_seconds=None`` waits as long as it takes; otherwise the lock is retried until
    the deadline, then ``busy(holder)`` is raised, ``holder`` being what the holding
    process wrote into the file ("pid N"). The lock goes with the process, so a writer
    killed mid-way never leaves it held.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = None if wait_seconds is None else time.monotonic() + wait_seconds
    with open(path, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise (busy or _busy)(holder) from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield


def _busy(holder: str) -> Exception:
    return BlockingIOError(f"locked by {holder}")


@contextmanager
def atomic_file(path: Path, temp_prefix: str = ".", durable: bool = True) -> Iterator[IO[bytes]]:
    """A binary handle whose contents replace ``path`` when the block ends without error.

    The temporary sibling is named ``{temp_prefix}{name}.{pid}.tmp`` (writers that tidy
    leftovers by prefix pass theirs). ``durable=False`` skips the syncs, for files that
    are only a cache of something that can be recomputed.
    """
    temp = path.with_name(f"{temp_prefix}{path.name}.{os.getpid()}.tmp")
    try:
        with open(temp, "wb") as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_path(path.parent)


def write_atomic(path: Path, data: bytes, temp_prefix: str = ".", durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path, temp_prefix, durable) as handle:
        handle.write(data)


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """A fresh temporary folder beside ``target``, renamed to ``target`` (replacing it)
    when the block ends without error and removed when it does not. Folders left by a
    process that died mid-way (``.{name}-*``) are removed first; call it under a lock."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield work
        if target.exists():
            shutil.rmtree(target)
        os.rename(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    fsync_path(target.parent)


class Abandonable(Protocol):
    def abandon(self) -> None: ...


W = TypeVar("W", bound=Abandonable)


@contextmanager
def abandoned_on_error(writer: W) -> Iterator[W]:
    """``writer`` for the block; if anything in it fails (an error, Ctrl-C), its
    half-written work is thrown away before the failure goes on."""
    try:
        yield writer
    except BaseException:
        writer.abandon()
        raise
