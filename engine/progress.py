"""How long stages report themselves: a progress bar with rate and ETA on stderr,
:func:`announce` for a step worth telling the user about (making a model, choosing a
backend), and :func:`timed`, the one way a stage's wall time is recorded."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(total: int, label: str, enabled: bool = True, unit: str = "papers") -> Iterator[Callable[..., None]]:
    """Yields ``advance(n, step=None)``; ``step`` names what runs next ("topics: labels").
    Drawn only when enabled and stderr is a terminal, so logs and CI output stay free of
    control codes."""
    if not enabled or total <= 0 or not sys.stderr.isatty():
        yield lambda n, step=None: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.1f} {unit}/s" if speed else f"- {unit}/s", style="cyan")

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    # Rate and ETA from the whole run, not rich's default 30 s window: a stage whose
    # updates come less often than that would otherwise never show a rate.
    with Progress(*columns, console=Console(stderr=True), speed_estimate_period=24 * 3600) as progress:
        task = progress.add_task(label, total=total)

        def advance(n: int, step: str | None = None) -> None:
            progress.update(task, advance=n, description=f"{label}: {step}" if step else label)

        yield advance


def announce(message: str) -> None:
    """One line on stderr saying what a slow, one-off step is doing (stdout stays for
    answers and ``--json``). ``PAPERSCOPE_QUIET=1`` silences it."""
    import os

    if os.environ.get("PAPERSCOPE_QUIET") != "1":
        print(f"paperscope: {message}", file=sys.stderr, flush=True)


@contextmanager
def timed(seconds: dict, stage: Hashable) -> Iterator[None]:
    """Add the wall time of the ``with`` block to ``seconds[stage]`` (also when it fails,
    so a report of a failed run still says where the time went)."""
    tick = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - tick
