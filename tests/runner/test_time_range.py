"""time_range incremental models on a real DuckDB file: batches, interval state, lookback,
backfill, gap filling, full refresh and rollback of a failing batch."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlml import Context
from tests.data.helpers import by_node, invoke, message, statuses
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import query

D = datetime
HEADER = "id,ts,v\n"
DAYS_1_TO_3 = "1,2026-01-01 10:00:00,1\n2,2026-01-02 11:00:00,2\n3,2026-01-03 09:00:00,3\n"
MODEL = """\
    {{ config(materialized='incremental', incremental_strategy='time_range', event_time='ts',
              batch_size='day', begin='2026-01-01', lookback=LOOKBACK) }}
    select id, ts, 10 // v as v from {{ ref('events') }}
    where ts >= {{ start }} and ts < {{ end }}
"""
SEED_TYPES = """\
    seeds:
      - name: events
        config:
          column_types: {id: integer, ts: timestamp, v: integer}
"""


def project(root: Path, rows: str = DAYS_1_TO_3, lookback: int = 0, model: str = MODEL) -> Path:
    return write_project(
        root,
        {
            "project.yml": MINIMAL_PROJECT,
            "seeds/events.csv": HEADER + rows,
            "seeds/events.yml": SEED_TYPES,
            "models/daily.sql": model.replace("LOOKBACK", str(lookback)),
        },
    )


def rows(root: Path) -> list[tuple[object, ...]]:
    return query(root, "select id, ts::date::varchar, v from main.daily order by all")


def intervals(root: Path) -> list[tuple[datetime, datetime]]:
    return [
        (start, end)
        for start, end in query(
            root, "select start_at, end_at from _sqlml.intervals where node = 'daily' order by 1"
        )
    ]


def test_first_run_builds_every_batch_and_records_them_up_to_the_newest_row(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)

    result = Context(root).run()

    assert result.success
    assert by_node(result)["daily"].rows == 3
    assert rows(root) == [(1, "2026-01-01", 10), (2, "2026-01-02", 5), (3, "2026-01-03", 3)]
    # Days after the newest row are not done: data may still arrive for them.
    assert intervals(root) == [(D(2026, 1, 1), D(2026, 1, 4))]


def test_a_new_day_is_the_only_work_of_the_next_run(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert Context(root).run().success
    project(root, DAYS_1_TO_3 + "4,2026-01-04 08:00:00,5\n5,2026-01-04 09:00:00,1\n")

    plan = Context(root).plan()
    result = Context(root).run()

    step = next(s for s in plan.steps if s.node == "daily")
    assert step.incremental is not None and not step.incremental.full
    assert step.incremental.batches[0][0] == D(2026, 1, 4)
    assert by_node(result)["daily"].rows == 2
    assert [r[0] for r in rows(root)] == [1, 2, 3, 4, 5]
    assert intervals(root) == [(D(2026, 1, 1), D(2026, 1, 5))]


def test_late_rows_within_the_lookback_are_picked_up_once(tmp_path: Path) -> None:
    root = project(tmp_path, lookback=1)
    assert Context(root).run().success
    # A late row for the newest done day, another for an older day (beyond the lookback).
    late = DAYS_1_TO_3 + "6,2026-01-03 23:00:00,1\n7,2026-01-01 12:00:00,1\n"
    project(root, late, lookback=1)

    assert Context(root).run().success
    assert Context(root).run().success  # again: replaced, never duplicated

    assert [r[0] for r in rows(root)] == [1, 2, 3, 6]


def test_backfill_rebuilds_a_range_exactly_once(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert Context(root).run().success
    late = DAYS_1_TO_3 + "7,2026-01-01 12:00:00,1\n"
    project(root, late)

    for _ in range(2):
        result = invoke(root, "run", "--start", "2026-01-01", "--end", "2026-01-02")
        assert result.exit_code == 0, result.output

    assert [r[0] for r in rows(root)] == [1, 2, 3, 7]
    assert intervals(root) == [(D(2026, 1, 1), D(2026, 1, 4))]


def test_gaps_are_filled_by_the_next_run(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert Context(root).run(start=D(2026, 1, 2), end=D(2026, 1, 3)).success
    assert [r[0] for r in rows(root)] == [2]
    assert intervals(root) == [(D(2026, 1, 2), D(2026, 1, 3))]

    result = Context(root).run()

    assert result.success
    assert by_node(result)["daily"].rows == 2  # days 1 and 3, not day 2 again
    assert [r[0] for r in rows(root)] == [1, 2, 3]
    assert intervals(root) == [(D(2026, 1, 1), D(2026, 1, 4))]


def test_the_table_keeps_only_rows_inside_each_batch_without_bounds_in_the_sql(
    tmp_path: Path,
) -> None:
    model = MODEL.replace("where ts >= {{ start }} and ts < {{ end }}", "")
    root = project(tmp_path, model=model)
    assert Context(root).run(start=D(2026, 1, 2), end=D(2026, 1, 3)).success

    assert [r[0] for r in rows(root)] == [2]


def test_full_refresh_rebuilds_and_resets_the_intervals(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert Context(root).run(start=D(2026, 1, 2), end=D(2026, 1, 3)).success
    project(root, "2,2026-01-02 11:00:00,2\n8,2026-01-05 10:00:00,1\n")

    result = invoke(root, "run", "--full-refresh")

    assert result.exit_code == 0, result.output
    assert [r[0] for r in rows(root)] == [2, 8]
    assert intervals(root) == [(D(2026, 1, 1), D(2026, 1, 6))]


def test_a_failing_batch_leaves_the_table_and_intervals_as_they_were(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert Context(root).run().success
    # Day 4 is fine, day 5 divides by zero: day 4 commits with its interval, day 5 does not.
    model = MODEL.replace("lookback=LOOKBACK", "lookback=LOOKBACK, batches_per_query=1")
    project(root, DAYS_1_TO_3 + "4,2026-01-04 08:00:00,5\n5,2026-01-05 08:00:00,0\n", model=model)

    result = Context(root).run(start=D(2026, 1, 4), end=D(2026, 1, 6))

    assert statuses(result)["daily"] == "error"
    assert "Division by zero" in message(result, "daily") or "division" in message(result, "daily")
    assert [r[0] for r in rows(root)] == [1, 2, 3, 4]
    assert intervals(root) == [(D(2026, 1, 1), D(2026, 1, 5))]


def test_plan_shows_what_a_run_would_build(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert Context(root).run().success

    result = invoke(root, "plan", "-s", "daily")

    assert result.exit_code == 0, result.output
    assert "daily  incremental  main.daily  (unchanged, incremental time_range, range from " in (
        result.output
    )


def test_a_backfill_range_must_start_before_it_ends(tmp_path: Path) -> None:
    root = project(tmp_path)

    result = invoke(root, "run", "--start", "2026-01-05", "--end", "2026-01-02")

    assert result.exit_code == 2
    assert "Error: --start (2026-01-05 00:00:00) must be before --end (2026-01-02 00:00:00)" in (
        result.output
    )


def test_plan_full_refresh_says_the_model_is_rebuilt(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert Context(root).run().success

    result = invoke(root, "plan", "--full-refresh")

    assert result.exit_code == 0, result.output
    assert "(unchanged, full build, range from 2026-01-01 to " in result.output
