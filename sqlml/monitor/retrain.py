"""Retraining asked for by monitors: which models to retrain, and recording what came of it.

A failing monitor with ``on_failure: [retrain]`` records a ``requested`` row in
``retrain_events`` (see `sqlml.monitor.run`). With ``monitoring.retrain: same_run`` the run
retrains those models right after its monitors; with ``next_run`` the next ``sqlml run`` or
``build`` does, before its monitors. Either way the training node runs forced, so the new
version goes through the spec's gates and the champion comparison of the registry: a worse
model is registered but never becomes champion. The outcome is appended as ``promoted``,
``not_promoted`` or ``failed``, with the versions before and after.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlml.engine.base import Engine
from sqlml.monitor.history import record_retrain
from sqlml.monitor.sqltext import quote


@dataclass(frozen=True)
class Request:
    model: str
    monitor: str
    version_before: int | None


def open_requests(engine: Engine, schema: str, run_id: str | None = None) -> list[Request]:
    """Requests made in run ``run_id``; with None, every model whose latest event is a
    request not yet acted on (what ``next_run`` picks up)."""
    if (schema.lower(), "retrain_events") not in engine.relations():
        return []
    s = quote(schema)
    if run_id is not None:
        rows = engine.execute(
            f"select model, arg_min(monitor, requested_at), arg_min(version_before, requested_at) "
            f"from {s}.retrain_events where run_id = ? and decision = 'requested' "
            "group by model order by model",
            [run_id],
        )
    else:
        rows = engine.execute(
            f"select model, arg_max(monitor, requested_at), arg_max(version_before, requested_at) "
            f"from {s}.retrain_events group by model "
            "having arg_max(decision, requested_at) = 'requested' order by model"
        )
    return [Request(str(m), str(monitor), v) for m, monitor, v in rows]


def record_outcome(
    engine: Engine,
    schema: str,
    request: Request,
    *,
    run_id: str,
    status: str,
    message: str | None,
) -> str:
    """Append what the forced training of ``request.model`` did; returns the decision.

    ``status`` is the training node's: ``success`` (the new version became champion), ``warn``
    (registered, not promoted) or ``error``/``skipped`` (no new version).
    """
    after, champion = _versions(engine, schema, request.model)
    if status in ("error", "skipped"):
        decision, promoted = "failed", None
    else:
        promoted = after is not None and after == champion and after != request.version_before
        decision = "promoted" if promoted else "not_promoted"
    record_retrain(
        engine, schema, run_id=run_id, model=request.model, monitor=request.monitor,
        decision=decision, version_before=request.version_before,
        version_after=after if decision != "failed" else None, promoted=promoted,
        reason=message,
    )  # fmt: skip
    return decision


def _versions(engine: Engine, schema: str, model: str) -> tuple[int | None, int | None]:
    """The model's newest version and its champion's."""
    if (schema.lower(), "model_versions") not in engine.relations():
        return None, None
    s = quote(schema)
    (latest,) = engine.execute(
        f"select max(version) from {s}.model_versions where model = ?", [model]
    )[0]
    rows = engine.execute(
        f"select version from {s}.model_aliases where model = ? and alias = 'champion'", [model]
    )
    return latest, rows[0][0] if rows else None
