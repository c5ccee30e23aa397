"""Deciding whether a new version becomes champion, and scoring with a registered ONNX model.

A new version becomes champion when its gates pass and, where a champion exists, it is not
worse than the champion on the primary metric measured on the *same* holdout rows: the
champion's ONNX model scores the new version's holdout here (`champion_metrics`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlml.engine.base import Engine
from sqlml.ml.features import FeatureColumn, onnx_inputs, prepare_features
from sqlml.ml.registry import ModelVersion, load_onnx, show_model

if TYPE_CHECKING:
    import pyarrow as pa


def decide_promotion(
    candidate_metrics: Mapping[str, Any],
    champion_metrics: Mapping[str, Any] | None,
    *,
    metric: str,
    higher_is_better: bool,
    gates_passed: bool,
) -> tuple[bool, str]:
    """Whether a new version should become champion, and why, in one sentence.

    It should when its gates pass and either there is no champion or it is not worse than the
    champion on ``metric`` (equal is not worse). Pass the champion's figures on the same holdout
    as the candidate's for a fair comparison. A champion without a usable value for ``metric``
    cannot be compared and is replaced.
    """
    if not gates_passed:
        return False, "not promoted: the candidate failed its gates"
    new = _number(candidate_metrics.get(metric))
    if new is None:
        return False, f"not promoted: the candidate has no value for holdout metric '{metric}'"
    if champion_metrics is None:
        return True, f"promoted: no champion yet ({metric} {new:.6g})"
    old = _number(champion_metrics.get(metric))
    if old is None:
        return True, f"promoted: the champion has no '{metric}' to compare ({metric} {new:.6g})"
    better = new >= old if higher_is_better else new <= old
    direction = "higher" if higher_is_better else "lower"
    verdict = "promoted: not worse than" if better else "not promoted: worse than"
    figures = f"{new:.6g} vs {old:.6g}, {direction} is better"
    return better, f"{verdict} the champion on {metric} ({figures})"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        return None
    return float(value)


class OnnxModel:
    """A registered model's ONNX bytes, ready to score Arrow tables of raw feature columns.

    Args:
        onnx_bytes: the model (load them with `sqlml.ml.registry.load_onnx`, which verifies
            their sha256).
        features: the feature columns, as in the version's signature; default: read off the
            model's inputs (``double`` inputs are numeric, ``string`` ones categorical).
    """

    def __init__(self, onnx_bytes: bytes, features: Sequence[FeatureColumn] | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 4  # failures come back as exceptions
        self.session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        self.features = tuple(features) if features else onnx_features(self.session)
        self.outputs = tuple(o.name for o in self.session.get_outputs())

    def run(self, table: pa.Table) -> dict[str, Any]:
        """Score ``table`` (it must hold every feature column, any type the model was trained
        on): ``label`` and ``probabilities`` for a classifier, ``prediction`` for a regressor."""
        prepared = prepare_features(table, self.features)
        values = self.session.run(None, onnx_inputs(prepared))
        return dict(zip(self.outputs, values, strict=True))


def onnx_features(session: Any) -> tuple[FeatureColumn, ...]:
    """The feature columns an ONNX session takes, by its inputs' names and types."""
    return tuple(
        FeatureColumn(i.name, "numeric" if i.type == "tensor(double)" else "categorical", "")
        for i in session.get_inputs()
    )


def features_from_signature(signature: Mapping[str, Any]) -> tuple[FeatureColumn, ...]:
    """The feature columns stored in a version's signature (empty for an old version)."""
    return tuple(
        FeatureColumn(f["name"], f["kind"], f.get("arrow_type", ""))
        for f in signature.get("features", ())
    )


def onnx_metric(
    model: OnnxModel, table: pa.Table, y: Any, metric: str, task: str, classes: Sequence[Any]
) -> float:
    """Metric ``metric`` (a spec metric name) of the ONNX model on ``table`` against ``y``."""
    from sqlml.ml.evaluate import scorer

    return scorer(metric)(_estimator(model, task, classes), table, y)


def _estimator(model: OnnxModel, task: str, classes: Sequence[Any]) -> Any:
    """The ONNX model behind scikit-learn's estimator interface, so metrics are computed by the
    same scorers as training's."""
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

    class Classifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
        def __init__(self) -> None:
            self.classes_ = np.asarray(list(classes))

        def predict_proba(self, X: Any) -> Any:
            return np.asarray(model.run(X)["probabilities"], dtype=np.float64)

        def predict(self, X: Any) -> Any:
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    class Regressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
        def __init__(self) -> None:
            self.fitted_ = True

        def predict(self, X: Any) -> Any:
            return np.asarray(model.run(X)["prediction"], dtype=np.float64).ravel()

    return Classifier() if task == "classification" else Regressor()


@dataclass(frozen=True)
class LoadedModel:
    """A registered version with its verified ONNX bytes and the feature columns it reads.

    ``version.signature`` also holds the task, classes, outputs and, for a model trained on a
    spine, its entity keys and feature views.
    """

    version: ModelVersion
    onnx: bytes
    features: tuple[FeatureColumn, ...]

    @classmethod
    def load(
        cls, engine: Engine, schema: str, model: str, version_or_alias: int | str = "champion"
    ) -> LoadedModel:
        """Load ``model`` at a version number or alias; ScoringError if missing or tampered."""
        onnx = load_onnx(engine, schema, model, version_or_alias)
        detail = show_model(engine, schema, model)
        key = str(version_or_alias)
        number = detail.aliases[key] if key in detail.aliases else int(key)
        version = next(v for v in detail.versions if v.version == number)
        features = features_from_signature(version.signature)
        return cls(version, onnx, features or onnx_features(OnnxModel(onnx).session))

    def scorer(self) -> OnnxModel:
        """An onnxruntime session over this version, to score Arrow tables."""
        return OnnxModel(self.onnx, self.features)
