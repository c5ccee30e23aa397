"""Stage 4: DAG + selection + warehouse state → `Plan`."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import replace
from datetime import UTC, datetime

from sqlml.compiler.types import CompiledNode, CompiledProject, incremental_path
from sqlml.graph.dag import DAG, build_dag
from sqlml.plan.due import not_due
from sqlml.plan.intervals import plan_batches
from sqlml.plan.types import IncrementalStep, Plan, Step, WarehouseState


def make_plan(
    compiled: CompiledProject,
    dag: DAG,
    selected: Set[str],
    state: WarehouseState,
    *,
    kinds: Set[str] = frozenset({"model", "seed", "source"}),
    full_refresh: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    retrain: Set[str] = frozenset(),
    ignore_schedules: bool = False,
) -> Plan:
    """Turn the selected nodes of the given kinds into steps, in topological order.

    Ephemeral nodes get no step: they are inlined into the SQL of the nodes that read them
    (unless they failed to compile: then their step reports the error).
    A step waits for the nearest selected non-ephemeral ancestors, looking through ephemerals.
    When data tests are planned with what they test, the children of a tested node also wait
    for its tests, so a failing test stops bad data from flowing downstream.

    Incremental models are built incrementally when their table exists, unless
    ``full_refresh``; time_range models get the batches to build as of ``now`` (default: the
    current time), or those of the backfill range ``start``..``end``.
    Training steps named in ``retrain`` train even if their data and spec are unchanged.
    Selected nodes whose schedule has not ticked since their last build, as of ``now``, are
    left out and listed in ``Plan.not_due`` (rules in `sqlml.plan.due`); ``ignore_schedules``
    builds every selected node whatever its schedule (``--all``).
    """
    now = now or datetime.now(UTC)
    selected = {n for n in selected if compiled.nodes[n].kind in kinds}
    nodes = compiled.nodes
    # An ephemeral node that failed to compile stays a step, so its failure is reported.
    ephemeral = {
        n
        for n, node in nodes.items()
        if node.config.materialized == "ephemeral" and node.error is None
    }
    waiting = () if ignore_schedules else not_due(compiled, dag, selected, state, now, ephemeral)
    selected -= {n.node for n in waiting}
    steps = []
    for name in dag.order:
        if name not in selected or name in ephemeral:
            continue
        node = nodes[name]
        relation = node.relation
        previous = state.fingerprints.get(name)
        existing = state.relations.get((relation.schema.lower(), relation.name.lower()))
        if existing is None:
            reason = "new"
        elif previous != node.fingerprint:
            reason = "modified"
        else:
            reason = "unchanged"
        incremental = incremental_step(node, existing, state, full_refresh, now, start, end)
        compiled_path = node.compiled_path
        if incremental is not None and not incremental.full and incremental.path:
            compiled_path = incremental.path  # errors point at the SQL that ran
        force = node.kind == "training" and name in retrain
        if force:
            reason = "retrain"
        steps.append(
            Step(
                node=name,
                materialization=node.config.materialized,
                relation=relation,
                sql=node.sql,
                depends_on=tuple(sorted(_upstream_steps(dag, name, selected, ephemeral))),
                existing=existing,
                reason=reason,
                path=node.path,
                compiled_path=compiled_path,
                fingerprint=node.fingerprint,
                kind=node.kind,
                spec=node.spec,
                declared_columns=node.declared_columns
                if node.kind == "source" or node.config.contract
                else (),
                contract=node.config.contract,
                incremental=incremental,
                force=force,
            )
        )
    inlined = tuple(n for n in dag.order if n in selected and n in ephemeral)
    gated = _gate_on_tests(tuple(steps), dag)
    build_dag({s.node: s.depends_on for s in gated})  # the steps' own order must be acyclic too
    return Plan(gated, inlined, state.unreadable, not_due=waiting)


def _gate_on_tests(steps: tuple[Step, ...], dag: DAG) -> tuple[Step, ...]:
    """Make the children of each tested node wait for that node's tests."""
    planned = {s.node: s for s in steps}
    gates: dict[str, set[str]] = {}
    for step in steps:
        tested = getattr(step.spec, "attached_to", "") if step.kind == "test" else ""
        if not tested or tested not in planned:
            continue
        upstream = set(step.depends_on).union(*(dag.ancestors(p) for p in step.depends_on))
        for child in dag.children.get(tested, ()):
            # Tests do not gate each other, and a test that reads the child itself
            # (e.g. relationships) cannot gate it.
            if child in planned and planned[child].kind != "test" and child not in upstream:
                gates.setdefault(child, set()).add(step.node)
    if not gates:
        return steps
    return tuple(
        replace(s, depends_on=tuple(sorted({*s.depends_on, *gates[s.node]})))
        if s.node in gates
        else s
        for s in steps
    )


def _upstream_steps(dag: DAG, name: str, selected: Set[str], ephemeral: Set[str]) -> set[str]:
    found: set[str] = set()
    stack = list(dag.parents[name])
    seen: set[str] = set()
    while stack:
        parent = stack.pop()
        if parent in seen:
            continue
        seen.add(parent)
        if parent in ephemeral:
            stack.extend(dag.parents[parent])
        elif parent in selected:
            found.add(parent)
    return found


def incremental_step(
    node: CompiledNode,
    existing: str | None,
    state: WarehouseState,
    full_refresh: bool,
    now: datetime,
    start: datetime | None,
    end: datetime | None,
) -> IncrementalStep | None:
    """How an incremental model is built: incrementally when its table exists (dbt's
    is_incremental()), else from scratch; for time_range models, which batches."""
    config = node.config.incremental
    if config is None or node.error is not None:
        return None
    full = full_refresh or existing != "table"
    batches: tuple[tuple[datetime, datetime], ...] = ()
    if config.strategy == "time_range":
        done = () if full else state.intervals.get(node.name, ())
        batches = plan_batches(config, done, now, start=start, end=end)
    return IncrementalStep(
        config=config,
        sql=node.incremental_sql,
        full=full,
        batches=batches,
        path=incremental_path(node.compiled_path) if node.incremental_sql != node.sql else "",
    )
