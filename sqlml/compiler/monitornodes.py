"""Monitors as DAG nodes (kind ``monitor``): one per monitor declared in an ML spec or in
``monitors/``. A monitor node runs after everything it watches (the relation, the labels, the
model's training node); a custom monitor's SQL is rendered here like a data test's, with
``ref()`` and ``source()``. Nothing touches the warehouse: the node carries a `MonitorNode`
for the runner.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from sqlml.compiler.render import JinjaRenderer
from sqlml.compiler.rendercontext import PLACEHOLDER_RE, RenderContext
from sqlml.compiler.types import CompiledNode
from sqlml.errors import CompileError, GraphError, SqlmlError, did_you_mean
from sqlml.monitor.spec import MonitorSpec
from sqlml.project.types import Monitoring, NodeConfig, Project
from sqlml.relation import Relation

MONITOR_MATERIALIZATION = "monitor"


@dataclass(frozen=True)
class MonitorNode:
    """What the runner needs to run a monitor: its spec, the relation of every node it
    reads (``node -> SQL name``), a custom monitor's rendered query, where the history goes
    and the project's monitoring settings."""

    monitor: MonitorSpec
    relations: Mapping[str, str]
    sql: str | None
    state_schema: str
    settings: Monitoring


def build_monitor_nodes(
    project: Project,
    monitors: Sequence[MonitorSpec],
    relations: Mapping[str, Relation],
    training: Mapping[str, str],
    renderer: Callable[[], JinjaRenderer],
    *,
    taken: set[str],
) -> list[CompiledNode]:
    """A node per monitor. ``training`` maps a model to the name of its training node."""
    nodes = []
    for monitor in monitors:
        depends: list[str] = []
        error: SqlmlError | None = None
        sql = None
        try:
            if monitor.name in taken:
                raise GraphError(
                    f"monitor '{monitor.name}' has the name of another node",
                    node=monitor.name,
                    location=monitor.location,
                    hint="give it another name: name: <unique name>",
                )
            for node in monitor.watches:
                if node not in relations:
                    raise GraphError(
                        f"monitor '{monitor.name}' watches unknown node '{node}'",
                        node=monitor.name,
                        location=monitor.location,
                        hint=did_you_mean(node, relations) or "check its relation: ref('...')",
                    )
                depends.append(node)
            if monitor.model is not None:
                if monitor.model not in training:
                    raise GraphError(
                        f"monitor '{monitor.name}' watches unknown ML model '{monitor.model}'",
                        node=monitor.name,
                        location=monitor.location,
                        hint=did_you_mean(monitor.model, training)
                        or "ML models are the specs in ml/",
                    )
                depends.append(training[monitor.model])
            if monitor.sql is not None:
                sql = _render(monitor, relations, renderer, depends)
        except SqlmlError as exc:
            error = exc
        taken.add(monitor.name)
        used = {n: str(relations[n]) for n in depends if n in relations}
        digest = hashlib.sha256(repr((monitor, sorted(used.items()), sql)).encode()).hexdigest()
        nodes.append(
            CompiledNode(
                name=monitor.name,
                kind="monitor",
                path=monitor.path,
                config=NodeConfig(materialized=MONITOR_MATERIALIZATION, tags=monitor.tags),
                relation=Relation(project.state_schema, "monitor_results", project.target.database),
                sql=sql or "",
                body_sql=sql or "",
                depends_on=tuple(dict.fromkeys(depends)),
                columns=(),
                declared_columns=(),
                description=monitor.description,
                fingerprint=digest if error is None else "",
                compiled_path=f"{project.target_dir.name}/compiled/monitors/{monitor.name}.sql",
                error=error,
                spec=MonitorNode(monitor, used, sql, project.state_schema, project.monitoring),
            )
        )
    return nodes


def with_scored_rows(node: CompiledNode, nodes: Mapping[str, CompiledNode]) -> CompiledNode:
    """A monitor of the rows its model scores reads the scoring node's input query (keys,
    as-of time and features named as in training), not the scores table: the relation it
    watches becomes that query. Call once the scoring node is compiled."""
    spec = node.spec
    if not isinstance(spec, MonitorNode) or not spec.monitor.scored_rows or node.error:
        return node
    name = spec.monitor.relation
    assert name is not None
    scoring = nodes.get(name)
    if scoring is None or scoring.error is not None or not scoring.sql:
        error = CompileError(
            f"monitor '{spec.monitor.name}' watches the rows '{name}' scores, which failed to "
            "compile",
            node=spec.monitor.name,
            location=spec.monitor.location,
            hint=f"fix the scoring section of '{spec.monitor.model}' first",
        )
        return replace(node, error=error, fingerprint="")
    relations = {**spec.relations, name: f"(\n{scoring.sql}\n)"}
    return replace(node, spec=replace(spec, relations=relations))


def _render(
    monitor: MonitorSpec,
    relations: Mapping[str, Relation],
    renderer: Callable[[], JinjaRenderer],
    depends: list[str],
) -> str:
    assert monitor.sql is not None
    path = monitor.sql_path or monitor.path
    rendered = renderer().render(RenderContext(monitor.name, path, {}), monitor.sql)
    for call in rendered.refs:
        if call.node not in relations:
            raise GraphError(
                f"unknown {call.kind} '{call.node}' in monitor '{monitor.name}'",
                node=monitor.name,
                location=monitor.location,
                hint=did_you_mean(call.node, relations) or "check the name",
            )
        depends.append(call.node)
    return PLACEHOLDER_RE.sub(lambda m: str(relations[m.group(1)]), rendered.text).strip()
