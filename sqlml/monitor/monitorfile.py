"""Pydantic models of a monitor as written in YAML: in an ML spec's ``monitors:`` list, or in a
``monitors/<name>.yml`` file. Only for validation; `sqlml.monitor.spec` holds what the rest uses.
Loaded lazily, so importing `sqlml.monitor` stays cheap.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MonitorType = Literal[
    "drift", "prediction_drift", "quality", "performance", "volume", "freshness", "custom"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ThresholdFile(_Strict):
    """``warn``/``error`` as a number (flagged when the value is above it) or a comparison
    such as ``"< 0.7"``."""

    warn: float | str | None = None
    error: float | str | None = None


class PerformanceFile(_Strict):
    labels: str | None = None  # ref('...') holding the labels, joined on `key`; default: relation
    key: list[str] | str | None = None
    label: str  # the label column
    score: str = "score"  # probability of the positive class, or the predicted value
    prediction: str | None = None  # the predicted class; default: score >= cutoff
    cutoff: float = 0.5
    bucket: Literal["hour", "day", "week", "month"] = "day"
    min_rows: int = Field(default=30, ge=1)


class MonitorFile(_Strict):
    type: MonitorType
    name: str | None = None  # default: <model>_<type>, or the file's name
    description: str | None = None
    owner: str | None = None  # default: the model's owner
    model: str | None = None  # the ML model it watches (set for monitors in an ML spec)
    relation: str | None = None  # ref('...') or source('...', '...'): the rows watched
    timestamp: str | None = None  # the column that places rows in time
    window: str | None = None  # the latest window tested, e.g. "1 day"; default all rows
    columns: list[str] | None = None  # drift/quality: default every profiled feature
    # drift/prediction_drift/quality: what the window is compared with (see docs/monitoring.md)
    reference: Literal["training", "first_window"] = "training"
    column: str | None = None  # prediction_drift: the prediction column of `relation`
    metrics: list[str] | None = None
    thresholds: dict[str, ThresholdFile | float | str] = {}
    history: int = Field(default=28, ge=2)  # volume/freshness: baseline days
    min_points: int = Field(default=7, ge=1)
    performance: PerformanceFile | None = None
    returns: Literal["metrics", "rows"] = "metrics"  # custom: what the SQL returns
    on_failure: list[Literal["alert", "retrain"]] = ["alert"]
    cooldown_hours: float = Field(default=24, ge=0)
    webhook: str | None = None  # URL; default: project.yml monitoring.webhook
    tags: list[str] = []
