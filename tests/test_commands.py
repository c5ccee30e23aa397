"""The flags a run records and how `sqlml retry` reads them back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from sqlml.commands import Refresh, invocation, plan_options, retry_request
from sqlml.errors import SqlmlError
from sqlml.runner.history import LastRun

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 8, tzinfo=UTC)


def recorded(status: str, **flags: object) -> LastRun:
    """A last run whose invocation went through the JSON a run stores."""
    text = invocation(
        ("+orders",),
        ("tag:slow",),
        4,
        ignore_schedules=False,
        vars={"day": "2026-01-01"},
        retrain=True,
        refresh=Refresh(True, START, END),
        nodes=None,
        retry_of=None,
    )
    stored = {**json.loads(text), **flags}
    return LastRun("r1", "build", status, START, stored, failed=("b",), skipped=("c", "d"))


def test_a_finished_run_is_retried_node_by_node_with_its_flags() -> None:
    again = retry_request(recorded("error"))
    assert (again.command, again.select, again.exclude) == ("build", ("+orders",), ("tag:slow",))
    assert (again.threads, again.retrain, again.vars) == (4, True, {"day": "2026-01-01"})
    assert again.only == frozenset({"b", "c", "d"})
    assert again.ignore_schedules  # those nodes were due when the run chose them
    assert again.refresh == Refresh(True, START, END)


def test_a_killed_run_is_retried_whole_with_its_schedules() -> None:
    again = retry_request(recorded("running"))
    assert again.only is None
    assert not again.ignore_schedules


def test_a_retried_retry_keeps_the_nodes_it_was_given() -> None:
    again = retry_request(recorded("running", nodes=["b"]))
    assert again.only == frozenset({"b"})


def test_runs_recorded_without_flags_are_retried_with_defaults() -> None:
    again = retry_request(LastRun("r0", "run", "error", START, {}, failed=("a",)))
    assert (again.select, again.threads, again.refresh) == ((), None, Refresh())
    assert again.only == frozenset({"a"})


def test_a_backfill_range_must_run_forwards() -> None:
    with pytest.raises(SqlmlError, match="must be before --end"):
        plan_options(Refresh(start=END, end=START))
    assert plan_options(None) == {}
