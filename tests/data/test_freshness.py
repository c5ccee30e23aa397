"""`sqlml freshness`: the age of each source's newest `loaded_at` value against its thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sqlml import Context
from tests.data.helpers import invoke
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import query


def hours_ago(hours: float, now: datetime) -> datetime:
    """A naive UTC timestamp ``hours`` before ``now``, to the second."""
    return now - timedelta(hours=hours)


def csv(now: datetime, *ages_h: float) -> str:
    return "id,at\n" + "".join(f"{i},{hours_ago(h, now)}\n" for i, h in enumerate(ages_h))


SOURCES = """\
    sources:
      - name: raw
        loaded_at: at
        freshness:
          warn_after: {count: 1, period: day}
          error_after: {count: 2, period: day}
        tables:
          - {name: fresh, file: data/fresh.csv}
          - {name: stale, file: data/stale.csv}
          - {name: old, file: data/old.csv}
          - name: empty
            file: data/empty.csv
            columns:
              - {name: id, data_type: bigint}
              - {name: at, data_type: timestamp}
          - name: hourly
            file: data/hourly.csv
            freshness:
              error_after: {count: 30, period: minute}
      - name: other
        tables:
          - {name: untimed, file: data/untimed.csv}
"""


@pytest.fixture
def now() -> datetime:
    """When the test's data was written: every age is relative to it."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@pytest.fixture
def landed(tmp_path: Path, now: datetime) -> Path:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/_sources.yml": SOURCES,
            "data/fresh.csv": csv(now, 30, 1),
            "data/stale.csv": csv(now, 36),
            "data/old.csv": csv(now, 80, 90),
            "data/empty.csv": "id,at\n",
            "data/hourly.csv": csv(now, 1),
            "data/untimed.csv": "id\n1\n",
        },
    )
    assert Context(root).run().success
    return root


def test_pass_warn_and_error_with_exit_1(landed: Path) -> None:
    result = invoke(landed, "freshness")

    assert result.exit_code == 1
    assert sorted(result.stdout.splitlines()) == [
        "ERROR raw.empty   no rows with a loaded_at value",
        "ERROR raw.hourly  newest row is 1.0h old (error after 30.0m)",
        "ERROR raw.old     newest row is 3.3d old (error after 2.0d)",
        "OK    raw.fresh   newest row is 1.0h old",
        "WARN  raw.stale   newest row is 1.5d old (warn after 1.0d)",
    ]
    assert result.stderr == ""


def test_warnings_alone_exit_0(landed: Path) -> None:
    result = invoke(landed, "freshness", "-s", "raw.fresh", "-s", "raw.stale")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "OK    raw.fresh  newest row is 1.0h old\n"
        "WARN  raw.stale  newest row is 1.5d old (warn after 1.0d)\n"
    )


def test_results_are_recorded_in_the_state_schema(landed: Path, now: datetime) -> None:
    results = Context(landed).freshness()

    assert {r.source: r.status for r in results} == {
        "raw.fresh": "pass",
        "raw.stale": "warn",
        "raw.old": "error",
        "raw.empty": "error",
        "raw.hourly": "error",
    }
    rows = query(
        landed,
        "select source, relation, loaded_at_column, max_loaded_at at time zone 'UTC', "
        "round(age_s / 3600), warn_after_s, error_after_s, status, message "
        "from _sqlml.source_freshness order by source",
    )
    assert rows == [
        ("raw.empty", "raw.empty", "at", None, None, 86400.0, 172800.0, "error",
         "no rows with a loaded_at value"),
        ("raw.fresh", "raw.fresh", "at", hours_ago(1, now), 1.0, 86400.0, 172800.0, "pass",
         "newest row is 1.0h old"),
        ("raw.hourly", "raw.hourly", "at", hours_ago(1, now), 1.0, None, 1800.0, "error",
         "newest row is 1.0h old (error after 30.0m)"),
        ("raw.old", "raw.old", "at", hours_ago(80, now), 80.0, 86400.0, 172800.0, "error",
         "newest row is 3.3d old (error after 2.0d)"),
        ("raw.stale", "raw.stale", "at", hours_ago(36, now), 36.0, 86400.0, 172800.0, "warn",
         "newest row is 1.5d old (warn after 1.0d)"),
    ]  # fmt: skip


def test_each_check_appends_to_the_history(landed: Path) -> None:
    Context(landed).freshness(select=["raw.fresh"])
    Context(landed).freshness(select=["raw.fresh"])

    assert query(landed, "select source, status from _sqlml.source_freshness") == [
        ("raw.fresh", "pass"),
        ("raw.fresh", "pass"),
    ]


def test_sources_without_loaded_at_are_skipped(landed: Path) -> None:
    assert Context(landed).freshness(select=["other.untimed"]) == []

    result = invoke(landed, "freshness", "-s", "other.untimed")

    assert result.exit_code == 0
    assert result.stdout == "No source declares loaded_at: nothing to check.\n"
