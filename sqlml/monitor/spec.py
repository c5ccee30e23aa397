"""A monitor as the rest of sqlml sees it: `MonitorSpec`, its thresholds, and their defaults.

Monitors are declared in an ML spec (``monitors:``, attached to that model) or in
``monitors/<name>.yml`` (attached to any table, optionally with ``monitors/<name>.sql`` for a
custom monitor). `load_monitor` validates one declaration.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlml.errors import ConfigError, Location

_OPS: Mapping[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "abs >": lambda v, t: abs(v) > t,
}
_CONDITION = re.compile(r"^\s*(abs\s*>|>=|<=|>|<)\s*(-?[0-9.eE+-]+)\s*$")
_REFERENCE = re.compile(
    r"""^\s*(ref|source)\(\s*(['"])([^'"]+)\2\s*(?:,\s*(['"])([^'"]+)\4\s*)?\)\s*$"""
)


@dataclass(frozen=True)
class Condition:
    """``value <op> threshold`` means flagged, e.g. ``> 0.25`` or ``abs > 3``."""

    op: str
    threshold: float

    def flags(self, value: float | None) -> bool:
        if value is None or math.isnan(value):
            return False
        return _OPS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.op} {self.threshold:g}"


@dataclass(frozen=True)
class Threshold:
    """When a metric warns and when it errors (either may be None)."""

    warn: Condition | None = None
    error: Condition | None = None

    def status(self, value: float | None) -> str:
        """``error``, ``warn`` or ``pass`` (a missing value passes: there is nothing to judge)."""
        if self.error is not None and self.error.flags(value):
            return "error"
        if self.warn is not None and self.warn.flags(value):
            return "warn"
        return "pass"

    def __str__(self) -> str:
        parts = [
            f"warn {self.warn}" if self.warn else "",
            f"error {self.error}" if self.error else "",
        ]
        return ", ".join(p for p in parts if p)


def _condition(text: str) -> Condition:
    match = _CONDITION.match(text)
    if match is None:
        raise ValueError(text)
    return Condition(
        re.sub(r"\s+", " ", match.group(1)).replace("abs>", "abs >"), float(match.group(2))
    )


def _t(warn: str | None, error: str | None) -> Threshold:
    return Threshold(_condition(warn) if warn else None, _condition(error) if error else None)


# Defaults, documented in docs/monitoring.md. Performance thresholds are relative to the
# model version's holdout figures and are made at run time (see `performance_threshold`).
DEFAULT_THRESHOLDS: Mapping[str, Threshold] = {
    "psi": _t("> 0.1", "> 0.25"),
    "js_distance": _t("> 0.1", "> 0.2"),
    "ks": _t("> 0.1", "> 0.2"),
    "wasserstein": _t("> 0.1", "> 0.25"),
    "linf": _t("> 0.1", "> 0.2"),
    "null_rate_delta": _t("> 0.05", "> 0.2"),
    "out_of_range": _t("> 0.02", "> 0.1"),
    "unseen": _t("> 0.01", "> 0.05"),
    "schema_changes": _t(None, "> 0"),
    "row_count_z": _t("abs > 3", "abs > 5"),
    "hours_since_update_z": _t("> 3", "> 5"),
    "failing_rows": _t(None, "> 0"),
}
RELATIVE_PERFORMANCE = {"warn": 0.05, "error": 0.10}  # worse than holdout by this share
# What a drift, prediction drift or quality monitor compares its window with: the rows the
# model version was trained on (profiled at training time), or the first window the monitor
# judged for that version (profiled then, and frozen).
REFERENCES = ("training", "first_window")
DISTRIBUTION_TYPES = ("drift", "prediction_drift", "quality")


def performance_threshold(metric: str, holdout: float | None, higher_is_better: bool) -> Threshold:
    """Warn when ``metric`` is 5% worse than on the holdout at training time, error at 10%."""
    if holdout is None:
        return Threshold()
    if higher_is_better:
        return Threshold(
            Condition("<", holdout * (1 - RELATIVE_PERFORMANCE["warn"])),
            Condition("<", holdout * (1 - RELATIVE_PERFORMANCE["error"])),
        )
    return Threshold(
        Condition(">", holdout * (1 + RELATIVE_PERFORMANCE["warn"])),
        Condition(">", holdout * (1 + RELATIVE_PERFORMANCE["error"])),
    )


@dataclass(frozen=True)
class Performance:
    label: str
    score: str = "score"
    labels: str | None = None  # node name of the labels relation, when apart from the scores
    key: tuple[str, ...] = ()
    prediction: str | None = None
    cutoff: float = 0.5
    bucket: str = "day"
    min_rows: int = 30


@dataclass(frozen=True)
class MonitorSpec:
    """A validated monitor. ``relation`` and ``labels`` are node names (``model`` or
    ``source.table``); ``sql`` is a custom monitor's template, rendered by the compiler."""

    name: str
    type: str
    path: str  # the file it is declared in, relative to the project
    line: int = 0
    owner: str | None = None
    model: str | None = None
    relation: str | None = None
    timestamp: str | None = None
    window: str | None = None
    columns: tuple[str, ...] | None = None
    column: str | None = None
    reference: str = "training"
    metrics: tuple[str, ...] | None = None
    thresholds: Mapping[str, Threshold] = field(default_factory=dict)
    history: int = 28
    min_points: int = 7
    performance: Performance | None = None
    returns: str = "metrics"
    sql: str | None = None
    sql_path: str | None = None
    scored_rows: bool = False  # relation is the model's scoring node: watch the rows it scores
    on_failure: tuple[str, ...] = ("alert",)
    cooldown_hours: float = 24.0
    webhook: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def location(self) -> Location:
        return Location(self.path, self.line)

    def threshold(self, metric: str) -> Threshold:
        """The monitor's own threshold for ``metric``, else the documented default."""
        return self.thresholds.get(metric) or DEFAULT_THRESHOLDS.get(metric) or Threshold()

    @property
    def watches(self) -> tuple[str, ...]:
        """The nodes this monitor reads, so it runs after them."""
        names = [self.relation] if self.relation else []
        if self.performance and self.performance.labels:
            names.append(self.performance.labels)
        return tuple(dict.fromkeys(names))


def load_monitor(
    raw: Any,
    *,
    path: Path,
    display: str,
    key_path: tuple[str | int, ...] = (),
    model: str | None = None,
    owner: str | None = None,
    default_name: str,
    sql: str | None = None,
    sql_path: str | None = None,
    scoring: str | None = None,
) -> MonitorSpec:
    """Validate one monitor declaration (a mapping read from YAML) into a `MonitorSpec`.

    ``key_path`` locates it in its file (e.g. ``("monitors", 0)``) for error messages; ``model``
    and ``owner`` come from the ML spec it is declared in, ``scoring`` is that spec's scores
    table: a drift or quality monitor without ``relation`` then watches the rows the model
    scores (the scoring input with its features, named as in training).
    """
    from sqlml.monitor.monitorfile import MonitorFile
    from sqlml.project.yamlfile import key_location, validate

    file = validate(MonitorFile, raw, path, display, prefix=key_path)
    location = key_location(path, display, key_path)

    def fail(message: str, *keys: str | int, hint: str | None = None) -> ConfigError:
        where = key_location(path, display, (*key_path, *keys)) if keys else location
        return ConfigError(message, node=default_name, location=where, hint=hint)

    name = file.name or default_name
    model = file.model or model
    relation = _reference(file.relation, fail, "relation") if file.relation else None
    scored_rows = relation is None and scoring is not None and file.type in ("drift", "quality")
    if scored_rows:
        relation = scoring
    if file.type in ("drift", "prediction_drift", "quality") and model is None:
        raise fail(
            f"a {file.type} monitor watches an ML model",
            "type",
            hint="declare it in the model's spec (ml/<model>.yml, under monitors:) "
            "or set model: <name>",
        )
    if file.type in ("volume", "freshness") and (relation is None or file.timestamp is None):
        raise fail(
            f"a {file.type} monitor needs relation and timestamp",
            "type",
            hint="e.g. relation: ref('fct_orders') and timestamp: ordered_at",
        )
    if file.reference != "training" and file.type not in DISTRIBUTION_TYPES:
        raise fail(
            f"a {file.type} monitor has no reference profile to choose",
            "reference",
            hint="reference: applies to drift, prediction_drift and quality monitors; remove it",
        )
    if file.type == "performance" and file.performance is None:
        raise fail(
            "a performance monitor needs a performance: section",
            "type",
            hint="e.g. performance: {label: churned, score: probability, key: customer_id}",
        )
    if file.type == "custom" and sql is None:
        raise fail(
            f"a custom monitor needs its SQL in monitors/{name}.sql",
            "type",
            hint="write a query returning (name, value) rows, or failing rows with returns: rows",
        )
    if file.type in ("drift", "prediction_drift", "quality", "performance") and relation is None:
        raise fail(
            f"say which rows the {file.type} monitor watches",
            "type",
            hint="add relation: ref('...') (the rows scored, or the scores with their labels); "
            "in an ML spec with a scoring: section, drift and quality monitors watch the rows "
            "scored without one",
        )
    thresholds = {
        metric: _threshold(value, fail, "thresholds", metric)
        for metric, value in file.thresholds.items()
    }
    performance = None
    if file.performance is not None:
        p = file.performance
        key = (p.key,) if isinstance(p.key, str) else tuple(p.key or ())
        labels = _reference(p.labels, fail, "performance", "labels") if p.labels else None
        if labels is not None and not key:
            raise fail(
                "labels in another relation need a key to join on",
                "performance",
                hint="add key: <column> (or a list of columns)",
            )
        performance = Performance(
            p.label, p.score, labels, key, p.prediction, p.cutoff, p.bucket, p.min_rows
        )
    return MonitorSpec(
        name=name,
        type=file.type,
        path=display,
        line=location.line,
        owner=file.owner or owner,
        model=model,
        relation=relation,
        timestamp=file.timestamp,
        window=_window(file.window, fail) if file.window else None,
        columns=tuple(file.columns) if file.columns is not None else None,
        column=file.column,
        reference=file.reference,
        metrics=tuple(file.metrics) if file.metrics is not None else None,
        thresholds=thresholds,
        history=file.history,
        min_points=file.min_points,
        performance=performance,
        returns=file.returns,
        sql=sql,
        sql_path=sql_path,
        scored_rows=scored_rows,
        on_failure=tuple(file.on_failure),
        cooldown_hours=file.cooldown_hours,
        webhook=file.webhook,
        description=file.description,
        tags=tuple(file.tags),
    )


def _reference(text: str, fail: Callable[..., ConfigError], *keys: str) -> str:
    match = _REFERENCE.match(text)
    if match is None or (match.group(1) == "source") != (match.group(5) is not None):
        raise fail(
            f"cannot read '{text}'",
            *keys,
            hint="write ref('model_name') or source('source_name', 'table_name')",
        )
    if match.group(1) == "source":
        return f"{match.group(3)}.{match.group(5)}"
    return match.group(3)


def _threshold(value: Any, fail: Callable[..., ConfigError], *keys: str) -> Threshold:
    from sqlml.monitor.monitorfile import ThresholdFile

    if not isinstance(value, ThresholdFile):
        return Threshold(None, _level(value, fail, *keys))
    return Threshold(
        _level(value.warn, fail, *keys, "warn"), _level(value.error, fail, *keys, "error")
    )


def _level(
    value: float | str | None, fail: Callable[..., ConfigError], *keys: str
) -> Condition | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return Condition(">", float(value))
    try:
        return _condition(value)
    except ValueError:
        raise fail(
            f"cannot read threshold '{value}'",
            *keys,
            hint="write a number (flagged above it) or e.g. '< 0.7', '>= 3', 'abs > 3'",
        ) from None


_WINDOW = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week|month)s?\s*$")


def _window(text: str, fail: Callable[..., ConfigError]) -> str:
    match = _WINDOW.match(text)
    if match is None:
        raise fail(f"cannot read window '{text}'", "window", hint="write e.g. '1 day' or '7 days'")
    return f"{int(match.group(1))} {match.group(2)}"
