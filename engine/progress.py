"""How long stages report themselves: a progress bar with rate and ETA on stderr, and
:func:`timed`, the one way a stage's wall time is recorded."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(total: int, label: str, enabled: bool = True, unit: str = "papers") -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n)``. Drawn only when enabled and stderr is a terminal, so
    logs and CI output stay free of control codes."""
    if not enabled or total <= 0 or not sys.stderr.isatty():
        yield lambda n: None
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
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


@contextmanager
def timed(seconds: dict, stage: Hashable) -> Iterator[None]:
    """Add the wall time of the ``with`` block to ``seconds[stage]`` (also when it fails,
    so a report of a failed run still says where the time went)."""
    tick = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - tick
