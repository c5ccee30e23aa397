"""A training node at run time: train only when the data or spec changed, then export, register
and decide promotion.

1. The training data's fingerprint is computed in the warehouse: row count, the sum of every
   row's hash, and the column names and types. With the spec fingerprint (spec, training query,
   sqlml version: the node's compiled fingerprint) it is compared with the newest registered
   version; equal means nothing to do (and no scikit-learn import), unless the step is forced
   (``sqlml train``, ``--retrain``).
2. The spec is checked (estimator importable and exportable, metrics known) before any data
   moves; then the rows come out through Arrow, the model is trained (`sqlml.ml.train`) and
   exported to ONNX with its parity check (`sqlml.ml.onnx_export`), and a new immutable
   version is registered.
3. The version becomes ``champion`` if its gates pass and it is not worse than the champion on
   the primary metric over the same holdout rows; a version that passes its gates but loses
   becomes ``challenger``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlml.engine.base import Engine
from sqlml.errors import ScoringError
from sqlml.ml.evaluate import greater_is_better
from sqlml.ml.features import target_values
from sqlml.ml.onnx_export import ExportResult, export_onnx
from sqlml.ml.promotion import OnnxModel, decide_promotion, features_from_signature, onnx_metric
from sqlml.ml.registry import (
    ModelVersion,
    alias_version,
    latest_version,
    load_onnx,
    promote,
    register_version,
    show_model,
)
from sqlml.ml.split import split_rows
from sqlml.ml.train import TrainedModel, train
from sqlml.ml.validate import check_spec
from sqlml.plan.types import Step

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlml.compiler.mlnodes import TrainingSpec


@dataclass(frozen=True)
class TrainingOutcome:
    """What one training step did: the training rows, and "warn" when the new version did
    not become champion."""

    rows: int
    status: str
    message: str


def train_step(
    engine: Engine,
    step: Step,
    *,
    state_schema: str,
    run_id: str | None,
    training_lock: threading.Lock,
) -> TrainingOutcome:
    """Run one training step; see the module's docstring. Raises ConfigError/TrainingError
    (naming the spec file and key) when the spec or the data is unfit.

    ``training_lock`` is held while a model trains: scikit-learn's warnings are caught
    process-wide, and each fit may use every core already.
    """
    training: TrainingSpec = step.spec
    spec = training.spec
    data_fp, rows = data_fingerprint(engine, step.sql)
    schema = state_schema
    latest = latest_version(engine, schema, spec.name)
    if (
        not step.force
        and latest is not None
        and latest.spec_fingerprint == step.fingerprint
        and latest.data_fingerprint == data_fp
    ):
        return TrainingOutcome(
            rows,
            "success",
            f"unchanged: version {latest.version} was trained on the same data and spec; "
            f"not retrained (sqlml train {spec.name} forces it)",
        )
    check_spec(spec)  # milliseconds once scikit-learn is imported; before any data moves
    with training_lock:
        table = engine.arrow(step.sql)
        model = train(spec, table)
        export = export_onnx(model)
        champion, note = champion_metric(engine, schema, model, table)
    version = register_version(
        engine,
        schema,
        model=spec.name,
        owner=spec.owner,
        onnx=export.onnx_bytes,
        spec_fingerprint=step.fingerprint,
        data_fingerprint=data_fp,
        params=model.params,
        metrics=model.metrics,
        cv_metrics={
            n: {"mean": s.mean, "std": s.std, "folds": list(s.folds)}
            for n, s in model.cv_metrics.items()
        },
        importance={i.feature: {"mean": i.mean, "std": i.std} for i in model.importance},
        parity=_parity(export),
        run_id=run_id,
        signature=signature(model, export, training),
    )
    profile_version(engine, schema, model, table, version.version, run_id)
    metric = spec.primary_metric
    promoted, reason = decide_promotion(
        model.metrics,
        champion,
        metric=metric,
        higher_is_better=greater_is_better(metric),
        gates_passed=model.passed,
    )
    if note:
        reason = f"{reason}; {note}"
    if promoted or model.passed:
        alias = "champion" if promoted else "challenger"
        promote(engine, schema, spec.name, version.version, alias=alias, reason=reason,
                run_id=run_id)  # fmt: skip
    failed = [str(g) for g in model.gates if not g.passed]
    figures = (
        f"{metric} {model.metrics[metric]:.4g} on {model.holdout.num_rows} holdout rows, "
        f"onnx parity {export.parity.max_abs_diff:.1e} ({export.precision})"
    )
    message = f"version {version.version}: {figures}; {reason}"
    if failed:
        message += f" (failed gates: {', '.join(failed)})"
    return TrainingOutcome(rows, "success" if promoted else "warn", message)


def profile_version(
    engine: Engine,
    schema: str,
    model: TrainedModel,
    table: pa.Table,
    version: int,
    run_id: str | None,
) -> None:
    """Freeze the reference profile of a new version: its features on every training row,
    and its prediction there (the positive class's probability, or the predicted value)."""
    from sqlml.ml.features import prepare_features
    from sqlml.monitor.profile import profile_training

    X = prepare_features(table, model.features)
    if model.spec.task == "classification" and len(model.classes) == 2:
        predictions = model.pipeline.predict_proba(X)[:, 1]
    elif model.spec.task == "regression":
        predictions = model.pipeline.predict(X)
    else:
        predictions = None  # several classes: no single number to profile
    profile_training(
        engine, schema, model=model.spec.name, version=version, table=table,
        features=[(f.name, f.kind) for f in model.features], predictions=predictions,
        run_id=run_id,
    )  # fmt: skip


def data_fingerprint(engine: Engine, sql: str) -> tuple[str, int]:
    """sha256 of the query's column names and types, row count and sum of row hashes (any row
    order gives the same), computed in the warehouse; and the row count."""
    schema = engine.arrow(f"select * from (\n{sql}\n) as t limit 0").schema
    count, total = engine.execute(
        f"select count(*), coalesce(sum(hash(t)), 0)::varchar from (\n{sql}\n) as t"
    )[0]
    described = [(f.name, str(f.type)) for f in schema]
    payload = repr((described, int(count), str(total)))
    return hashlib.sha256(payload.encode()).hexdigest(), int(count)


def champion_metric(
    engine: Engine, schema: str, model: TrainedModel, table: pa.Table
) -> tuple[Mapping[str, float] | None, str | None]:
    """The champion's primary metric on ``model``'s holdout rows, scored by its ONNX model.

    Returns ``(None, None)`` when there is no champion, and ``({}, why)`` when it cannot be
    scored on these rows (it reads a column that is gone, or its bytes fail verification).
    """
    spec = model.spec
    number = alias_version(engine, schema, spec.name, "champion")
    if number is None:
        return None, None
    try:
        onnx = load_onnx(engine, schema, spec.name, number)
    except ScoringError as exc:
        return {}, f"the champion (version {number}) cannot be loaded: {exc.message}"
    version: ModelVersion = next(
        v for v in show_model(engine, schema, spec.name).versions if v.version == number
    )
    champion = OnnxModel(onnx, features_from_signature(version.signature) or None)
    missing = [f.name for f in champion.features if f.name not in table.column_names]
    if missing:
        return {}, (
            f"the champion (version {number}) reads column '{missing[0]}', which the training "
            "data no longer has"
        )
    y = target_values(table, spec.target, spec.task)
    holdout = table.take(split_rows(spec, table, y).holdout)
    classes = version.signature.get("classes") or list(model.classes)
    metric = spec.primary_metric
    try:
        value = onnx_metric(champion, holdout, model.holdout_target, metric, spec.task, classes)
    except Exception as exc:  # the champion's model or metric failed: it cannot be compared
        return {}, f"the champion (version {number}) cannot be scored on this holdout: {exc}"
    return {metric: value}, None


def signature(model: TrainedModel, export: ExportResult, training: TrainingSpec) -> dict[str, Any]:
    """How to feed and read a version's ONNX model, stored with it."""
    spec = model.spec
    return {
        "task": spec.task,
        "target": spec.target,
        "estimator": spec.estimator_class,
        "features": [
            {"name": f.name, "kind": f.kind, "arrow_type": f.arrow_type} for f in model.features
        ],
        "classes": list(model.classes),
        "outputs": list(export.outputs),
        "precision": export.precision,
        "opset": dict(export.opset),
        "keys": list(training.keys),
        "feature_views": [v.name for v in training.views],
    }


def _parity(export: ExportResult) -> dict[str, Any]:
    parity = export.parity
    return {
        "rows": parity.rows,
        "max_abs_diff": parity.max_abs_diff,
        "flipped_rows": parity.flipped_rows,
        "flipped_share": parity.flipped_share,
        "tolerance": parity.tolerance.max_abs_diff * parity.scale,
        "precision": export.precision,
    }
