"""One execution of a command that runs nodes, on an open warehouse: read the state, plan,
record the run's start, execute the plan, retrain what monitors ask for, and record the end
in one transaction."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from sqlml.commands import COMMANDS, Refresh, plan_options
from sqlml.compiler import CompiledProject
from sqlml.engine import Engine
from sqlml.graph import DAG
from sqlml.plan import make_plan
from sqlml.retraining import pending_retrains, retrain_on_request
from sqlml.runner import Listener, RunResult, execute_plan
from sqlml.runner import state as run_state
from sqlml.runner.materializations import RunEnv


def execute_command(
    engine: Engine,
    compiled: CompiledProject,
    dag: DAG,
    command: str,
    selected: frozenset[str],
    *,
    clock: Callable[[], datetime],
    flags: str,
    reselect: Callable[[Mapping[str, str]], frozenset[str]] | None = None,
    retrain: bool = False,
    ignore_schedules: bool = False,
    refresh: Refresh | None = None,
    threads: int | None = None,
    listener: Listener | None = None,
) -> RunResult:
    """Run ``command`` on the ``selected`` nodes and record it in the state schema.

    Args:
        engine: a writing connection to the warehouse.
        clock: the current time; the run starts when the plan is made.
        flags: the invocation to record, for `sqlml retry` (see `sqlml.commands.invocation`).
        reselect: the selection again, given the fingerprints of the last builds: for
            ``state:`` selectors, which need the warehouse's state.
        retrain: train every selected ML model, changed or not.
        threads: nodes built at once (default: the target's threads, else the CPU count).
    """
    project = compiled.project
    kinds = COMMANDS[command]
    run_state.ensure_state(engine, project.state_schema)
    state = run_state.read_state(engine, project.state_schema)
    if reselect is not None:
        selected = reselect(state.fingerprints)
    forced = selected if retrain else frozenset()
    pending = pending_retrains(engine, project, compiled, kinds, selected)
    forced = forced | frozenset(pending)
    started = clock()
    plan = make_plan(
        compiled,
        dag,
        selected,
        state,
        kinds=kinds,
        retrain=forced,
        now=started,
        ignore_schedules=ignore_schedules,
        **plan_options(refresh),
    )
    run = RunResult(uuid.uuid4().hex, command, started, started, ())
    from sqlml import __version__
    from sqlml.ml.udf import RunFunctions

    run_state.record_run_start(
        engine, project.state_schema, run, project.target.name, __version__, flags
    )
    results = execute_plan(
        plan,
        engine,
        threads=threads or project.target.threads or os.cpu_count() or 1,
        errors=compiled.errors,
        listener=listener,
        env=RunEnv(
            project.root,
            project.state_schema,
            run.run_id,
            # predict_<model>(...): the champions, registered as SQL functions
            prepare=RunFunctions.of(compiled).prepare,
        ),
    )
    results, plan = retrain_on_request(
        engine, project, compiled, dag, kinds, run.run_id, results, plan, pending
    )
    run = RunResult(run.run_id, command, started, datetime.now(UTC), results)
    # One transaction (this thread's statements): a run killed while recording
    # leaves no half-written history.
    with engine.transaction():
        return run_state.record_run_end(engine, project.state_schema, run, plan)
