"""Monitor history in the warehouse's state schema: plain, append-only tables for BI tools.

- ``monitor_results``: one row per metric per monitor run (monitor, model, version, window,
  metric, value, threshold, status, run id, ...).
- ``monitor_distributions``: the reference and current share of every bin behind a drift
  figure, so reports draw histograms without reading the data again.
- ``monitor_alerts``: one row per monitor run that warned or failed, with the owner told and
  what the webhook answered.
- ``retrain_events``: every retraining a monitor asked for, and what came of it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlml.engine.base import Engine
from sqlml.errors import ExecutionError
from sqlml.monitor.drift import ColumnDrift
from sqlml.monitor.spec import Threshold
from sqlml.monitor.sqltext import quote

_TABLES = """
create schema if not exists {s};
create table if not exists {s}.monitor_results (
    run_id varchar not null, monitor varchar not null, monitor_type varchar not null,
    model varchar, version integer, relation varchar, column_name varchar,
    window_start timestamp, window_end timestamp, metric varchar not null, value double,
    threshold varchar, warn_threshold double, error_threshold double, status varchar not null,
    n_rows bigint, message varchar, computed_at timestamptz not null);
create table if not exists {s}.monitor_distributions (
    run_id varchar not null, monitor varchar not null, model varchar, version integer,
    column_name varchar not null, bin integer not null, label varchar, ref_share double,
    cur_share double, cur_count bigint, computed_at timestamptz not null);
create table if not exists {s}.monitor_alerts (
    alert_id varchar not null, run_id varchar not null, monitor varchar not null,
    model varchar, version integer, relation varchar, owner varchar, severity varchar not null,
    message varchar, details json, webhook varchar, webhook_status varchar,
    created_at timestamptz not null);
create table if not exists {s}.retrain_events (
    run_id varchar not null, model varchar not null, monitor varchar not null,
    requested_at timestamptz not null, decision varchar not null, version_before integer,
    version_after integer, promoted boolean, reason varchar);
"""


@dataclass(frozen=True)
class MetricResult:
    """One judged figure of a monitor run."""

    metric: str
    value: float | None
    status: str  # pass, warn, error, skipped
    threshold: Threshold
    column: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    n_rows: int | None = None
    message: str | None = None


def ensure_history(engine: Engine, schema: str) -> None:
    """Create the history tables if they do not exist."""
    create_tables(engine, _TABLES.format(s=quote(schema)))


def create_tables(engine: Engine, script: str, attempts: int = 8) -> None:
    """Run ``create ... if not exists`` statements; monitors run in parallel threads, and two
    of them creating the same table at once conflict: the loser waits and tries again."""
    for statement in script.split(";"):
        if not statement.strip():
            continue
        for attempt in range(attempts):
            try:
                engine.execute(statement)
                break
            except ExecutionError as exc:
                if "conflict" not in exc.message.lower() or attempt == attempts - 1:
                    raise
                time.sleep(random.uniform(0, 0.01 * 2**attempt))


def record_results(
    engine: Engine,
    schema: str,
    *,
    run_id: str,
    monitor: str,
    monitor_type: str,
    model: str | None,
    version: int | None,
    relation: str | None,
    metrics: Sequence[MetricResult],
    drifts: Sequence[ColumnDrift] = (),
) -> None:
    """Append a monitor run's metrics and distributions."""
    ensure_history(engine, schema)
    s = quote(schema)
    rows = [
        (
            run_id, monitor, monitor_type, model, version, relation, m.column, m.window_start,
            m.window_end, m.metric, m.value, str(m.threshold) or None,
            m.threshold.warn.threshold if m.threshold.warn else None,
            m.threshold.error.threshold if m.threshold.error else None,
            m.status, m.n_rows, m.message,
        )
        for m in metrics
    ]  # fmt: skip
    _insert(engine, f"{s}.monitor_results", rows, 17)
    bins = [
        (run_id, monitor, model, version, d.column, b.bin, b.label, b.ref_share, b.cur_share,
         b.cur_count)
        for d in drifts
        for b in d.bins
    ]  # fmt: skip
    _insert(engine, f"{s}.monitor_distributions", bins, 10)


def record_alert(
    engine: Engine,
    schema: str,
    *,
    alert_id: str,
    run_id: str,
    monitor: str,
    model: str | None,
    version: int | None,
    relation: str | None,
    owner: str | None,
    severity: str,
    message: str,
    details: Any,
    webhook: str | None,
    webhook_status: str | None,
) -> None:
    ensure_history(engine, schema)
    engine.execute(
        f"insert into {quote(schema)}.monitor_alerts values "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?::json, ?, ?, now())",
        [alert_id, run_id, monitor, model, version, relation, owner, severity, message,
         json.dumps(details, default=str), webhook, webhook_status],
    )  # fmt: skip


def record_retrain(
    engine: Engine,
    schema: str,
    *,
    run_id: str,
    model: str,
    monitor: str,
    decision: str,
    version_before: int | None = None,
    version_after: int | None = None,
    promoted: bool | None = None,
    reason: str | None = None,
) -> None:
    ensure_history(engine, schema)
    engine.execute(
        f"insert into {quote(schema)}.retrain_events values (?, ?, ?, now(), ?, ?, ?, ?, ?)",
        [run_id, model, monitor, decision, version_before, version_after, promoted, reason],
    )


def last_retrain(engine: Engine, schema: str, model: str) -> tuple[datetime, str] | None:
    """When the model was last retrained (or asked to be) because of a monitor, and the
    decision then; None if never."""
    if (schema.lower(), "retrain_events") not in engine.relations():
        return None
    rows = engine.execute(
        f"select timezone('UTC', requested_at), decision from {quote(schema)}.retrain_events "
        "where model = ? and decision not in ('cooldown', 'failed') "
        "order by requested_at desc limit 1",
        [model],
    )
    return (rows[0][0], rows[0][1]) if rows else None


def pending_retrains(engine: Engine, schema: str) -> list[str]:
    """Models a monitor asked to retrain in the next run that have not been retrained since."""
    if (schema.lower(), "retrain_events") not in engine.relations():
        return []
    rows = engine.execute(
        f"select model from {quote(schema)}.retrain_events group by model "
        "having arg_max(decision, requested_at) = 'requested' order by model"
    )
    return [str(m) for (m,) in rows]


def _insert(engine: Engine, table: str, rows: Sequence[tuple[Any, ...]], width: int) -> None:
    marks = "(" + ", ".join(["?"] * width) + ", now())"
    for start in range(0, len(rows), 200):
        chunk = rows[start : start + 200]
        engine.execute(
            f"insert into {table} values " + ", ".join([marks] * len(chunk)),
            [v for r in chunk for v in r],
        )
