"""The SQL that keeps a snapshot's history (a type 2 slowly changing dimension), as text.

Pure functions from a snapshot's spec and columns to statements; the snapshot
materialization (`sqlml.runner.snapshots`) runs them through the engine in one transaction:

1. `stage`: the snapshot's select, run once into a temporary table, so every later statement
   sees the same rows;
2. checks on the staged rows (`duplicate_keys`, `null_counts`);
3. on the first run, `create`; afterwards `merge`: new columns added, then the changed and new
   rows staged, the current versions they replace closed, vanished keys closed (with
   ``hard_deletes: invalidate``), and the new versions inserted.

A version is current while ``sqlml_valid_to`` is NULL. A new version starts when the old one
ends (``sqlml_valid_from`` of the new = ``sqlml_valid_to`` of the old), so a point in time
falls in exactly one version of a key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlml.relation import Relation
from sqlml.snapshotspec import SnapshotSpec

STAGE = '"__sqlml_snapshot_source"'
CHANGES = '"__sqlml_snapshot_changes"'
STAGE_RELATION = Relation("main", "__sqlml_snapshot_source", "temp")
CLOSES = "sqlml_closes"  # a staged change replaces a current version (not a new key)
NOW_TYPE = "TIMESTAMP WITH TIME ZONE"  # the check strategy's clock


@dataclass(frozen=True)
class Shape:
    """What the statements depend on besides the spec.

    Args:
        target: the snapshot's relation.
        columns: the select's columns, in order.
        time_type: the type of the validity columns (``updated_at``'s type, or `NOW_TYPE`).
        now: when this run started; the check strategy's version times, and when vanished
            keys are invalidated.
        kept: the select's columns already in the snapshot (compared by the check strategy);
            the rest are added to it.
    """

    target: Relation
    columns: tuple[str, ...]
    time_type: str
    now: datetime
    kept: tuple[str, ...] = ()


def stage(select_sql: str) -> str:
    """The select, run once into a temporary table. One line comes before the select, as in
    the engine's table builds, so error lines map back to the compiled file."""
    return f"create or replace temp table {STAGE} as\n{select_sql}"


def duplicate_keys(spec: SnapshotSpec, limit: int = 5) -> str:
    """Up to ``limit`` keys the select returns more than once, most repeated first."""
    keys = _list(spec.unique_key)
    return (
        f"select {keys}, count(*) as n from {STAGE}\n"
        f"group by {keys}\nhaving count(*) > 1\norder by n desc, {keys}\nlimit {limit}"
    )


def null_counts(spec: SnapshotSpec) -> str:
    """Rows with a NULL in the key, and (timestamp strategy) rows with a NULL updated_at."""
    null_key = " or ".join(f"{_q(k)} is null" for k in spec.unique_key)
    null_time = f"{_q(spec.updated_at)} is null" if spec.updated_at else "false"
    return (
        f"select count(*) filter (where {null_key}), count(*) filter (where {null_time})\n"
        f"from {STAGE}"
    )


def create(spec: SnapshotSpec, shape: Shape) -> str:
    """The first run: every staged row becomes the current version of its key."""
    updated = _updated(spec, shape, "")
    return (
        f"create table {shape.target} as\n"
        f"select\n    *,\n"
        f"    {_scd_id(spec, updated, '')} as sqlml_scd_id,\n"
        f"    {updated} as sqlml_updated_at,\n"
        f"    {updated} as sqlml_valid_from,\n"
        f"    cast(null as {shape.time_type}) as sqlml_valid_to\n"
        f"from {STAGE}"
    )


def merge(spec: SnapshotSpec, shape: Shape, types: Sequence[str] = ()) -> list[str]:
    """Every later run: the statements that record what changed since the last one.

    ``types`` are the types of the columns of ``shape.columns`` that are not in
    ``shape.kept``, in order: they are added to the snapshot first.
    """
    target = shape.target
    added = [c for c in shape.columns if c not in shape.kept]
    statements = [
        f"alter table {target} add column {_q(column)} {kind}"
        for column, kind in zip(added, types, strict=True)
    ]
    statements.append(_changes(spec, shape))
    statements.append(
        f"update {target} as snap\n"
        f"set sqlml_valid_to = changes.sqlml_valid_from\n"
        f"from {CHANGES} as changes\n"
        f"where changes.{CLOSES}\n"
        f"    and snap.sqlml_valid_to is null\n"
        f"    and {_join(spec, 'snap', 'changes')}"
    )
    if spec.hard_deletes == "invalidate":
        statements.append(
            f"update {target} as snap\n"
            f"set sqlml_valid_to = greatest({_now(shape)}, snap.sqlml_valid_from)\n"
            f"where snap.sqlml_valid_to is null\n"
            f"    and not exists (\n"
            f"        select 1 from {STAGE} as staged\n"
            f"        where {_join(spec, 'staged', 'snap')}\n"
            f"    )"
        )
    statements.append(
        f"insert into {target} by name\n"
        f"select * exclude ({CLOSES}), cast(null as {shape.time_type}) as sqlml_valid_to\n"
        f"from {CHANGES}"
    )
    return statements


def _changes(spec: SnapshotSpec, shape: Shape) -> str:
    """Stage the versions to insert: rows of new keys, and changed rows of current keys."""
    updated = _updated(spec, shape, "staged.")
    valid_from = updated
    history = ""
    later = ""
    if spec.strategy == "timestamp" and spec.hard_deletes == "invalidate":
        # Invalidation closes versions at the run's time, not at an updated_at, so a key's
        # last version may start after a staged row's updated_at. A key that comes back
        # starts no earlier than its last version ended; a change dated before the current
        # version started starts when this run sees it. A version that would not start after
        # the key's last one (e.g. twice in a day with DATE columns) waits for a later run:
        # versions of a key never overlap, and none ends before it starts.
        keys = _list(spec.unique_key)
        history = (
            f"left join (\n"
            f"    select {keys}, max(sqlml_valid_to) as sqlml_valid_to,\n"
            f"        max(sqlml_valid_from) as sqlml_valid_from\n"
            f"    from {shape.target}\n"
            f"    group by {keys}\n"
            f") as history\n"
            f"    on {_join(spec, 'staged', 'history')}\n"
        )
        valid_from = (
            f"case when latest.sqlml_scd_id is null "
            f"then greatest({updated}, history.sqlml_valid_to) "
            f"when {updated} > latest.sqlml_valid_from then {updated} else {_now(shape)} end"
        )
        later = (
            f"\n    and (history.sqlml_valid_from is null "
            f"or {valid_from} > history.sqlml_valid_from)"
        )
    where = f"where latest.sqlml_scd_id is null\n    or {_changed(spec, shape)}"
    if later:
        where = f"where ({where.removeprefix('where ')}){later}"
    return (
        f"create or replace temp table {CHANGES} as\n"
        f"select\n"
        f"    staged.*,\n"
        f"    {_scd_id(spec, valid_from, 'staged.')} as sqlml_scd_id,\n"
        f"    {updated} as sqlml_updated_at,\n"
        f"    {valid_from} as sqlml_valid_from,\n"
        f"    latest.sqlml_scd_id is not null as {CLOSES}\n"
        f"from {STAGE} as staged\n"
        f"left join (\n"
        f"    select * from {shape.target} where sqlml_valid_to is null\n"
        f") as latest\n"
        f"    on {_join(spec, 'staged', 'latest')}\n"
        f"{history}"
        f"{where}"
    )


def _changed(spec: SnapshotSpec, shape: Shape) -> str:
    """Whether a staged row differs from the current version of its key."""
    if spec.strategy == "timestamp":
        return f"staged.{_q(spec.updated_at or '')} > latest.sqlml_updated_at"
    keys = {k.lower() for k in spec.unique_key}
    chosen = spec.check_cols if spec.check_cols is not None else shape.columns
    wanted = {c.lower() for c in chosen}
    # Columns new to the snapshot have no old value to compare with.
    compared = [c for c in shape.kept if c.lower() in wanted and c.lower() not in keys]
    if not compared:
        return "false"
    return (
        "("
        + "\n        or ".join(f"staged.{_q(c)} is distinct from latest.{_q(c)}" for c in compared)
        + ")"
    )


def _updated(spec: SnapshotSpec, shape: Shape, prefix: str) -> str:
    """When a version was recorded: the row's updated_at, or the run's start."""
    if spec.strategy == "timestamp":
        return f"{prefix}{_q(spec.updated_at or '')}"
    return _now(shape)


def _now(shape: Shape) -> str:
    """The run's start as a literal of the validity columns' type (UTC for naive types)."""
    stamp = shape.now.strftime("%Y-%m-%d %H:%M:%S.%f+00")
    literal = f"cast('{stamp}' as {NOW_TYPE})"
    return literal if shape.time_type == NOW_TYPE else f"cast({literal} as {shape.time_type})"


def _scd_id(spec: SnapshotSpec, valid_from: str, prefix: str) -> str:
    """A version's id: a hash of its key and start, unambiguous whatever the values hold."""
    parts = [f"cast({prefix}{_q(k)} as varchar)" for k in spec.unique_key]
    parts.append(f"cast({valid_from} as varchar)")
    return f"md5(to_json([{', '.join(parts)}]))"


def _join(spec: SnapshotSpec, left: str, right: str) -> str:
    return " and ".join(f"{left}.{_q(k)} = {right}.{_q(k)}" for k in spec.unique_key)


def _list(columns: Sequence[str]) -> str:
    return ", ".join(_q(c) for c in columns)


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
