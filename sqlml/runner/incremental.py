"""The incremental materialization: add a model's new rows to its table, one transaction each.

The new rows are computed once into a temporary table; then, in the same transaction, the
table's columns are reconciled (``on_schema_change``) and the strategy applies them:

- ``append``: insert them.
- ``merge``: update the rows whose ``unique_key`` matches (NULL matches NULL), insert the
  rest. Two new rows with the same key are an error: which one should win is not knowable.
- ``delete+insert``: delete every row whose key appears in the new rows, insert them all.
- ``time_range``: per batch, delete the batch's range of ``event_time`` and insert the rows
  the query returns inside it; the node's interval state is written in the same transaction.

Anything that fails rolls back: the table (and its intervals) stay as they were.
"""

from __future__ import annotations

from datetime import datetime

from sqlml.batch import bind_batch, timestamp_literal
from sqlml.engine.base import Engine, Transaction
from sqlml.errors import ExecutionError
from sqlml.plan.intervals import Interval, done_after
from sqlml.plan.types import IncrementalStep, Step
from sqlml.project.types import IncrementalConfig
from sqlml.relation import Relation
from sqlml.runner.columns import column_check
from sqlml.runner.intervals import node_intervals, write_intervals
from sqlml.runner.materializations import Outcome, RunEnv


def build_incremental(engine: Engine, step: Step, env: RunEnv) -> Outcome:
    """Build an incremental model: from scratch when the plan says so, else add new rows."""
    incremental = step.incremental
    assert incremental is not None, "the plan sets it for incremental models"
    if incremental.config.strategy == "time_range":
        return Outcome(_time_range(engine, step, incremental, env))
    if incremental.full:
        check = column_check(engine, step.node, step.declared_columns, exact=step.contract)
        return Outcome(engine.build_table(step.relation, step.sql, step.existing, check))
    with engine.transaction() as tx:
        return Outcome(_apply(tx, step, incremental, incremental.sql))


def _apply(
    tx: Transaction,
    step: Step,
    incremental: IncrementalStep,
    sql: str,
    batch: Interval | None = None,
) -> int:
    """Compute the new rows of ``sql`` (those inside ``batch`` for time_range models),
    reconcile columns and apply the strategy; returns how many new rows there were."""
    config = incremental.config
    new = Relation("main", f"__sqlml_new_{step.node}", "temp")
    where = f"\nwhere {_range_filter(config, '', batch)}" if batch else ""
    # The model's SQL starts on the statement's second line, as for CREATE TABLE ... AS.
    tx.execute(f"create or replace temp table {new} as select * from (\n{sql}\n){where}")
    columns = _reconcile(tx, step, new)
    names = ", ".join(_q(c) for c in columns)
    target = step.relation
    keys = config.unique_key
    matches = _key_match(tx, new, keys) if keys else ""
    if config.strategy == "merge":
        _refuse_duplicates(tx, step, new, keys)
        updates = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in columns)
        values = ", ".join(f"s.{_q(c)}" for c in columns)
        tx.execute(
            f"merge into {target} as t using {new} as s on ({matches}) "
            f"when matched then update set {updates} "
            f"when not matched then insert ({names}) values ({values})"
        )
    else:
        if config.strategy == "delete+insert":
            tx.execute(f"delete from {target} as t using {new} as s where {matches}")
        elif batch is not None:
            tx.execute(f"delete from {target} as t where {_range_filter(config, 't.', batch)}")
        tx.execute(f"insert into {target} ({names}) select {names} from {new}")
    rows = int(tx.execute(f"select count(*) from {new}")[0][0])
    tx.execute(f"drop table {new}")
    return rows


def _reconcile(tx: Transaction, step: Step, new: Relation) -> list[str]:
    """Columns to write, after applying ``on_schema_change`` to the target table."""
    assert step.incremental is not None
    policy = step.incremental.config.on_schema_change
    incoming = tx.columns(new)
    existing = {name.lower(): kind for name, kind in tx.columns(step.relation)}
    added = [(name, kind) for name, kind in incoming if name.lower() not in existing]
    known = {name.lower() for name, _ in incoming}
    removed = [name for name in existing if name not in known]
    retyped = [
        f"{name} ({existing[name.lower()]} -> {kind})"
        for name, kind in incoming
        if name.lower() in existing and existing[name.lower()] != kind
    ]
    if policy == "fail" and (added or removed or retyped):
        changes = [f"new column {n} ({k})" for n, k in added]
        changes += [f"column {n} gone" for n in removed] + [f"column {c}" for c in retyped]
        raise ExecutionError(
            f"the columns of {step.relation.display} changed: " + "; ".join(changes),
            hint="rebuild it with --full-refresh, or set on_schema_change: "
            "append_new_columns (or ignore)",
        )
    if policy == "append_new_columns":
        for name, kind in added:
            tx.execute(f"alter table {step.relation} add column {_q(name)} {kind}")
        return [name for name, _ in incoming]
    return [name for name, _ in incoming if name.lower() in existing]


def _key_match(tx: Transaction, new: Relation, keys: tuple[str, ...]) -> str:
    """The join condition of old and new rows on the key. NULL matches NULL; when no new key
    has a NULL part, plain equality means the same and joins several times faster."""
    nulls = " or ".join(f"{_q(k)} is null" for k in keys)
    has_null = tx.execute(f"select count(*) from {new} where {nulls}")[0][0]
    compare = "is not distinct from" if has_null else "="
    return " and ".join(f"t.{_q(k)} {compare} s.{_q(k)}" for k in keys)


def _refuse_duplicates(tx: Transaction, step: Step, new: Relation, keys: tuple[str, ...]) -> None:
    columns = ", ".join(_q(k) for k in keys)
    rows = tx.execute(
        f"select {columns}, count(*) from {new} group by all having count(*) > 1 "
        f"order by count(*) desc limit 3"
    )
    if not rows:
        return
    shown = "; ".join(
        ", ".join(f"{k}={value!r}" for k, value in zip(keys, row, strict=False))
        + f" ({row[-1]} rows)"
        for row in rows
    )
    raise ExecutionError(
        f"merge on unique_key ({', '.join(keys)}) found several new rows with the same key: "
        f"{shown}",
        hint=f"make the query in {step.path} return one row per key (e.g. keep the latest "
        "with qualify row_number() over (partition by ...) = 1), or use "
        "incremental_strategy: delete+insert to keep them all",
    )


def _time_range(engine: Engine, step: Step, incremental: IncrementalStep, env: RunEnv) -> int:
    """Build each batch in its own transaction, with the node's intervals."""
    config = incremental.config
    assert config.event_time is not None and config.begin is not None
    batches = list(incremental.batches)
    if incremental.full and not batches:
        batches = [(config.begin, config.begin)]  # an empty table with the model's columns
    rows = 0
    existing = step.existing
    for index, batch in enumerate(batches):
        fresh = incremental.full and index == 0
        sql = bind_batch(step.sql if fresh else incremental.sql, *batch)
        with engine.transaction() as tx:
            if fresh:
                if existing is not None:
                    tx.execute(f"drop {existing} {step.relation}")
                where = _range_filter(config, "", batch)
                tx.execute(
                    f"create table {step.relation} as select * from (\n{sql}\n)\nwhere {where}"
                )
                count = int(tx.execute(f"select count(*) from {step.relation}")[0][0])
                done: tuple[Interval, ...] = ()
            else:
                count = _apply(tx, step, incremental, sql, batch)
                done = node_intervals(tx, env.state_schema, step.node)
            newest = tx.execute(
                f"select max({_q(config.event_time)}) from {step.relation} "
                f"where {_q(config.event_time)} >= ?",
                [batch[0]],
            )[0][0]
            if newest is not None and not isinstance(newest, datetime):  # a date column
                newest = datetime(newest.year, newest.month, newest.day)
            intervals = done_after(done, batch, newest, config.batch_size)
            write_intervals(tx, env.state_schema, step.node, intervals)
        rows += count
    return rows


def _range_filter(config: IncrementalConfig, prefix: str, batch: Interval) -> str:
    assert config.event_time is not None
    start, end = batch
    column = prefix + _q(config.event_time)
    return f"{column} >= {timestamp_literal(start)} and {column} < {timestamp_literal(end)}"


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
