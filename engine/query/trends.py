"""Topics over time: papers per month for every topic, and the emerging topics.

Like BERTopic's ``topics_over_time`` (counts per topic and time bin), one step further:
a topic is *emerging* when its share of the papers of the last ``recent`` months is
higher than its share of the months before, by more than chance. Shares, not counts,
so a growing corpus (or a half-collected last month) does not make every topic rise.

The test is the two-proportion z-test on the topic's count in each window against the
window's total; only topics with z >= ``Z_FLOOR`` and at least ``MIN_RECENT`` recent
papers count, ranked by how many times their share grew (with half a paper added to
each count, so a topic new in the recent window has a finite, modest ratio). A topic of
three papers can never top the list: its z stays under the floor.

Trailing months with under a quarter of the median month's papers are taken as still
being collected (a listing synced mid-month, a dump cut off): they are counted and
shown, but left out of both windows, where a few hundred papers of one field would
otherwise make that field "emerge".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.artifact import topic_store
from engine.artifact.store import Artifact
from engine.query.filters import date_bound

RECENT_MONTHS = 3
PARTIAL_SHARE = 0.25  # of the median month: below it, a trailing month is incomplete
Z_FLOOR = 3.0  # ~1 in 700 by chance for one topic; with ~100 topics, a false rise is rare
MIN_RECENT = 5  # papers in the recent window


@dataclass
class TopicTrend:
    topic: int
    counts: list[int]  # papers per month, aligned with Trends.months
    recent: int  # papers in the recent window
    earlier: int  # papers before it
    growth: float  # recent share / earlier share (smoothed)
    z: float  # two-proportion z statistic of the rise

    @property
    def emerging(self) -> bool:
        return self.z >= Z_FLOOR and self.recent >= MIN_RECENT and self.growth > 1


@dataclass
class Trends:
    level: str
    months: list[str]  # "YYYY-MM", every month from the first to the last, none skipped
    totals: list[int]  # papers per month (topics and outliers)
    recent_months: int
    complete_months: int  # the months the windows use (trailing incomplete ones left out)
    topics: dict[int, TopicTrend]
    undated: int  # papers without a date (not counted)

    def emerging(self) -> list[TopicTrend]:
        """The emerging topics, fastest-growing share first."""
        rising = [t for t in self.topics.values() if t.emerging and t.topic >= 0]
        return sorted(rising, key=lambda t: (-t.growth, -t.z, t.topic))


def trends(artifact: Artifact, level: str = "fine", since: str | None = None, recent: int = RECENT_MONTHS) -> Trends:
    """Monthly counts per topic of ``level`` (papers dated from ``since`` on), and each
    topic's rise over the last ``recent`` months."""
    level = topic_store.check_level(level)
    start = date_bound(since, "since", last=False)
    rows = artifact.db.execute(
        f"SELECT t.{level}, substr(p.date, 1, 7), COUNT(*) FROM paper_topics AS t JOIN papers AS p ON p.row = t.row "
        "WHERE p.date IS NOT NULL AND p.date >= ? GROUP BY 1, 2",
        (start or "",),
    ).fetchall()
    undated = artifact.db.execute("SELECT COUNT(*) FROM papers WHERE date IS NULL OR date = ''").fetchone()[0]
    months = month_range(min((m for _, m, _ in rows), default=None), max((m for _, m, _ in rows), default=None))
    column = {month: i for i, month in enumerate(months)}
    counts: dict[int, list[int]] = {}
    for topic, month, count in rows:
        counts.setdefault(int(topic), [0] * len(months))[column[month]] += count
    totals = [sum(c[i] for c in counts.values()) for i in range(len(months))]
    complete = complete_months(totals)
    window = max(1, min(int(recent), max(complete - 1, 1)))
    topics = {topic: _trend(topic, series, totals, complete, window) for topic, series in counts.items()}
    return Trends(level, months, totals, window, complete, topics, int(undated))


def complete_months(totals: list[int]) -> int:
    """How many leading months to use: trailing months far below the median are cut."""
    if not totals:
        return 0
    floor = PARTIAL_SHARE * sorted(totals)[len(totals) // 2]
    end = len(totals)
    while end > 1 and totals[end - 1] < floor:
        end -= 1
    return end


def month_range(first: str | None, last: str | None) -> list[str]:
    """Every "YYYY-MM" from ``first`` to ``last`` inclusive (empty when either is None)."""
    if first is None or last is None:
        return []
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while (year, month) <= (int(last[:4]), int(last[5:7])):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _trend(topic: int, series: list[int], totals: list[int], complete: int, window: int) -> TopicTrend:
    """A topic's counts, and its rise over the last ``window`` of the first ``complete`` months."""
    split = complete - window
    recent, earlier = sum(series[split:complete]), sum(series[:split])
    recent_total, earlier_total = sum(totals[split:complete]), sum(totals[:split])
    return TopicTrend(
        topic,
        series,
        recent,
        earlier,
        growth=rise(recent, recent_total, earlier, earlier_total),
        z=rise_z(recent, recent_total, earlier, earlier_total),
    )


def rise(recent: int, recent_total: int, earlier: int, earlier_total: int) -> float:
    """How many times the topic's share grew (half a paper added to each count)."""
    if recent_total <= 0 or earlier_total <= 0:
        return 1.0
    return ((recent + 0.5) / recent_total) / ((earlier + 0.5) / earlier_total)


def rise_z(recent: int, recent_total: int, earlier: int, earlier_total: int) -> float:
    """Two-proportion z statistic of recent share minus earlier share (0 when undefined)."""
    if recent_total <= 0 or earlier_total <= 0:
        return 0.0
    pooled = (recent + earlier) / (recent_total + earlier_total)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / recent_total + 1 / earlier_total))
    if spread == 0:
        return 0.0
    return (recent / recent_total - earlier / earlier_total) / spread
