"""The export materialization: read the rows, deliver them, then record what was delivered.

State, in the state schema:

- ``export_rows``: per export and row key, the hash of the row as last delivered (mode
  ``changed``): a row is sent again only when it is new or its hash changed.
- ``export_deliveries``: one row per file written or batch accepted: when, how many rows,
  the idempotency key, where to.

Nothing is recorded before the target has it: a file is renamed into place first, a batch
recorded only once the endpoint answered 2xx. A run that fails half-way has recorded the
batches that were accepted, so the next run sends only the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlml.engine.base import Engine
from sqlml.errors import ExecutionError
from sqlml.export.http import post_batch, shown
from sqlml.export.spec import ExportSpec, FileTarget, HttpTarget
from sqlml.plan.types import Step
from sqlml.relation import Relation

KEY = "__sqlml_key"
HASH = "__sqlml_hash"
_TABLES = """
create table if not exists {s}.export_rows (
    export varchar not null, key varchar not null, row_hash varchar not null,
    delivered_at timestamptz not null, run_id varchar, primary key (export, key));
create table if not exists {s}.export_deliveries (
    export varchar not null, run_id varchar, batch integer not null, rows bigint not null,
    idempotency_key varchar, target varchar not null, attempts integer,
    delivered_at timestamptz not null)
"""


def export_rows(
    engine: Engine, step: Step, *, state_schema: str, run_id: str, root: Path
) -> tuple[int, str]:
    """Deliver an export step's rows; return how many and a sentence saying where."""
    spec: ExportSpec = step.spec
    engine.ensure_schema(state_schema)
    for statement in _TABLES.format(s=_q(state_schema)).split(";"):
        engine.execute(statement)
    sql = _rows_sql(engine, spec, step.relation, state_schema)
    table = engine.arrow(sql, [spec.name] if spec.mode == "changed" else None)
    if spec.mode == "changed":
        _check_unique(table, spec)
    if isinstance(spec.target, FileTarget):
        if spec.mode == "changed" and table.num_rows == 0:
            return 0, "no new or changed rows: nothing written"
        where = _write_file(table, spec.target, root, run_id)
        _record(engine, state_schema, spec, run_id, 0, table, None, where, 1)
        return table.num_rows, f"{_rows(table.num_rows)} to {where}"
    return _post(engine, state_schema, spec, spec.target, table, run_id)


def _rows_sql(engine: Engine, spec: ExportSpec, relation: Relation, schema: str) -> str:
    available = [name for name, _ in engine.columns(relation)]
    if not available:
        raise ExecutionError(f"{relation.display} does not exist", hint="build it first")
    columns = list(spec.columns) if spec.columns is not None else available
    missing = [c for c in (*columns, *spec.key) if c not in available]
    if missing:
        raise ExecutionError(
            f"{relation.display} has no column {', '.join(repr(c) for c in missing)}",
            hint=f"its columns are {', '.join(available)}; fix columns: or key: in {spec.path}",
        )
    picked = ", ".join(_q(c) for c in columns)
    where = f" where {spec.where}" if spec.where else ""
    source = f"select {picked} from {relation}{where}"
    if spec.mode == "full":
        return f"select * from ({source}) order by all"
    key = f"json_array({', '.join(_q(k) for k in spec.key)})::varchar"
    row = f"md5(json_array({', '.join(_q(c) for c in columns)})::varchar)"
    seen = f"{_q(schema)}.export_rows"
    return (
        f"with hashed as (select *, {key} as {KEY}, {row} as {HASH} from ({source}))\n"
        f"select * from hashed h where not exists (select 1 from {seen} s where s.export = ? "
        f"and s.key = h.{KEY} and s.row_hash = h.{HASH}) order by {KEY}"
    )


def _check_unique(table: Any, spec: ExportSpec) -> None:
    import pyarrow.compute as pc

    counts = pc.value_counts(table.column(KEY))
    repeated = [v["values"] for v in counts.to_pylist() if v["counts"] > 1]
    if repeated:
        raise ExecutionError(
            f"key ({', '.join(spec.key)}) is not unique: {repeated[0]} appears more than once",
            hint=f"choose columns that identify one row as key: in {spec.path}",
        )


def _write_file(table: Any, target: FileTarget, root: Path, run_id: str) -> str:
    """Write to a temporary file beside the target, then rename it into place."""
    import pyarrow.csv as csv
    import pyarrow.parquet as parquet

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    relative = target.path.format(run_id=run_id, timestamp=stamp)
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    data = table.drop_columns([c for c in (KEY, HASH) if c in table.column_names])
    temporary = path.with_name(f".{path.name}.{run_id or os.getpid()}.tmp")
    try:
        if target.format == "csv":
            csv.write_csv(data, temporary)
        else:
            parquet.write_table(data, temporary)
        os.replace(temporary, path)
    except OSError as exc:
        raise ExecutionError(
            f"cannot write {relative}: {exc.strerror or exc}",
            hint="check that the folder is writable",
        ) from None
    finally:
        temporary.unlink(missing_ok=True)
    return relative


def _post(
    engine: Engine, schema: str, spec: ExportSpec, target: HttpTarget, table: Any, run_id: str
) -> tuple[int, str]:
    size = target.batch_size
    batches = (table.num_rows + size - 1) // size
    where = shown(os.path.expandvars(target.url))
    if batches == 0:
        return 0, f"no {'new or changed ' if spec.mode == 'changed' else ''}rows to send"
    for number in range(batches):
        batch = table.slice(number * size, size)
        rows = batch.drop_columns([c for c in (KEY, HASH) if c in batch.column_names])
        content = json.dumps(rows.to_pylist(), default=_plain, separators=(",", ":"))
        digest = hashlib.sha256(f"{spec.name}\n{run_id}\n{number}\n{content}".encode()).hexdigest()
        key = f"{spec.name}-{digest[:32]}"
        body = (
            f'{{"export":{json.dumps(spec.name)},"run_id":{json.dumps(run_id)},'
            f'"batch":{number},"batches":{batches},"idempotency_key":"{key}",'
            f'"rows":{content}}}'
        ).encode()
        try:
            attempts = post_batch(target, body, key)
        except ExecutionError as exc:
            done = number * size
            exc.message = (
                f"{exc.message} (batch {number + 1} of {batches}; {_rows(done)} delivered "
                "before it)"
            )
            raise
        _record(engine, schema, spec, run_id, number, batch, key, where, attempts)
    return table.num_rows, f"{_rows(table.num_rows)} in {batches} batch(es) to {where}"


def _record(
    engine: Engine,
    schema: str,
    spec: ExportSpec,
    run_id: str,
    number: int,
    batch: Any,
    key: str | None,
    where: str,
    attempts: int,
) -> None:
    """Remember what the target now has, in one transaction."""
    s = _q(schema)
    engine.execute("begin transaction")
    try:
        engine.execute(
            f"insert into {s}.export_deliveries values (?, ?, ?, ?, ?, ?, ?, now())",
            [spec.name, run_id, number, batch.num_rows, key, where, attempts],
        )
        if spec.mode == "changed":
            engine.execute(
                f"insert or replace into {s}.export_rows select ?, k, h, now(), ? "
                "from (select unnest(?::varchar[]) as k, unnest(?::varchar[]) as h)",
                [
                    spec.name,
                    run_id,
                    batch.column(KEY).to_pylist(),
                    batch.column(HASH).to_pylist(),
                ],
            )
        engine.execute("commit")
    except BaseException:
        engine.execute("rollback")
        raise


def _plain(value: Any) -> Any:
    """JSON for what Arrow hands back beyond JSON's types."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n} rows"


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
