"""What every sync shares (``sync --arxiv-api`` in :mod:`engine.pipeline.sync`, ``sync
--oai-pmh`` in :mod:`engine.pipeline.oai_sync`): a staging folder beside the index, the
flock of the one sync using it, ``state.json`` rewritten atomically after each staged
page (and before each request, for the rate limit across processes), the merge of the
staged pages through :func:`engine.pipeline.build.add` (or ``build`` for a new index),
and the completed state that moves the high-water mark and clears the pages.

``engine.artifact`` only removes ``.tmp-*`` leftovers and ``vNNNNNN`` versions, so
``.sync`` is never touched by index writers::

    INDEX/.sync/<key>/        key = sha256 of what identifies the sync (protocol, URL, query or set)[:16]
      lock                    flock of the one sync of this key
      state.json              identity, high-water mark, progress of the current run
      page-000000.<ext> ...   the pages fetched so far, as received
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, TypeVar

from engine.artifact import store
from engine.errors import IndexNotFound, PaperscopeError, SyncBusy, SyncError
from engine.fsutil import exclusive_lock, write_atomic
from engine.ingest.arxiv_client import PoliteClient
from engine.papers import Problem
from engine.pipeline import build

log = logging.getLogger(__name__)

SYNC_DIR = ".sync"
STATE = "state.json"
STATE_FORMAT = 1
S = TypeVar("S", bound="StagedState")


@dataclass(kw_only=True)
class FetchOptions:
    """What every sync is asked: politeness, and how to build or add."""

    delay: float = 3.0  # seconds between the starts of requests (arXiv's guidance)
    retries: int = 5  # per page, after the first attempt
    timeout: float = 30.0
    backoff: float = 2.0  # first backoff step in seconds; doubles per retry
    build: build.Options = field(default_factory=build.Options)

    def politeness(self) -> dict:
        """The client's keyword arguments."""
        if self.delay < 0 or self.retries < 0 or self.timeout <= 0:
            raise SyncError("the delay and retries must not be negative, and the timeout must be positive")
        return {"delay": self.delay, "retries": self.retries, "timeout": self.timeout, "backoff": self.backoff}


@dataclass(kw_only=True)
class StagedState:
    """What every ``state.json`` holds; a sync's subclass adds the fields named in
    ``IDENTITY`` (what the folder's key is made of) and its own progress."""

    IDENTITY: ClassVar[tuple[str, ...]] = ()
    high_water: str | None = None  # where the next sync starts; moved only after a merge
    last_completed: str | None = None
    last_request: float | None = None  # time.time() of the last request, for the rate limit
    pages: list[str] = field(default_factory=list)  # URL of each staged page, in order
    fetched: bool = False  # every page of this run is staged: only the merge is left
    format: int = STATE_FORMAT

    def identity(self) -> dict:
        return {name: getattr(self, name) for name in self.IDENTITY}

    def restarted(self: S) -> S:
        """A state with no run under way that keeps the high-water mark and timings."""
        return type(self)(
            **self.identity(),
            high_water=self.high_water,
            last_completed=self.last_completed,
            last_request=self.last_request,
        )


@dataclass(kw_only=True)
class FetchReport:
    """What every sync reports; a sync's subclass adds its own counts."""

    index_dir: Path
    pages_fetched: int = 0  # by this run
    pages_resumed: int = 0  # staged by an earlier run that did not finish
    new_papers: int = 0  # not in the index before
    requests: int = 0
    retries: int = 0
    rate_limit_wait: float = 0.0
    backoff_wait: float = 0.0
    high_water: str | None = None
    problems: list[Problem] = field(default_factory=list)
    build: dict | None = None

    def count(self, client: PoliteClient) -> None:
        self.requests, self.retries = client.requests, client.retried
        self.rate_limit_wait, self.backoff_wait = client.rate_wait, client.backoff_wait

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(
            index_dir=str(self.index_dir),
            problems=[str(p) for p in self.problems],
            rate_limit_wait=round(self.rate_limit_wait, 3),
            backoff_wait=round(self.backoff_wait, 3),
        )
        return data


def folder_for(index_dir: str | Path, *identity: str) -> Path:
    """``INDEX/.sync/<key>``, the key a hash of ``identity`` joined by newlines."""
    key = hashlib.sha256("\n".join(identity).encode()).hexdigest()[:16]
    return Path(index_dir) / SYNC_DIR / key


class Staging:
    """One sync's folder: its lock, its state and its pages (``page-NNNNNN.<ext>``)."""

    def __init__(self, folder: Path, ext: str) -> None:
        self.folder, self.ext = folder, ext

    @contextmanager
    def locked(self, what: str) -> Iterator[None]:
        """Held for the whole sync; ``what`` names it if another process holds it."""
        busy = lambda holder: SyncBusy(f"{what} is already running ({holder})")  # noqa: E731
        with exclusive_lock(self.folder / "lock", busy=busy):
            yield

    def page(self, number: int) -> Path:
        return self.folder / f"page-{number:06d}.{self.ext}"

    def pages(self, state: StagedState) -> list[Path]:
        return [self.page(i) for i in range(len(state.pages))]

    def load(self, empty: S) -> S:
        """The saved state of the sync ``empty`` identifies (``empty`` itself if none); if
        a staged page went missing (removed by hand), the fetch starts over (the
        high-water mark stays) rather than failing on every run."""
        path = self.folder / STATE
        if not path.exists():
            return empty
        try:
            state = type(empty)(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise SyncError(f"{path}: unreadable sync state ({exc}); remove {self.folder} to sync afresh") from exc
        if state.identity() != empty.identity() or state.format != STATE_FORMAT:
            raise SyncError(f"{path}: holds the state of another sync or format; remove {self.folder} to sync afresh")
        if all(p.is_file() for p in self.pages(state)):
            return state
        log.warning("%s: staged pages are missing; fetching this sync's pages again", self.folder)
        return state.restarted()

    def save(self, state: StagedState) -> None:
        write_atomic(self.folder / STATE, json.dumps(asdict(state), indent=1).encode("utf-8"))

    def attach(self, client: PoliteClient, state: StagedState) -> None:
        """The client keeps the spacing of the previous process's last request, and saves
        each request's time before it starts (state is whole then: pages are accounted
        between requests), so the next process keeps the spacing even after a kill."""
        client.last_request = state.last_request

        def remember(when: float) -> None:
            state.last_request = when
            self.save(state)

        client.on_request = remember

    def stage(self, state: StagedState, url: str, body: bytes) -> None:
        """Write the next page as received (atomically) and note its URL; the caller
        saves the state once it has accounted for the page."""
        if not state.pages:
            self.clear_pages()  # left by a run that died after merging, before cleaning up
        write_atomic(self.page(len(state.pages)), body)
        state.pages.append(url)

    def merge(self, state: StagedState, index_dir: Path, options: build.Options) -> build.BuildReport:
        """The staged pages into the index (built if missing). A failure keeps them for
        the next run (which merges without fetching) and says so."""
        pages = self.pages(state)
        try:
            return _add_or_build(pages, index_dir, options)
        except PaperscopeError as exc:
            note = f"{len(pages)} fetched page(s) stay in {self.folder}; the next sync merges them without refetching"
            noted = _with_note(exc, note)
            if noted is exc:
                raise
            raise noted from exc

    def at_urls(self, state: StagedState, problems: list[Problem]) -> list[Problem]:
        """Problems found in staged pages, named by the URL each page came from."""
        urls = {str(path): url for path, url in zip(self.pages(state), state.pages, strict=True)}
        return [Problem(urls.get(p.source, p.source), p.line, p.message) for p in problems]

    def complete(self, state: S, high_water: str | None) -> S:
        """Save the finished run (the new high-water mark), then clear the pages: a crash
        between the two re-merges them, harmlessly."""
        done = dataclasses.replace(state.restarted(), high_water=high_water, last_completed=format_time(now()))
        self.save(done)
        self.clear_pages()
        return done

    def clear_pages(self) -> None:
        for path in self.folder.glob("page-*"):
            path.unlink(missing_ok=True)
        for path in self.folder.glob(".*.tmp"):
            path.unlink(missing_ok=True)


def _add_or_build(pages: list[Path], index_dir: Path, options: build.Options) -> build.BuildReport:
    try:
        store.resolve_version(index_dir)
    except IndexNotFound:
        log.info("no index at %s yet: building it from %d page(s)", index_dir, len(pages))
        return build.build(pages, index_dir, options)
    return build.add(pages, index_dir, options)


def _with_note(exc: PaperscopeError, note: str) -> PaperscopeError:
    """The same kind of error (callers may catch IndexBusy, BuildError...), told more."""
    try:
        return type(exc)(f"{exc} ({note})")
    except TypeError:  # an error class with another signature: keep it as it is
        return exc


def format_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> datetime:
    return datetime.now(UTC)
