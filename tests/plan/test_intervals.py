"""Which batches a time_range model builds: pure interval arithmetic, no warehouse."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from sqlml.plan.intervals import ceil, done_after, floor, merge, plan_batches, shift, subtract
from sqlml.project.types import IncrementalConfig

D = datetime
DAILY = IncrementalConfig(
    strategy="time_range", event_time="at", batch_size="day", begin=D(2026, 1, 1)
)
NOW = D(2026, 1, 10, 15, 30)


def test_units_floor_ceil_and_shift() -> None:
    moment = D(2026, 1, 31, 13, 45)
    assert floor(moment, "hour") == D(2026, 1, 31, 13)
    assert ceil(moment, "day") == D(2026, 2, 1)
    assert floor(moment, "month") == D(2026, 1, 1)
    assert shift(D(2026, 12, 1), "month", 2) == D(2027, 2, 1)
    assert shift(D(2026, 1, 1), "month", -1) == D(2025, 12, 1)
    assert ceil(D(2026, 1, 1), "day") == D(2026, 1, 1)  # a boundary is its own ceiling


def test_first_run_builds_everything_up_to_the_batch_holding_now() -> None:
    assert plan_batches(DAILY, (), NOW) == ((D(2026, 1, 1), D(2026, 1, 11)),)


def test_gaps_and_the_undone_tail_are_built_each_once() -> None:
    done = ((D(2026, 1, 1), D(2026, 1, 3)), (D(2026, 1, 5), D(2026, 1, 8)))

    assert plan_batches(DAILY, done, NOW) == (
        (D(2026, 1, 3), D(2026, 1, 5)),
        (D(2026, 1, 8), D(2026, 1, 11)),
    )


def test_lookback_redoes_the_newest_done_batches() -> None:
    config = IncrementalConfig(**{**DAILY.__dict__, "lookback": 2})
    done = ((D(2026, 1, 1), D(2026, 1, 8)),)

    assert plan_batches(config, done, NOW) == ((D(2026, 1, 6), D(2026, 1, 11)),)


def test_lookback_never_reaches_before_begin() -> None:
    config = IncrementalConfig(**{**DAILY.__dict__, "lookback": 30})
    done = ((D(2026, 1, 1), D(2026, 1, 11)),)

    assert plan_batches(config, done, NOW) == ((D(2026, 1, 1), D(2026, 1, 11)),)


def test_backfill_builds_exactly_the_range_it_touches_whatever_is_done() -> None:
    done = ((D(2026, 1, 1), D(2026, 1, 11)),)

    batches = plan_batches(DAILY, done, NOW, start=D(2026, 1, 2, 6), end=D(2026, 1, 4, tzinfo=UTC))

    assert batches == ((D(2026, 1, 2), D(2026, 1, 4)),)


def test_backfill_is_clipped_to_begin_and_now() -> None:
    batches = plan_batches(DAILY, (), NOW, start=D(2025, 6, 1), end=D(2030, 1, 1))

    assert batches == ((D(2026, 1, 1), D(2026, 1, 11)),)


def test_batches_per_query_cuts_long_ranges() -> None:
    config = IncrementalConfig(**{**DAILY.__dict__, "batches_per_query": 4})

    assert plan_batches(config, (), NOW) == (
        (D(2026, 1, 1), D(2026, 1, 5)),
        (D(2026, 1, 5), D(2026, 1, 9)),
        (D(2026, 1, 9), D(2026, 1, 11)),
    )


def test_monthly_and_hourly_batches() -> None:
    monthly = IncrementalConfig(**{**DAILY.__dict__, "batch_size": "month"})
    hourly = IncrementalConfig(
        **{**DAILY.__dict__, "batch_size": "hour", "begin": D(2026, 1, 10, 12)}
    )

    assert plan_batches(monthly, (), D(2026, 3, 2)) == ((D(2026, 1, 1), D(2026, 4, 1)),)
    assert plan_batches(hourly, ((D(2026, 1, 10, 12), D(2026, 1, 10, 14)),), NOW) == (
        (D(2026, 1, 10, 14), D(2026, 1, 10, 16)),
    )


def test_a_batch_is_done_up_to_the_batch_of_the_newest_row() -> None:
    batch = (D(2026, 1, 8), D(2026, 1, 11))
    done = ((D(2026, 1, 1), D(2026, 1, 8)),)

    assert done_after(done, batch, D(2026, 1, 9, 23), "day") == ((D(2026, 1, 1), D(2026, 1, 10)),)
    assert done_after(done, batch, None, "day") == done  # no data yet: nothing more is done
    assert done_after(done, batch, D(2026, 2, 1), "day") == ((D(2026, 1, 1), D(2026, 1, 11)),)


days = st.integers(min_value=0, max_value=40)
spans = st.lists(st.tuples(days, days), max_size=6)


@given(spans, st.integers(min_value=0, max_value=3))
def test_planned_batches_are_disjoint_and_cover_every_gap(
    raw: list[tuple[int, int]], lookback: int
) -> None:
    config = IncrementalConfig(**{**DAILY.__dict__, "lookback": lookback})
    done = merge((shift(D(2026, 1, 1), "day", a), shift(D(2026, 1, 1), "day", b)) for a, b in raw)
    now = D(2026, 1, 30, 1)

    batches = plan_batches(config, done, now)

    assert list(batches) == sorted(batches)
    assert all(a[1] <= b[0] for a, b in pairwise(batches))
    horizon = (D(2026, 1, 1), D(2026, 1, 31))
    assert subtract(horizon, [*done, *batches]) == ()  # nothing is left undone
