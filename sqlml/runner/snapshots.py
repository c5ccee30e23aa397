"""The snapshot materialization: record what changed in a select since the last run.

Each run is one transaction: the select is staged, checked (unique, non-NULL keys; non-NULL
``updated_at``), and the changed rows' current versions closed and their new versions
inserted together, so a failure at any point leaves the snapshot as it was. The SQL is built
by `sqlml.runner.snapshot_sql`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlml.engine.base import Engine
from sqlml.errors import ExecutionError
from sqlml.plan.types import Step
from sqlml.runner import snapshot_sql as sql
from sqlml.runner.materializations import Outcome, RunEnv
from sqlml.snapshotspec import META_COLUMNS, RESERVED_PREFIX, SnapshotSpec

# Types a timestamp strategy's updated_at may have: they order in time.
_TIME_TYPES = ("TIMESTAMP", "DATE")


def keep_history(engine: Engine, step: Step, env: RunEnv) -> Outcome:
    """Create the snapshot on its first run; afterwards close changed and (optionally)
    vanished rows and insert their new versions. Returns the versions written and closed."""
    spec: SnapshotSpec = step.spec
    now = datetime.now(UTC)
    with engine.transaction():
        engine.execute(sql.stage(step.sql))
        columns = engine.columns(sql.STAGE_RELATION)
        time_type = _check_columns(step, spec, columns)
        _check_rows(engine, step, spec)
        names = tuple(name for name, _ in columns)
        existing = engine.columns(step.relation)
        if not existing:
            shape = sql.Shape(step.relation, names, time_type, now)
            rows = engine.execute(sql.create(spec, shape))
            outcome = Outcome(int(rows[0][0]) if rows else None, message="first run")
        else:
            outcome = _merge(engine, step, spec, columns, existing, now)
        engine.execute(f"drop table if exists {sql.CHANGES}")
        engine.execute(f"drop table {sql.STAGE}")
    return outcome


def _merge(
    engine: Engine,
    step: Step,
    spec: SnapshotSpec,
    columns: list[tuple[str, str]],
    existing: list[tuple[str, str]],
    now: datetime,
) -> Outcome:
    kinds = {name.lower(): kind for name, kind in existing}
    missing = [c for c in META_COLUMNS if c not in kinds]
    relation = step.relation
    relation_kind = engine.relations().get((relation.schema.lower(), relation.name.lower()))
    if missing or relation_kind != "table":
        raise ExecutionError(
            f"{step.relation.display} exists but is not a snapshot "
            f"({'a view' if relation_kind == 'view' else 'no ' + missing[0] + ' column'})",
            hint=f"drop it, or give the snapshot another name or schema in {spec.path}",
        )
    kept = tuple(name for name, _ in columns if name.lower() in kinds)
    added = [kind for name, kind in columns if name.lower() not in kinds]
    # The snapshot's own validity type wins over the select's.
    shape = sql.Shape(relation, tuple(n for n, _ in columns), kinds["sqlml_valid_to"], now, kept)
    statements = sql.merge(spec, shape, added)
    counts: list[int] = []
    for statement in statements:
        rows = engine.execute(statement)
        counts.append(int(rows[0][0]) if rows and rows[0] and rows[0][0] is not None else 0)
    changes = engine.execute(
        f"select count(*), count(*) filter (where {sql.CLOSES}) from {sql.CHANGES}"
    )[0]
    inserted, changed = int(changes[0]), int(changes[1])
    invalidated = counts[-2] if spec.hard_deletes == "invalidate" else 0
    parts = [f"{inserted - changed} new", f"{changed} changed"]
    if spec.hard_deletes == "invalidate":
        parts.append(f"{invalidated} invalidated")
    return Outcome(inserted + invalidated, message=", ".join(parts))


def _check_columns(step: Step, spec: SnapshotSpec, columns: list[tuple[str, str]]) -> str:
    """The select's columns must hold the configured ones and none of sqlml's own; returns
    the type of the validity columns."""
    kinds = {name.lower(): kind for name, kind in columns}
    for name, _ in columns:
        if name.lower().startswith(RESERVED_PREFIX):
            raise ExecutionError(
                f"the select of {spec.path} returns column '{name}', but columns starting "
                f"with '{RESERVED_PREFIX}' are sqlml's own",
                hint="rename the column in the select (e.g. with `as`)",
            )
    named = [*spec.unique_key, *([spec.updated_at] if spec.updated_at else [])]
    for column in [*named, *(spec.check_cols or ())]:
        if column.lower() not in kinds:
            raise ExecutionError(
                f"{spec.path} names column '{column}', which the select does not return",
                hint="columns of the select: " + ", ".join(name for name, _ in columns),
            )
    if spec.updated_at is None:
        return sql.NOW_TYPE
    kind = kinds[spec.updated_at.lower()]
    if not kind.startswith(_TIME_TYPES):
        raise ExecutionError(
            f"updated_at column '{spec.updated_at}' of {spec.path} is {kind}, not a date or "
            "timestamp",
            hint=f"cast it in the select, e.g. cast({spec.updated_at} as timestamp); "
            "timestamps without a time zone are read as UTC",
        )
    return kind


def _check_rows(engine: Engine, step: Step, spec: SnapshotSpec) -> None:
    """Every key once, none NULL; no NULL updated_at: otherwise history would be ambiguous."""
    duplicates = engine.execute(sql.duplicate_keys(spec))
    if duplicates:
        width = len(spec.unique_key)
        shown = "; ".join(
            ", ".join(f"{k}={v!r}" for k, v in zip(spec.unique_key, row[:width], strict=True))
            + f" ({row[width]} rows)"
            for row in duplicates
        )
        keys = ", ".join(spec.unique_key)
        raise ExecutionError(
            f"the select of {spec.path} returns unique_key ({keys}) more than once: {shown}"
            + (" …" if len(duplicates) == 5 else ""),
            hint="make the select return one row per key (e.g. qualify row_number() over "
            f"(partition by {keys} order by ...) = 1), or add columns to unique_key",
        )
    null_keys, null_times = engine.execute(sql.null_counts(spec))[0]
    if null_keys:
        raise ExecutionError(
            f"the select of {spec.path} returns {null_keys} row(s) with a NULL in unique_key "
            f"({', '.join(spec.unique_key)})",
            hint="filter them out in the select, or coalesce the key",
        )
    if null_times:
        raise ExecutionError(
            f"the select of {spec.path} returns {null_times} row(s) with a NULL updated_at "
            f"('{spec.updated_at}')",
            hint="filter them out or coalesce updated_at in the select, or use strategy: check",
        )
