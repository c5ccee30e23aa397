"""Schedules end to end: config errors, runs at a given clock, what `sqlml plan` shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqlml import Context
from sqlml.cli.main import cli
from sqlml.errors import CompileError, ConfigError
from sqlml.project import load_project
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import query

HINT = (
    "hint: write five fields, minute hour day-of-month month day-of-week, in UTC: e.g. "
    "'0 6 * * *' (06:00 every day) or '*/15 * * * *' (every 15 minutes); "
    "or use @hourly, @daily, @weekly, @monthly, @yearly"
)


def test_an_invalid_schedule_in_project_yml_names_the_line_and_the_fix(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "project.yml": "name: demo\nmodels:\n  marts:\n    +schedule: '0 6 * *'\n",
            "models/marts/a.sql": "select 1",
        },
    )

    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path)

    assert caught.value.render() == (
        "project.yml:4:5: invalid value for 'models.marts.+schedule': "
        "a cron expression has 5 fields, '0 6 * *' has 4\n" + HINT
    )


def test_an_invalid_schedule_in_a_properties_file(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/a.sql": "select 1",
            "models/a.yml": "models:\n  - name: a\n    config:\n      schedule: '@dayly'\n",
        },
    )

    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path)

    assert caught.value.render() == (
        "models/a.yml:4:7: invalid value for 'models.0.config.schedule': "
        "unknown schedule alias '@dayly' (did you mean '@daily' or '@yearly'?)\n" + HINT
    )


def test_an_invalid_schedule_in_config_fails_that_model_only(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/a.sql": "\n{{ config(schedule='61 * * * *') }}\nselect 1 as x",
            "models/b.sql": "select 2 as x",
        },
    )

    result = Context(root).run()

    assert [(r.node, r.status) for r in result.results] == [("a", "error"), ("b", "success")]
    error = Context(root).compile().errors["a"]
    assert isinstance(error, CompileError)
    assert error.render() == (
        "models/a.sql:2: invalid config 'schedule': invalid cron expression '61 * * * *': "
        "[61 * * * *] is not acceptable, out of range\n" + HINT
    )


# raw (unscheduled) -> hourly -> daily; a folder default schedules everything under marts/.
PROJECT = {
    "project.yml": "name: shop\nmodels:\n  marts:\n    +schedule: '@daily'\n",
    "models/raw.sql": "select range as id from range(3)",
    "models/hourly.sql": "{{ config(schedule='@hourly') }}\nselect * from {{ ref('raw') }}",
    "models/marts/daily.sql": "select count(*) as n from {{ ref('hourly') }}",
}
T0 = datetime(2026, 3, 10, 23, 40, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def built(context: Context) -> list[str]:
    result = context.run()
    assert result.success
    return [r.node for r in result.results]


def test_cron_calling_run_builds_each_node_when_due(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)
    clock = Clock(T0)
    context = Context(root, clock=clock)

    assert built(context) == ["raw", "hourly", "daily"]  # a first run builds everything
    clock.now = T0 + timedelta(minutes=5)
    assert built(context) == ["raw"]  # unscheduled nodes run every time
    clock.now = datetime(2026, 3, 11, 0, 0, tzinfo=UTC)
    assert built(context) == ["raw", "hourly", "daily"]
    clock.now += timedelta(minutes=30)
    assert built(context) == ["raw"]
    clock.now += timedelta(minutes=30)
    assert built(context) == ["raw", "hourly"]
    assert context.run(ignore_schedules=True).results[-1].node == "daily"

    rows = query(root, "select node, last_success_at from _sqlml.node_state order by node")
    assert rows == [
        ("daily", clock.now),
        ("hourly", clock.now),
        ("raw", clock.now),
    ]


# The CLI reads the real clock: these schedules tick only on January 1st, so a run just before
# and the command under test fall in the same tick interval (but on New Year's midnight).
YEARLY = {
    **PROJECT,
    "project.yml": "name: shop\nmodels:\n  marts:\n    +schedule: '@yearly'\n",
    "models/hourly.sql": "{{ config(schedule='0 0 1 1 *') }}\nselect * from {{ ref('raw') }}",
}


def test_plan_shows_what_is_not_due_and_when_it_will_be(tmp_path: Path) -> None:
    root = write_project(tmp_path, YEARLY)
    now = datetime.now(UTC)
    Context(root, clock=Clock(now)).run()

    result = CliRunner().invoke(cli, ["plan", "--project-dir", str(root), "-s", "hourly+"])

    assert result.exit_code == 0, result.output
    new_year = datetime(now.year + 1, 1, 1, tzinfo=UTC)
    assert result.output.splitlines() == [
        "Plan: 0 nodes to build on target 'dev'",
        "Skipped: 2 nodes not due (--all builds them)",
        f"  hourly  not due: 0 0 1 1 *, last built {now:%Y-%m-%d %H:%M} UTC, "
        f"next due {new_year:%Y-%m-%d %H:%M} UTC",
        f"  daily   not due: @yearly, last built {now:%Y-%m-%d %H:%M} UTC, "
        f"next due {new_year:%Y-%m-%d %H:%M} UTC",
    ]
    forced = CliRunner().invoke(cli, ["plan", "--project-dir", str(root), "-s", "hourly+", "--all"])
    assert "not due" not in forced.output
    assert "hourly" in forced.output and "daily" in forced.output


def test_run_says_how_many_nodes_are_not_due(tmp_path: Path) -> None:
    root = write_project(tmp_path, YEARLY)
    Context(root, clock=Clock(datetime.now(UTC))).run()

    result = CliRunner().invoke(cli, ["run", "--project-dir", str(root)])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [
        "Running 1 node of project 'shop' on target 'dev' (warehouse.duckdb)",
        "Not due by their schedule: 2 nodes (`sqlml plan` says when; --all builds them)",
    ]


SOURCED = {
    "project.yml": MINIMAL_PROJECT,
    "models/_sources.yml": """\
        sources:
          - name: raw
            schedule: '@daily'
            tables:
              - name: people
                file: data/people.csv
              - name: visits
                file: data/visits.csv
                schedule: '@hourly'
    """,
    "data/people.csv": "id\n1\n",
    "data/visits.csv": "id\n1\n",
    "models/counts.sql": """\
        select (select count(*) from {{ source('raw', 'people') }}) as people,
               (select count(*) from {{ source('raw', 'visits') }}) as visits
    """,
}


def test_a_scheduled_source_is_landed_again_only_when_due(tmp_path: Path) -> None:
    root = write_project(tmp_path, SOURCED)
    clock = Clock(T0)
    context = Context(root, clock=clock)
    assert built(context) == ["raw.people", "raw.visits", "counts"]

    write_project(root, {"data/people.csv": "id\n1\n2\n", "data/visits.csv": "id\n1\n2\n"})
    clock.now = T0 + timedelta(minutes=10)
    assert built(context) == ["counts"]
    assert query(root, "select people, visits from main.counts") == [(1, 1)]
    clock.now = datetime(2026, 3, 11, tzinfo=UTC)  # both ticks: midnight is on the hour too
    assert built(context) == ["raw.people", "raw.visits", "counts"]
    assert query(root, "select people, visits from main.counts") == [(2, 2)]
    write_project(root, {"data/people.csv": "id\n1\n2\n3\n", "data/visits.csv": "id\n1\n2\n3\n"})
    clock.now += timedelta(hours=1)
    assert built(context) == ["raw.visits", "counts"]
    assert query(root, "select people, visits from main.counts") == [(2, 3)]


def test_an_invalid_schedule_on_a_source_table(tmp_path: Path) -> None:
    files = {
        **SOURCED,
        "models/_sources.yml": SOURCED["models/_sources.yml"].replace("@hourly", "@hourley"),
    }
    write_project(tmp_path, files)

    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path)

    assert caught.value.render() == (
        "models/_sources.yml:9:9: invalid value for 'sources.0.tables.1.schedule': "
        "unknown schedule alias '@hourley' (did you mean '@hourly'?)\n" + HINT
    )
