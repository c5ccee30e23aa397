"""The columns of every relation a run built, and how they changed since the previous build."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlml.engine.base import Engine
from sqlml.plan.types import Plan
from sqlml.runner.types import NodeResult, SchemaChange

TABLES = """
create table if not exists {s}.relation_columns (
    run_id varchar not null,
    node varchar not null,
    relation varchar not null,
    position integer not null,
    column_name varchar not null,
    data_type varchar not null
);
create table if not exists {s}.schema_changes (
    run_id varchar not null,
    node varchar not null,
    change varchar not null,          -- added, removed, type_changed
    column_name varchar not null,
    old_type varchar,
    new_type varchar
);
"""


def record_schemas(
    engine: Engine, schema: str, run_id: str, plan: Plan, results: Sequence[NodeResult]
) -> tuple[SchemaChange, ...]:
    """Store the columns of each relation built in this run; return the changes against the
    previous build of the same node."""
    skip = ("test", "training")  # they build no relation of their own
    built = {r.node for r in results if r.status == "success" and r.kind not in skip}
    steps = [s for s in plan.steps if s.node in built and s.materialization != "existing"]
    if not steps:
        return ()
    s = _q(schema)
    values = ", ".join(["(?, ?, ?)"] * len(steps))
    params: list[Any] = []
    for step in steps:
        params += [step.node, step.relation.schema, step.relation.name]
    current = engine.execute(
        f"with built(node, schema_name, table_name) as (values {values}) "
        "select b.node, c.column_index, c.column_name, c.data_type "
        "from built b join duckdb_columns() c on c.database_name = current_database() "
        "and lower(c.schema_name) = lower(b.schema_name) "
        "and lower(c.table_name) = lower(b.table_name) order by b.node, c.column_index",
        params,
    )
    previous = engine.execute(
        f"with latest as (select node, arg_max(run_id, rowid) as run_id "
        f"from {s}.relation_columns group by node) "
        f"select c.node, c.column_name, c.data_type from {s}.relation_columns c "
        "join latest using (node, run_id)"
    )
    before: dict[str, dict[str, str]] = {}
    for node, column, kind in previous:
        before.setdefault(node, {})[column] = kind
    after: dict[str, dict[str, str]] = {}
    for node, _, column, kind in current:
        after.setdefault(node, {})[column] = kind
    changes = [
        change
        for node in sorted(after)
        if node in before
        for change in _diff(node, before[node], after[node])
    ]
    relation_of = {step.node: str(step.relation) for step in steps}
    rows = [
        (run_id, node, relation_of[node], position, column, kind)
        for node, position, column, kind in current
    ]
    _insert(engine, f"{s}.relation_columns", rows)
    _insert(
        engine,
        f"{s}.schema_changes",
        [(run_id, c.node, c.change, c.column, c.old_type, c.new_type) for c in changes],
    )
    return tuple(changes)


def _diff(node: str, old: dict[str, str], new: dict[str, str]) -> list[SchemaChange]:
    changes = [SchemaChange(node, "added", c, None, new[c]) for c in new if c not in old]
    changes += [SchemaChange(node, "removed", c, old[c], None) for c in old if c not in new]
    changes += [
        SchemaChange(node, "type_changed", c, old[c], new[c])
        for c in new
        if c in old and old[c] != new[c]
    ]
    return changes


def _insert(engine: Engine, table: str, rows: Sequence[Sequence[Any]]) -> None:
    for start in range(0, len(rows), 200):
        chunk = rows[start : start + 200]
        marks = "(" + ", ".join(["?"] * len(chunk[0])) + ")"
        engine.execute(
            f"insert into {table} values {', '.join([marks] * len(chunk))}",
            [value for row in chunk for value in row],
        )


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
