"""What each type of monitor computes: small functions in a dict keyed by type.

Each takes the monitor, what it needs of the warehouse (`MonitorEnv`) and the model version it
watches, and returns judged figures. The figures are computed in SQL (see `drift`,
`performance`, `anomaly`); here they are only chosen and judged against thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlml.engine.base import Engine
from sqlml.errors import ExecutionError
from sqlml.monitor.anomaly import freshness_series_sql, judge_point, volume_series_sql
from sqlml.monitor.drift import (
    CATEGORICAL_METRICS,
    NUMERIC_METRICS,
    QUALITY_METRICS,
    ColumnDrift,
    column_drift,
    columns_drift,
)
from sqlml.monitor.history import MetricResult
from sqlml.monitor.performance import HIGHER_IS_BETTER, window_performance
from sqlml.monitor.profile import ColumnProfile, Profile, read_profile
from sqlml.monitor.reference import empty_window, frozen_column, reference_profile
from sqlml.monitor.spec import MonitorSpec, Threshold, performance_threshold
from sqlml.monitor.sqltext import quote

# Holdout metric names (scikit-learn's) of the figures a performance monitor computes.
HOLDOUT_NAMES = {
    "auc": "roc_auc",
    "accuracy": "accuracy",
    "f1": "f1",
    "log_loss": "log_loss",
    "rmse": "root_mean_squared_error",
    "mae": "mean_absolute_error",
}


@dataclass(frozen=True)
class MonitorEnv:
    """What monitors need: the warehouse, the state schema, and where nodes live.

    ``relations`` maps node names (``model``, ``source.table``) to their relation in SQL;
    ``custom_sql`` maps custom monitors to their compiled query.
    """

    engine: Engine
    state_schema: str
    run_id: str
    as_of: datetime
    relations: Mapping[str, str]
    custom_sql: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Checked:
    """What a monitor found: judged figures and, for drift, the bins behind them."""

    metrics: tuple[MetricResult, ...]
    drifts: tuple[ColumnDrift, ...] = ()
    relation: str | None = None


@dataclass(frozen=True)
class Watched:
    """The model version a monitor judges, with its holdout figures (None for tables)."""

    model: str | None = None
    version: int | None = None
    task: str | None = None
    holdout: Mapping[str, Any] = field(default_factory=dict)


def relation_of(env: MonitorEnv, node: str, monitor: MonitorSpec) -> str:
    if node not in env.relations:
        raise ExecutionError(
            f"monitor '{monitor.name}' watches '{node}', which is not a model, seed or source",
            node=monitor.name,
            location=monitor.location,
            hint="check the relation: ref('...') of the monitor",
        )
    return env.relations[node]


def window_rows(
    env: MonitorEnv, monitor: MonitorSpec
) -> tuple[str, datetime | None, datetime | None]:
    """The rows the monitor judges (a query), and the window's start and end."""
    assert monitor.relation is not None
    relation = relation_of(env, monitor.relation, monitor)
    if monitor.timestamp is None:
        return f"select * from {relation}", None, None
    ts = quote(monitor.timestamp)
    (end,) = env.engine.execute(f"select max({ts})::TIMESTAMP from {relation}")[0]
    if end is None or monitor.window is None:
        return f"select * from {relation}", None, end
    (start,) = env.engine.execute(f"select ?::TIMESTAMP - interval '{monitor.window}'", [end])[0]
    rows = f"select * from {relation} where {ts}::TIMESTAMP > '{start}'::TIMESTAMP"
    return rows, start, end


def check_drift(env: MonitorEnv, monitor: MonitorSpec, watched: Watched) -> Checked:
    training = _profile(env, monitor, watched)
    rows, start, end = window_rows(env, monitor)
    present = {c.lower(): t for c, t in _columns(env.engine, rows)}
    wanted = _columns_to_watch(monitor, training, "feature")
    metrics: list[MetricResult] = [_schema_metric(monitor, wanted, present)]
    # A first-window reference freezes every feature the window has, so columns added to the
    # monitor later can still be compared with it.
    features = [
        c for c in training.columns.values() if c.role == "feature" and c.name.lower() in present
    ]
    profile = reference_profile(
        env.engine, env.state_schema, env.run_id, monitor, training, rows, features
    )
    if profile is None:
        return Checked((empty_window(start, end),), (), monitor.relation)
    references = [
        frozen_column(monitor, profile, c.name) for c in wanted if c.name.lower() in present
    ]
    # Every watched column at once: the window is read a few times, not twice per column.
    drifts = columns_drift(
        env.engine, env.state_schema, profile.profile, profile.version, references, rows
    )
    for drift in drifts:
        names = monitor.metrics or (
            NUMERIC_METRICS if drift.kind == "numeric" else CATEGORICAL_METRICS
        )
        if monitor.type == "quality":
            names = monitor.metrics or QUALITY_METRICS
        metrics += _judge(monitor, drift, names, start, end)
    if monitor.type == "drift":
        metrics = metrics[1:]  # schema changes are the quality monitor's
    return Checked(tuple(metrics), tuple(drifts), monitor.relation)


def check_prediction_drift(env: MonitorEnv, monitor: MonitorSpec, watched: Watched) -> Checked:
    training = _profile(env, monitor, watched)
    predictions = [c for c in training.columns.values() if c.role == "prediction"]
    if not predictions:
        raise ExecutionError(
            f"the profile of {training.profile} version {training.version} has no prediction",
            node=monitor.name,
            location=monitor.location,
            hint="retrain the model: its training writes the prediction's profile",
        )
    rows, start, end = window_rows(env, monitor)
    column = monitor.column or predictions[0].name
    current = f"select {quote(column)} as {quote(predictions[0].name)} from ({rows})"
    profile = reference_profile(
        env.engine, env.state_schema, env.run_id, monitor, training, current, predictions[:1]
    )
    if profile is None:
        return Checked((empty_window(start, end),), (), monitor.relation)
    reference = frozen_column(monitor, profile, predictions[0].name)
    drift = column_drift(
        env.engine, env.state_schema, profile.profile, profile.version, reference, current
    )
    names = monitor.metrics or (
        NUMERIC_METRICS if reference.kind == "numeric" else CATEGORICAL_METRICS
    )
    return Checked(tuple(_judge(monitor, drift, names, start, end)), (drift,), monitor.relation)


def check_performance(env: MonitorEnv, monitor: MonitorSpec, watched: Watched) -> Checked:
    p = monitor.performance
    assert p is not None and monitor.relation is not None
    scores = relation_of(env, monitor.relation, monitor)
    label_side = "l" if p.labels else "s"
    joined = f"{scores} s"
    if p.labels:
        labels = relation_of(env, p.labels, monitor)
        on = " and ".join(f"s.{quote(k)} = l.{quote(k)}" for k in p.key)
        joined += f" join {labels} l on {on}"
    bucket = (
        f"date_trunc('{p.bucket}', s.{quote(monitor.timestamp)}::TIMESTAMP)"
        if monitor.timestamp
        else "null::TIMESTAMP"
    )
    score = f"s.{quote(p.score)}"
    prediction = (
        f"s.{quote(p.prediction)}" if p.prediction else f"({score} >= {float(p.cutoff)!r})::INTEGER"
    )
    rows = (
        f"select {bucket} as bucket, {label_side}.{quote(p.label)} as y, {score} as score, "
        f"{prediction} as prediction from {joined}"
    )
    task = watched.task or "classification"
    windows = window_performance(env.engine, rows, task)[-monitor.history :]
    if not windows:
        waiting = MetricResult(
            "labelled_rows", 0.0, "skipped", Threshold(),
            message="no scores with labels yet: labels land later",
        )  # fmt: skip
        return Checked((waiting,), (), monitor.relation)
    metrics = []
    for window in windows:
        end = window.bucket if isinstance(window.bucket, datetime) else None
        for name, value in window.metrics.items():
            if monitor.metrics and name not in monitor.metrics:
                continue
            threshold = monitor.thresholds.get(name) or performance_threshold(
                name, _number(watched.holdout.get(HOLDOUT_NAMES[name])), name in HIGHER_IS_BETTER
            )
            enough = window.labelled_rows >= p.min_rows
            status = threshold.status(value) if enough else "skipped"
            message = None if enough else f"{window.labelled_rows} labelled rows < {p.min_rows}"
            metrics.append(
                MetricResult(name, value, status, threshold, None, end, end, window.labelled_rows,
                             message)
            )  # fmt: skip
    return Checked(tuple(metrics), (), monitor.relation)


def check_volume(env: MonitorEnv, monitor: MonitorSpec, watched: Watched) -> Checked:
    assert monitor.relation is not None and monitor.timestamp is not None
    relation = relation_of(env, monitor.relation, monitor)
    series = volume_series_sql(relation, monitor.timestamp)
    return _anomaly(env, monitor, "row_count", series)


def check_freshness(env: MonitorEnv, monitor: MonitorSpec, watched: Watched) -> Checked:
    assert monitor.relation is not None and monitor.timestamp is not None
    relation = relation_of(env, monitor.relation, monitor)
    series = freshness_series_sql(relation, monitor.timestamp, env.as_of)
    return _anomaly(env, monitor, "hours_since_update", series)


def check_custom(env: MonitorEnv, monitor: MonitorSpec, watched: Watched) -> Checked:
    sql = env.custom_sql.get(monitor.name) or monitor.sql
    assert sql is not None
    if monitor.returns == "rows":
        (count,) = env.engine.execute(f"select count(*) from (\n{sql}\n)")[0]
        threshold = monitor.threshold("failing_rows")
        value = float(count)
        result = MetricResult("failing_rows", value, threshold.status(value), threshold)
        return Checked((result,), (), monitor.relation)
    columns = [c.lower() for c, _ in _columns(env.engine, sql)]
    if columns[:2] != ["name", "value"]:
        raise ExecutionError(
            f"custom monitor '{monitor.name}' must return columns (name, value), "
            f"not ({', '.join(columns)})",
            node=monitor.name,
            location=monitor.location,
            hint="alias them: select 'refund_share' as name, avg(refunded) as value ...; or set "
            "returns: rows for a query returning failing rows",
        )
    metrics = []
    for name, value in env.engine.execute(f"select name::VARCHAR, value::DOUBLE from ({sql})"):
        threshold = monitor.threshold(str(name))
        metrics.append(MetricResult(str(name), value, threshold.status(value), threshold))
    return Checked(tuple(metrics), (), monitor.relation)


CHECKS: dict[str, Callable[[MonitorEnv, MonitorSpec, Watched], Checked]] = {
    "drift": check_drift,
    "quality": check_drift,
    "prediction_drift": check_prediction_drift,
    "performance": check_performance,
    "volume": check_volume,
    "freshness": check_freshness,
    "custom": check_custom,
}


def _anomaly(env: MonitorEnv, monitor: MonitorSpec, metric: str, series: str) -> Checked:
    point = judge_point(env.engine, metric, series, monitor.history)
    z = point.z if point.points >= monitor.min_points else None
    when = point.day if isinstance(point.day, datetime) else None
    info = monitor.threshold(metric)
    threshold = monitor.threshold(f"{metric}_z")
    message = f"median {point.median}, MAD {point.mad} over {point.points} days"
    status = threshold.status(z)
    if z is None:
        status = "skipped"
        message = f"{point.points} days of history < min_points {monitor.min_points}"
    return Checked(
        (
            MetricResult(metric, point.value, info.status(point.value), info, None, when, when),
            MetricResult(f"{metric}_z", z, status, threshold, None, when, when, None, message),
        ),
        (),
        monitor.relation,
    )


def _judge(
    monitor: MonitorSpec,
    drift: ColumnDrift,
    names: tuple[str, ...],
    start: datetime | None,
    end: datetime | None,
) -> list[MetricResult]:
    if drift.n_current == 0:
        return [
            MetricResult(names[0], None, "skipped", Threshold(), drift.column, start, end, 0,
                         "no rows in the window")
        ]  # fmt: skip
    out = []
    for name in names:
        if name not in drift.metrics:
            continue
        value = drift.metrics[name]
        threshold = monitor.threshold(name)
        out.append(
            MetricResult(name, value, threshold.status(value), threshold, drift.column, start,
                         end, drift.n_current)
        )  # fmt: skip
    return out


def _profile(env: MonitorEnv, monitor: MonitorSpec, watched: Watched) -> Profile:
    if watched.model is None or watched.version is None:
        raise ExecutionError(
            f"monitor '{monitor.name}': model '{monitor.model}' has no trained version yet",
            node=monitor.name,
            location=monitor.location,
            hint="train it first (`sqlml run`), which also writes its reference profile",
        )
    return read_profile(env.engine, env.state_schema, watched.model, watched.version)


def _columns_to_watch(monitor: MonitorSpec, profile: Profile, role: str) -> list[ColumnProfile]:
    columns = [c for c in profile.columns.values() if c.role == role]
    if monitor.columns is None:
        return columns
    by_name = {c.name.lower(): c for c in columns}
    unknown = [c for c in monitor.columns if c.lower() not in by_name]
    if unknown:
        raise ExecutionError(
            f"monitor '{monitor.name}': {', '.join(unknown)} not among the model's features",
            node=monitor.name,
            location=monitor.location,
            hint="features profiled: " + ", ".join(sorted(by_name)),
        )
    return [by_name[c.lower()] for c in monitor.columns]


def _schema_metric(
    monitor: MonitorSpec, wanted: list[ColumnProfile], present: Mapping[str, str]
) -> MetricResult:
    changes = []
    for column in wanted:
        now = present.get(column.name.lower())
        if now is None:
            changes.append(f"{column.name} missing")
        elif column.data_type and now != column.data_type:
            changes.append(f"{column.name} {column.data_type} -> {now}")
    threshold = monitor.threshold("schema_changes")
    value = float(len(changes))
    return MetricResult(
        "schema_changes", value, threshold.status(value), threshold,
        message="; ".join(changes) or None,
    )  # fmt: skip


def _columns(engine: Engine, sql: str) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in engine.execute(f"describe select * from ({sql})")]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)
