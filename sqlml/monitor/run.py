"""Running one monitor: compute, judge, record, alert, and ask for retraining.

`run_monitor` is what a ``monitor`` node does in a run and what ``sqlml monitor`` does per
monitor. Its status is the worst of its figures: ``error`` > ``warn`` > ``pass``; ``skipped``
when nothing could be judged (no rows in the window, too little history), ``failed`` when the
monitor itself could not run (a missing column, a broken custom query).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlml.engine.base import Engine
from sqlml.errors import SqlmlError
from sqlml.monitor.actions import in_cooldown, post_webhook
from sqlml.monitor.checks import CHECKS, Checked, MonitorEnv, Watched
from sqlml.monitor.history import (
    MetricResult,
    last_retrain,
    record_alert,
    record_results,
    record_retrain,
)
from sqlml.monitor.spec import MonitorSpec, Threshold
from sqlml.monitor.sqltext import quote

SEVERITY = {"pass": 0, "skipped": 0, "warn": 1, "error": 2, "failed": 2}
FAIL_ON = ("error", "warn", "never")


@dataclass(frozen=True)
class MonitorSettings:
    """Project-wide monitoring settings (``monitoring:`` in project.yml).

    ``fail_on``: the monitor status that fails the node and the command's exit code (``error``,
    ``warn`` or ``never``). ``retrain``: ``same_run`` retrains right after the monitors of the
    run; ``next_run`` leaves the request for the next ``sqlml run``.
    """

    webhook: str | None = None
    fail_on: str = "error"
    retrain: str = "same_run"


@dataclass(frozen=True)
class MonitorResult:
    monitor: MonitorSpec
    status: str
    metrics: tuple[MetricResult, ...] = ()
    model: str | None = None
    version: int | None = None
    message: str | None = None
    alert: str | None = None  # the webhook's answer, when an alert was sent
    retrain: str | None = None  # requested, cooldown
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def flagged(self) -> tuple[MetricResult, ...]:
        return tuple(m for m in self.metrics if m.status in ("warn", "error"))

    def fails(self, fail_on: str) -> bool:
        """Whether this result fails the run under ``fail_on``."""
        if fail_on == "never":
            return False
        return SEVERITY[self.status] >= SEVERITY[fail_on]

    def summary(self) -> str:
        """One line: the status and the worst figures."""
        if self.message and not self.flagged:
            return self.message
        worst = sorted(self.flagged, key=lambda m: -SEVERITY[m.status])[:3]
        parts = [
            f"{m.metric}{f'[{m.column}]' if m.column else ''}={_fmt(m.value)} ({m.status} "
            f"{m.threshold.error if m.status == 'error' else m.threshold.warn})"
            for m in worst
        ]
        more = len(self.flagged) - len(worst)
        text = "; ".join(parts) + (f"; {more} more" if more > 0 else "")
        return text or f"{len(self.metrics)} figures within thresholds"


def watched_version(engine: Engine, schema: str, model: str | None) -> Watched:
    """The version a model's monitors judge: its champion, else its newest version; without a
    registry, the newest profiled version."""
    from sqlml.monitor.profile import profile_versions

    if model is None:
        return Watched(None)
    if (schema.lower(), "model_versions") not in engine.relations():
        profiled = profile_versions(engine, schema, model)
        return Watched(model, profiled[-1] if profiled else None)
    s = quote(schema)
    rows = engine.execute(
        f"select v.version, v.metrics from {s}.model_versions v "
        f"left join {s}.model_aliases a on a.model = v.model and a.alias = 'champion' "
        "where v.model = ? order by (a.version = v.version) desc nulls last, v.version desc "
        "limit 1",
        [model],
    )
    if not rows:
        return Watched(model)
    import json

    version, metrics = rows[0]
    holdout = json.loads(metrics or "{}")
    classification = {"roc_auc", "accuracy", "f1", "log_loss"} & set(holdout)
    task = "classification" if classification else "regression"
    return Watched(model, int(version), task, holdout)


def run_monitor(
    env: MonitorEnv, monitor: MonitorSpec, settings: MonitorSettings = MonitorSettings()
) -> MonitorResult:
    """Compute and judge ``monitor``, append the figures to the history, send the alert and
    record a retraining request when it asks for one. Never raises for a monitor's own failure:
    that is its ``failed`` status, recorded too."""
    watched = watched_version(env.engine, env.state_schema, monitor.model)
    try:
        checked = CHECKS[monitor.type](env, monitor, watched)
        status = _status(checked)
        message = None if status != "skipped" else _skip_reason(checked)
    except SqlmlError as exc:
        failure = MetricResult("monitor_failed", None, "failed", Threshold(), message=exc.message)
        checked, status, message = Checked((failure,)), "failed", exc.render()
    record_results(
        env.engine,
        env.state_schema,
        run_id=env.run_id,
        monitor=monitor.name,
        monitor_type=monitor.type,
        model=watched.model,
        version=watched.version,
        relation=checked.relation or monitor.relation,
        metrics=checked.metrics,
        drifts=checked.drifts,
    )
    result = MonitorResult(
        monitor, status, checked.metrics, watched.model, watched.version, message
    )
    if status in ("warn", "error", "failed") and "alert" in monitor.on_failure:
        result = _alert(env, result, settings)
    if status == "error" and "retrain" in monitor.on_failure and watched.model:
        result = _request_retrain(env, result)
    return result


def _alert(env: MonitorEnv, result: MonitorResult, settings: MonitorSettings) -> MonitorResult:
    monitor = result.monitor
    alert_id = uuid.uuid4().hex
    severity = "error" if result.status in ("error", "failed") else "warn"
    message = f"monitor '{monitor.name}' {result.status}: {result.summary()}"
    metrics = [
        {
            "metric": m.metric,
            "column": m.column,
            "value": m.value,
            "threshold": str(m.threshold) or None,
            "status": m.status,
        }
        for m in result.flagged
    ]
    payload = {
        "event": "sqlml.monitor.alert",
        "alert_id": alert_id,
        "run_id": env.run_id,
        "monitor": monitor.name,
        "type": monitor.type,
        "severity": severity,
        "model": result.model,
        "version": result.version,
        "owner": monitor.owner,
        "relation": monitor.relation,
        "message": message,
        "metrics": metrics,
    }
    webhook = monitor.webhook or settings.webhook
    answer = post_webhook(webhook, payload) if webhook else None
    record_alert(
        env.engine,
        env.state_schema,
        alert_id=alert_id,
        run_id=env.run_id,
        monitor=monitor.name,
        model=result.model,
        version=result.version,
        relation=monitor.relation,
        owner=monitor.owner,
        severity=severity,
        message=message,
        details=metrics,
        webhook=webhook,
        webhook_status=answer,
    )
    return MonitorResult(
        monitor, result.status, result.metrics, result.model, result.version, result.message,
        answer or "recorded", result.retrain,
    )  # fmt: skip


def _request_retrain(env: MonitorEnv, result: MonitorResult) -> MonitorResult:
    monitor, model = result.monitor, result.model
    assert model is not None
    last = last_retrain(env.engine, env.state_schema, model)
    if last is not None and in_cooldown(last[0], monitor.cooldown_hours, env.as_of):
        decision = "cooldown"
        reason = f"retrained or requested at {last[0]:%Y-%m-%d %H:%M} UTC, within the "
        reason += f"{monitor.cooldown_hours:g} h cooldown"
    else:
        decision, reason = "requested", f"monitor '{monitor.name}' failed: {result.summary()}"
    record_retrain(
        env.engine, env.state_schema, run_id=env.run_id, model=model, monitor=monitor.name,
        decision=decision, version_before=result.version, reason=reason,
    )  # fmt: skip
    return MonitorResult(
        monitor, result.status, result.metrics, result.model, result.version, result.message,
        result.alert, decision,
    )  # fmt: skip


def _status(checked: Checked) -> str:
    judged = [m.status for m in checked.metrics if m.status != "skipped"]
    if not judged:
        return "skipped"
    return max(judged, key=lambda s: SEVERITY[s])


def _skip_reason(checked: Checked) -> str:
    reasons = {m.message for m in checked.metrics if m.message}
    return "; ".join(sorted(reasons)) or "nothing to judge"


def _fmt(value: float | None) -> str:
    return "NULL" if value is None else f"{value:.4g}"
