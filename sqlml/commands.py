"""The commands that execute nodes (run, build, test, seed, snapshot, train, monitor): the
kinds of node each plans, how each selects, the flags a run records, and how `sqlml retry`
reads them back."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlml.compiler import CompiledProject
from sqlml.errors import SqlmlError
from sqlml.graph import DAG, select_nodes
from sqlml.plan.intervals import naive_utc
from sqlml.runner.history import LastRun

# The kinds of node each command executes.
COMMANDS: dict[str, frozenset[str]] = {
    "run": frozenset(
        {
            "model",
            "seed",
            "source",
            "snapshot",
            "export",
            "feature_view",
            "training",
            "monitor",
            "scoring",
        }
    ),
    "build": frozenset(
        {
            "model",
            "seed",
            "source",
            "snapshot",
            "test",
            "export",
            "feature_view",
            "training",
            "monitor",
            "scoring",
        }
    ),
    "test": frozenset({"test"}),
    "seed": frozenset({"seed"}),
    "snapshot": frozenset({"snapshot"}),
    "train": frozenset({"training"}),
    "monitor": frozenset({"monitor"}),
}


@dataclass(frozen=True)
class Refresh:
    """How incremental models are built: ``full`` rebuilds them; ``start``/``end`` (UTC)
    rebuild that range of time_range models whatever is done."""

    full: bool = False
    start: datetime | None = None
    end: datetime | None = None


def plan_options(refresh: Refresh | None) -> dict[str, Any]:
    """The keyword arguments of `sqlml.plan.make_plan` that ``refresh`` sets."""
    if refresh is None:
        return {}
    if refresh.start and refresh.end and naive_utc(refresh.start) >= naive_utc(refresh.end):
        raise SqlmlError(
            f"--start ({refresh.start}) must be before --end ({refresh.end})",
            hint="give the range to rebuild as --start EARLIER --end LATER",
        )
    return {"full_refresh": refresh.full, "start": refresh.start, "end": refresh.end}


def select_for(
    command: str,
    compiled: CompiledProject,
    dag: DAG,
    select: Sequence[str],
    exclude: Sequence[str],
    built: Mapping[str, str] | None = None,
) -> frozenset[str]:
    """The nodes ``command`` selects: with data tests, the tests of every selected node."""
    selected = select_nodes(dag, compiled.nodes, select, exclude, built=built)
    if "test" not in COMMANDS[command] or not select:
        return selected
    # A data test comes along with any node it tests (dbt's "eager" indirect selection),
    # unless it was excluded by name.
    excluded = set(compiled.nodes) - select_nodes(dag, compiled.nodes, (), exclude, built=built)
    tests = {
        name
        for name, node in compiled.nodes.items()
        if node.kind == "test" and set(dag.parents[name]) & selected and name not in excluded
    }
    return selected | tests


def invocation(
    select: Sequence[str],
    exclude: Sequence[str],
    threads: int | None,
    *,
    ignore_schedules: bool,
    vars: Mapping[str, Any],
    retrain: bool,
    refresh: Refresh | None,
    nodes: frozenset[str] | None,
    retry_of: str | None,
) -> str:
    """What `sqlml retry` needs to repeat a run, as the JSON the run records. New flags of
    these commands go here, and in `Retry`."""
    return json.dumps(
        {
            "select": list(select),
            "exclude": list(exclude),
            "threads": threads,
            "all": ignore_schedules,
            "vars": dict(vars),
            "retrain": retrain,
            "full_refresh": bool(refresh and refresh.full),
            "start": refresh.start if refresh else None,
            "end": refresh.end if refresh else None,
            "nodes": None if nodes is None else sorted(nodes),
            "retry_of": retry_of,
        },
        default=str,
    )


@dataclass(frozen=True)
class Retry:
    """A run to repeat: its command and flags, and the nodes to run again (None: the whole
    selection, for a run that never finished)."""

    command: str
    select: tuple[str, ...]
    exclude: tuple[str, ...]
    threads: int | None
    retrain: bool
    ignore_schedules: bool
    only: frozenset[str] | None
    refresh: Refresh
    vars: Mapping[str, Any] = field(default_factory=dict)


def retry_request(last: LastRun) -> Retry:
    """How to run ``last`` again: a finished run, only its failed and skipped nodes; a run
    killed before it finished (no node results recorded), its whole selection."""
    flags = last.invocation
    nodes = flags.get("nodes")
    # A finished run is retried node by node, schedules aside: those nodes were due then.
    ignore_schedules = bool(flags.get("all"))
    if last.status != "running":  # it finished: only what failed or never ran
        nodes = [*last.failed, *last.skipped]
        ignore_schedules = True
    return Retry(
        command=last.command,
        select=tuple(flags.get("select") or ()),
        exclude=tuple(flags.get("exclude") or ()),
        threads=flags.get("threads"),
        retrain=bool(flags.get("retrain")),
        ignore_schedules=ignore_schedules,
        only=None if nodes is None else frozenset(nodes),
        # The failed nodes never got the full refresh or backfill the run asked for.
        refresh=Refresh(
            bool(flags.get("full_refresh")), _moment(flags.get("start")), _moment(flags.get("end"))
        ),
        vars=flags.get("vars") or {},
    )


def _moment(stored: str | None) -> datetime | None:
    """A ``--start``/``--end`` as a run's invocation stored it."""
    return datetime.fromisoformat(stored) if stored else None
