"""Stage 4: DAG + selection + warehouse state → `Plan`."""

from __future__ import annotations

from collections.abc import Set

from sqlml.compiler.types import CompiledProject
from sqlml.graph.dag import DAG
from sqlml.plan.types import Plan, Step, WarehouseState


def make_plan(
    compiled: CompiledProject, dag: DAG, selected: Set[str], state: WarehouseState
) -> Plan:
    """Turn the selected nodes into build steps, in topological order.

    Ephemeral nodes get no step: they are inlined into the SQL of the nodes that read them
    (unless they failed to compile: then their step reports the error).
    A step waits for the nearest selected non-ephemeral ancestors, looking through ephemerals.
    """
    nodes = compiled.nodes
    # An ephemeral node that failed to compile stays a step, so its failure is reported.
    ephemeral = {
        n
        for n, node in nodes.items()
        if node.config.materialized == "ephemeral" and node.error is None
    }
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
                compiled_path=node.compiled_path,
                fingerprint=node.fingerprint,
            )
        )
    inlined = tuple(n for n in dag.order if n in selected and n in ephemeral)
    return Plan(tuple(steps), inlined, state.unreadable)


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
