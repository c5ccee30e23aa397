"""Retraining that monitors ask for, around a run: requests left by an earlier run
(``retrain: next_run``) are forced into this run's plan; requests made by this run's monitors
(``retrain: same_run``) train after it. Gates and the champion comparison decide promotion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlml.compiler.types import CompiledProject
from sqlml.engine.base import Engine
from sqlml.graph.dag import DAG
from sqlml.plan.make import make_plan
from sqlml.plan.types import Plan
from sqlml.project.types import Project
from sqlml.runner import state as run_state
from sqlml.runner.execute import execute_plan
from sqlml.runner.materializations import RunEnv
from sqlml.runner.types import NodeResult


def pending_retrains(
    engine: Engine,
    project: Project,
    compiled: CompiledProject,
    kinds: frozenset[str],
    selected: frozenset[str],
) -> dict[str, Any]:
    """Training nodes a monitor asked to retrain in an earlier run (``retrain: next_run``)
    that this run trains: node name -> the request. ``kinds``: the node kinds the command runs."""
    if project.monitoring.retrain != "next_run" or "training" not in kinds:
        return {}
    from sqlml.monitor.retrain import open_requests

    requests = open_requests(engine, project.state_schema)
    return {
        r.model: r
        for r in requests
        if r.model in selected and compiled.nodes[r.model].kind == "training"
    }


def retrain_on_request(
    engine: Engine,
    project: Project,
    compiled: CompiledProject,
    dag: DAG,
    kinds: frozenset[str],
    run_id: str,
    results: tuple[NodeResult, ...],
    plan: Plan,
    pending: Mapping[str, Any],
) -> tuple[tuple[NodeResult, ...], Plan]:
    """Retrain the models this run's monitors asked for (``retrain: same_run``), each
    through its training node, forced: gates and the champion comparison decide whether
    the new version is promoted. Record the outcome of every retraining, including those
    of ``pending`` requests trained in this run's plan.

    Returns the run's results, one per node (a retraining folded into its training node's
    result), and its plan with the retraining steps of nodes it did not have."""
    from sqlml.monitor.retrain import open_requests, record_outcome

    schema = project.state_schema
    for result in results:
        if result.node in pending:
            record_outcome(engine, schema, pending[result.node], run_id=run_id,
                           status=result.status, message=result.message)  # fmt: skip
    if "monitor" not in kinds or project.monitoring.retrain != "same_run":
        return results, plan
    requests = {
        r.model: r
        for r in open_requests(engine, schema, run_id)
        if r.model in compiled.nodes and compiled.nodes[r.model].kind == "training"
    }
    if not requests:
        return results, plan
    nodes = frozenset(requests)
    state = run_state.read_state(engine, schema)
    again = make_plan(compiled, dag, nodes, state, kinds={"training"}, retrain=nodes)
    retrained = execute_plan(
        again, engine, threads=1, errors=compiled.errors,
        env=RunEnv(project.root, schema, run_id),
    )  # fmt: skip
    for result in retrained:
        record_outcome(engine, schema, requests[result.node], run_id=run_id,
                       status=result.status, message=result.message)  # fmt: skip
    return _merged(results, retrained, requests), _with_steps(plan, again)


_SEVERITY = {"success": 0, "warn": 1, "skipped": 2, "error": 3}


def _merged(
    results: tuple[NodeResult, ...],
    retrained: tuple[NodeResult, ...],
    requests: Mapping[str, Any],
) -> tuple[NodeResult, ...]:
    """One result per node and run: a retraining is folded into the result its training
    node already has this run (both messages, the worse status, the summed time), or added
    when the node was not in the plan."""
    by_node = {r.node: r for r in retrained}
    merged = []
    for result in results:
        again = by_node.pop(result.node, None)
        if again is None:
            merged.append(result)
            continue
        why = f"retrained at the request of monitor '{requests[result.node].monitor}'"
        worse = max(result.status, again.status, key=lambda s: _SEVERITY.get(s, 3))
        merged.append(
            replace(
                again,
                status=worse,
                started_at=result.started_at,
                duration_s=result.duration_s + again.duration_s,
                message=f"{result.message or result.status}; {why}: {again.message}",
                location=again.location or result.location,
            )
        )
    for again in by_node.values():
        why = f"retrained at the request of monitor '{requests[again.node].monitor}'"
        merged.append(replace(again, message=f"{why}: {again.message}"))
    return tuple(merged)


def _with_steps(plan: Plan, again: Plan) -> Plan:
    """``plan`` with the retraining steps of nodes it did not have."""
    planned = {s.node for s in plan.steps}
    return replace(plan, steps=(*plan.steps, *(s for s in again.steps if s.node not in planned)))
