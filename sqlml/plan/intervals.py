"""Time ranges of time_range incremental models: which batches a run must (re)build.

Pure arithmetic on naive UTC datetimes. Intervals are half-open, ``[start, end)``; the done
intervals of a model are stored merged (sorted, disjoint, adjacent ones joined).

>>> from datetime import datetime as d
>>> merge([(d(2026, 1, 2), d(2026, 1, 3)), (d(2026, 1, 1), d(2026, 1, 2))])
((datetime.datetime(2026, 1, 1, 0, 0), datetime.datetime(2026, 1, 3, 0, 0)),)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from sqlml.project.types import IncrementalConfig

Interval = tuple[datetime, datetime]

_STEPS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


def naive_utc(moment: datetime) -> datetime:
    """``moment`` as a naive datetime in UTC (naive input is taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def floor(moment: datetime, unit: str) -> datetime:
    """The start of the batch of size ``unit`` that holds ``moment``."""
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def shift(moment: datetime, unit: str, n: int) -> datetime:
    """``moment`` moved by ``n`` batches (months keep the day, which is 1 at batch starts)."""
    if unit in _STEPS:
        return moment + n * _STEPS[unit]
    months = moment.year * 12 + moment.month - 1 + n
    return moment.replace(year=months // 12, month=months % 12 + 1)


def ceil(moment: datetime, unit: str) -> datetime:
    """The end of the batch that holds ``moment``, or ``moment`` if a batch starts there."""
    start = floor(moment, unit)
    return start if start == moment else shift(start, unit, 1)


def merge(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """The union of ``intervals``: sorted, disjoint, touching ones joined, empty ones gone."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def subtract(whole: Interval, done: Sequence[Interval]) -> tuple[Interval, ...]:
    """The parts of ``whole`` that no interval of ``done`` covers.

    >>> from datetime import datetime as d
    >>> subtract((d(2026, 1, 1), d(2026, 1, 5)), [(d(2026, 1, 2), d(2026, 1, 3))])[1]
    (datetime.datetime(2026, 1, 3, 0, 0), datetime.datetime(2026, 1, 5, 0, 0))
    """
    gaps: list[Interval] = []
    cursor, end = whole
    for done_start, done_end in merge(done):
        if done_end <= cursor:
            continue
        if done_start >= end:
            break
        if done_start > cursor:
            gaps.append((cursor, done_start))
        cursor = max(cursor, done_end)
    if cursor < end:
        gaps.append((cursor, end))
    return tuple(gaps)


def plan_batches(
    config: IncrementalConfig,
    done: Sequence[Interval],
    now: datetime,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[Interval, ...]:
    """The ranges a run of a time_range model builds, in order, each once.

    Without ``start``/``end``: every batch from ``begin`` up to the one holding ``now`` that
    ``done`` does not cover (gaps, and the batches newer than the newest data so far), plus
    the ``lookback`` batches before the end of the newest done interval, which late rows may
    have reached. With ``start``/``end`` (a backfill): exactly the batches that range touches,
    whatever is done. Contiguous batches form one range, cut every ``batches_per_query``
    batches when that is set.
    """
    assert config.begin is not None, "time_range models have a begin (checked at compile)"
    unit = config.batch_size
    begin = floor(config.begin, unit)
    horizon = ceil(naive_utc(now), unit)
    if start is not None or end is not None:
        low = max(begin, floor(naive_utc(start), unit) if start else begin)
        high = min(horizon, ceil(naive_utc(end), unit) if end else horizon)
        todo: tuple[Interval, ...] = ((low, high),) if low < high else ()
    else:
        done = merge(done)
        todo = subtract((begin, horizon), done)
        if done and config.lookback:
            newest = min(done[-1][1], horizon)
            window = (max(begin, shift(newest, unit, -config.lookback)), newest)
            todo = merge([*todo, window])
    return tuple(piece for interval in todo for piece in _cut(interval, config))


def _cut(interval: Interval, config: IncrementalConfig) -> list[Interval]:
    size = config.batches_per_query
    if size is None:
        return [interval]
    pieces = []
    start, end = interval
    while start < end:
        stop = min(end, shift(start, config.batch_size, size))
        pieces.append((start, stop))
        start = stop
    return pieces


def done_after(
    done: Sequence[Interval], batch: Interval, newest: datetime | None, unit: str
) -> tuple[Interval, ...]:
    """The done intervals once ``batch`` has been built and the newest event time of the
    table from the batch's start on is ``newest`` (None: no row).

    Batches after the one holding the table's newest row are not done: no data has reached
    them yet, so later runs build them again until it does.
    """
    start, end = batch
    reached = start if newest is None else min(end, shift(floor(newest, unit), unit, 1))
    return merge([*done, (start, reached)])
