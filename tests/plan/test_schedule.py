"""Schedules in make_plan: which nodes are due at a given clock, computed without a warehouse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlml.compiler import CompiledProject, compile_project
from sqlml.graph import build_dag
from sqlml.plan import Plan, WarehouseState, make_plan
from sqlml.plan.types import NotDue
from sqlml.project import load_project
from sqlml.project.schedule import next_tick, schedule_problem
from tests.projectfactory import MINIMAL_PROJECT, write_project

# hourly -> daily -> report (unscheduled); always (unscheduled); eph (ephemeral, @daily)
PROJECT = {
    "project.yml": MINIMAL_PROJECT,
    "models/hourly.sql": "{{ config(schedule='@hourly') }}\nselect 1 as id",
    "models/daily.sql": "{{ config(schedule='@daily') }}\nselect * from {{ ref('hourly') }}",
    "models/report.sql": "select count(*) as n from {{ ref('daily') }}",
    "models/always.sql": "select 2 as id",
    "models/eph.sql": "{{ config(materialized='ephemeral', schedule='@daily') }}\nselect 3 as id",
    "models/uses_eph.sql": "select * from {{ ref('eph') }}",
}
T0 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> CompiledProject:
    root = write_project(tmp_path_factory.mktemp("schedules"), PROJECT)
    return compile_project(load_project(root))


def built_at(compiled: CompiledProject, at: datetime, *names: str) -> WarehouseState:
    """The state after a run at ``at`` built ``names`` (all built nodes, when none given)."""
    names = names or tuple(n for n, node in compiled.nodes.items() if node.kind == "model")
    return WarehouseState(
        relations={("main", n): "table" for n in names},
        fingerprints={n: compiled.nodes[n].fingerprint for n in names},
        last_success=dict.fromkeys(names, at),
    )


def plan_at(
    compiled: CompiledProject, state: WarehouseState, now: datetime, *, ignore: bool = False
) -> Plan:
    dag = build_dag({name: node.depends_on for name, node in compiled.nodes.items()})
    return make_plan(compiled, dag, set(compiled.nodes), state, now=now, ignore_schedules=ignore)


def built(plan: Plan) -> set[str]:
    return {s.node for s in plan.steps}


def test_a_fresh_warehouse_builds_everything(compiled: CompiledProject) -> None:
    plan = plan_at(compiled, WarehouseState(), T0)

    assert built(plan) == {"hourly", "daily", "report", "always", "uses_eph"}
    assert plan.not_due == ()


def test_within_the_same_tick_only_unscheduled_nodes_are_built(compiled: CompiledProject) -> None:
    plan = plan_at(compiled, built_at(compiled, T0), T0 + timedelta(minutes=20))

    assert built(plan) == {"report", "always", "uses_eph"}  # eph is inlined: never held back
    assert plan.not_due == (
        NotDue("hourly", "@hourly", T0, datetime(2026, 3, 10, 10, 0, tzinfo=UTC)),
        NotDue("daily", "@daily", T0, datetime(2026, 3, 11, 0, 0, tzinfo=UTC)),
    )
    report = next(s for s in plan.steps if s.node == "report")
    assert report.depends_on == ()  # it reads daily's table as it is


def test_a_node_is_due_from_the_instant_of_its_next_tick(compiled: CompiledProject) -> None:
    state = built_at(compiled, T0)
    just_before = datetime(2026, 3, 10, 9, 59, 59, tzinfo=UTC)
    on_the_hour = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)

    assert "hourly" not in built(plan_at(compiled, state, just_before))
    assert built(plan_at(compiled, state, on_the_hour)) >= {"hourly"}
    assert "daily" not in built(plan_at(compiled, state, on_the_hour))
    midnight = plan_at(compiled, state, datetime(2026, 3, 11, tzinfo=UTC))
    assert built(midnight) >= {"hourly", "daily"}
    daily = next(s for s in midnight.steps if s.node == "daily")
    assert daily.depends_on == ("hourly",)


def test_a_missing_table_or_a_changed_definition_is_due_at_once(
    compiled: CompiledProject,
) -> None:
    state = built_at(compiled, T0)
    later = T0 + timedelta(minutes=5)
    dropped = WarehouseState(
        relations={k: v for k, v in state.relations.items() if k != ("main", "daily")},
        fingerprints=state.fingerprints,
        last_success=state.last_success,
    )
    edited = WarehouseState(
        relations=state.relations,
        fingerprints={**state.fingerprints, "hourly": "an older definition"},
        last_success=state.last_success,
    )

    assert built(plan_at(compiled, dropped, later)) == {"daily", "report", "always", "uses_eph"}
    assert built(plan_at(compiled, edited, later)) == {"hourly", "report", "always", "uses_eph"}


def test_a_node_that_failed_is_due_again(compiled: CompiledProject) -> None:
    # hourly and daily built at T0; daily then failed in later runs, so its success is older.
    state = built_at(compiled, T0)
    earlier = T0 - timedelta(days=1)
    failed = WarehouseState(
        relations=state.relations,
        fingerprints=state.fingerprints,
        last_success={**state.last_success, "daily": earlier},
    )

    assert "daily" in built(plan_at(compiled, failed, T0 + timedelta(minutes=5)))


def test_ignore_schedules_builds_every_selected_node(compiled: CompiledProject) -> None:
    plan = plan_at(compiled, built_at(compiled, T0), T0 + timedelta(minutes=5), ignore=True)

    assert built(plan) == {"hourly", "daily", "report", "always", "uses_eph"}
    assert plan.not_due == ()


# Independent oracles: the start of the tick interval holding t, for a few schedules.
INTERVALS: dict[str, Callable[[datetime], object]] = {
    "@hourly": lambda t: t.replace(minute=0, second=0, microsecond=0),
    "*/15 * * * *": lambda t: t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0),
    "@daily": lambda t: t.date(),
    "0 6 * * *": lambda t: (t - timedelta(hours=6)).date(),
    "0 0 * * 1": lambda t: t.isocalendar()[:2],
    "@monthly": lambda t: (t.year, t.month),
}


@settings(max_examples=60, deadline=None)
@given(
    schedule=st.sampled_from(sorted(INTERVALS)),
    start=st.datetimes(datetime(2025, 1, 1), datetime(2027, 1, 1)),
    gaps=st.lists(st.integers(min_value=0, max_value=3 * 24 * 60 * 60), min_size=1, max_size=25),
)
def test_cron_calling_run_builds_a_node_once_in_each_tick_interval_it_visits(
    compiled: CompiledProject, schedule: str, start: datetime, gaps: list[int]
) -> None:
    """However often and irregularly `sqlml run` is called, a scheduled node is built exactly
    on the first run of each tick interval (and the very first run)."""
    node = compiled.nodes["always"]
    node = replace(node, config=replace(node.config, schedule=schedule))
    scheduled = CompiledProject(compiled.project, {"always": node})
    interval = INTERVALS[schedule]
    now = start.replace(tzinfo=UTC)
    state = WarehouseState()
    previous: object = None
    for gap in gaps:
        now += timedelta(seconds=gap)
        plan = plan_at(scheduled, state, now)
        expected = previous is None or interval(now) != previous
        assert bool(plan.steps) == expected, (now, state.last_success)
        if plan.steps:
            state = built_at(scheduled, now, "always")
            previous = interval(now)
        else:
            assert plan.not_due[0].next_due > now
            assert interval(plan.not_due[0].next_due) != interval(now)


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("@daily", None),
        ("*/5 8-18 * * MON-FRI", None),
        ("@dayly", "unknown schedule alias '@dayly' (did you mean '@daily' or '@yearly'?)"),
        ("0 6 * *", "a cron expression has 5 fields, '0 6 * *' has 4"),
        ("0 6 * * * *", "a cron expression has 5 fields, '0 6 * * * *' has 6"),
        (
            "0 24 * * *",
            "invalid cron expression '0 24 * * *': [0 24 * * *] is not acceptable, out of range",
        ),
        ("0 0 30 2 *", "cron expression '0 0 30 2 *' never matches a date"),
    ],
)
def test_schedule_problems(schedule: str, problem: str | None) -> None:
    assert schedule_problem(schedule) == problem


def test_next_tick_is_strictly_after_and_in_utc() -> None:
    on_tick = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)

    assert next_tick("0 6 * * *", on_tick) == datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
    paris = on_tick.astimezone(ZoneInfo("Europe/Paris"))
    assert next_tick("0 6 * * *", paris) == datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
    assert next_tick("0 6 * * *", paris).tzinfo == UTC


def test_changing_a_schedule_does_not_change_the_fingerprint(tmp_path: Path) -> None:
    """A schedule says when to build, not what: changing it makes nothing modified."""
    files = dict(PROJECT)
    first = compile_project(load_project(write_project(tmp_path / "a", files)))
    files["models/hourly.sql"] = "{{ config(schedule='*/5 * * * *') }}\nselect 1 as id"
    second = compile_project(load_project(write_project(tmp_path / "b", files)))

    assert first.nodes["hourly"].fingerprint == second.nodes["hourly"].fingerprint
    assert second.nodes["hourly"].config.schedule == "*/5 * * * *"
