"""Exporting a trained pipeline to ONNX and proving it scores like scikit-learn.

The exported model has one input per feature column, named as the column (``double`` [N, 1]
for numeric columns, ``string`` [N, 1] for categorical ones, fed by `onnx_inputs`), and plain
outputs: ``label`` and ``probabilities`` (double [N, classes], no ZipMap) for a classifier,
``prediction`` (double [N, 1]) for a regressor.

Precision. Preprocessing always runs in double (`sqlml.ml.onnx_convert` gives SimpleImputer a
double converter: skl2onnx's uses the float-only ONNX-ML Imputer). The estimator runs in double
when it can:
tree models through `sqlml.ml.onnx_trees`, the rest through skl2onnx with double inputs
(linear and logistic models, MLP, SVC, k-NN, naive Bayes, ...). Where that fails (e.g.
AdaBoost, Bagging, SVR: float-only ONNX-ML ops), the estimator runs in float32 and the version
must stay within `FLOAT32_TOLERANCES`.

Parity is measured on the holdout: the largest absolute difference of probabilities (or
predictions) and the number of rows whose predicted class differs (rows whose top two classes
tie within the tolerance are not counted: either class is a right answer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlml.errors import TrainingError
from sqlml.ml.features import onnx_inputs
from sqlml.ml.onnx_convert import Precision, convert, first_line
from sqlml.ml.onnx_trees import DOUBLE_TREE_CLASSES
from sqlml.ml.train import TrainedModel


@dataclass(frozen=True)
class Tolerance:
    """How far an export may stray from scikit-learn on the holdout.

    ``max_abs_diff`` bounds probabilities, or regression predictions relative to the largest
    prediction (at least 1) for float32 exports, whose error grows with the values' size.
    """

    max_abs_diff: float
    max_flipped_share: float = 0.0


DOUBLE_TOLERANCE = Tolerance(1e-5, 0.0)
# Estimators whose export runs in float32 (skl2onnx 1.20, onnxruntime 1.32), with what was
# measured on scikit-learn's breast cancer / diabetes data (tests/ml) and the bound accepted.
# Regression bounds are relative to the largest prediction (float32 keeps ~7 digits).
FLOAT32_TOLERANCES: Mapping[str, Tolerance] = {
    "AdaBoostClassifier": Tolerance(1e-5),  # measured 9e-8 in probability, no flips
    "AdaBoostRegressor": Tolerance(1e-6),  # measured 1.3e-5 at predictions up to ~300: 4e-8
    "BaggingRegressor": Tolerance(1e-6),  # measured 1.2e-5 at ~300 (its double export is wrong)
    "SVR": Tolerance(1e-5),  # measured 1.6e-5 (C=1) to 7.7e-5 (C=10) at ~300: 3e-7
    "NuSVR": Tolerance(1e-5),  # measured 1.2e-5 at ~300
}
DEFAULT_FLOAT32_TOLERANCE = Tolerance(1e-4, 0.0)  # any other float32 export


@dataclass(frozen=True)
class Parity:
    """The ONNX model against scikit-learn on the holdout rows."""

    rows: int
    max_abs_diff: float
    flipped_rows: int
    tolerance: Tolerance
    scale: float = 1.0  # what max_abs_diff's tolerance is multiplied by (float32 regression)

    @property
    def flipped_share(self) -> float:
        return self.flipped_rows / self.rows if self.rows else 0.0

    @property
    def passed(self) -> bool:
        return (
            self.max_abs_diff <= self.tolerance.max_abs_diff * self.scale
            and self.flipped_share <= self.tolerance.max_flipped_share
        )


@dataclass(frozen=True)
class ExportResult:
    onnx_bytes: bytes
    sha256: str
    precision: Precision
    parity: Parity
    inputs: tuple[tuple[str, str], ...]  # (column, "double" | "string")
    outputs: tuple[str, ...]
    opset: Mapping[str, int]


def export_onnx(model: TrainedModel, *, tolerance: Tolerance | None = None) -> ExportResult:
    """Convert ``model``'s whole pipeline to ONNX and check it against scikit-learn.

    A double-precision export is tried first; where skl2onnx's double graph cannot be built,
    run, or match scikit-learn, a float32 export is tried next, under `FLOAT32_TOLERANCES`.

    Args:
        model: a trained model (its holdout rows are used for the parity check).
        tolerance: overrides the default tolerance of whichever precision is tried.

    Returns:
        The ONNX bytes, their sha256, the precision used and the parity figures. Raises
        TrainingError naming the step ("onnx export" or "onnx parity") and the figures when no
        export passes.
    """
    name = type(model.estimator).__name__
    precisions: tuple[Precision, ...] = (
        ("double",) if name in DOUBLE_TREE_CLASSES else ("double", "float32")
    )
    failures: list[TrainingError] = []
    for precision in precisions:
        try:
            proto = convert(model, precision)
            onnx_bytes = proto.SerializeToString()
            parity = check_parity(
                model, onnx_bytes, tolerance or default_tolerance(name, precision), precision
            )
        except TrainingError as exc:
            failures.append(exc)
            continue
        return ExportResult(
            onnx_bytes=onnx_bytes,
            sha256=hashlib.sha256(onnx_bytes).hexdigest(),
            precision=precision,
            parity=parity,
            inputs=tuple((f.name, f.onnx_type) for f in model.features),
            outputs=tuple(o.name for o in proto.graph.output),
            opset={o.domain or "ai.onnx": o.version for o in proto.opset_import},
        )
    last = failures[-1]
    if len(failures) > 1:
        first = f"the double-precision export failed first: {failures[0].message}"
        last.hint = f"{last.hint}; {first}" if last.hint else first
    raise last


def default_tolerance(estimator: str, precision: Precision) -> Tolerance:
    """The parity tolerance for an export of ``estimator`` (a class name) in ``precision``."""
    if precision == "double":
        return DOUBLE_TOLERANCE
    return FLOAT32_TOLERANCES.get(estimator, DEFAULT_FLOAT32_TOLERANCE)


def check_parity(
    model: TrainedModel, onnx_bytes: bytes, tolerance: Tolerance, precision: Precision
) -> Parity:
    """Score the holdout with onnxruntime and scikit-learn and compare.

    Raises TrainingError ("onnx parity") with the figures when they exceed ``tolerance``, or
    when onnxruntime cannot run the model.
    """
    import numpy as np

    try:
        session = _session(onnx_bytes)
        names = [o.name for o in session.get_outputs()]
        outputs = dict(zip(names, session.run(None, onnx_inputs(model.holdout)), strict=True))
    except Exception as exc:  # the boundary where onnxruntime's errors become ours
        raise TrainingError(
            f"onnx parity check failed ({precision} export of {type(model.estimator).__name__}):"
            f" onnxruntime cannot run the model: {first_line(exc)}",
            node=model.spec.name,
            location=model.spec.location("estimator", "class"),
        ) from exc
    pipeline, X = model.pipeline, model.holdout
    if model.spec.task == "classification":
        probabilities = np.asarray(pipeline.predict_proba(X), dtype=np.float64)
        diff = _max_diff(outputs["probabilities"], probabilities)
        expected = np.asarray(pipeline.predict(X)).astype(str)
        differs = np.asarray(outputs["label"]).astype(str).ravel() != expected
        # A row whose top two classes tie (within the tolerance) has no wrong answer: e.g. a
        # forest whose trees split evenly; scikit-learn and onnxruntime break ties differently.
        top = np.sort(probabilities, axis=1)
        tied = (top[:, -1] - top[:, -2] <= tolerance.max_abs_diff) if top.shape[1] > 1 else False
        flips = int(np.sum(differs & ~tied))
        scale = 1.0
        what = "probabilities"
    else:
        predicted = pipeline.predict(X)
        diff = _max_diff(outputs["prediction"].ravel(), predicted)
        flips = 0
        scale = 1.0 if precision == "double" else max(1.0, float(np.max(np.abs(predicted))))
        what = "predictions"
    parity = Parity(X.num_rows, diff, flips, tolerance, scale)
    if not parity.passed:
        spec = model.spec
        flipped = (
            f"; {flips} of {parity.rows} holdout rows change class (tolerance "
            f"{tolerance.max_flipped_share:.3g} of rows)"
            if model.spec.task == "classification"
            else ""
        )
        raise TrainingError(
            f"onnx parity check failed ({precision} export of "
            f"{type(model.estimator).__name__}): {what} differ from scikit-learn by up to "
            f"{diff:.3g} (tolerance {tolerance.max_abs_diff * scale:.3g}){flipped}",
            node=spec.name,
            location=spec.location("estimator", "class"),
            hint="the model was not accepted; an estimator with a double-precision export "
            "(tree ensembles, linear models) avoids float32 rounding",
        )
    return parity


def _max_diff(a: Any, b: Any) -> float:
    import numpy as np

    difference = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    if difference.size == 0:
        return 0.0
    return float("inf") if np.isnan(difference).any() else float(difference.max())


def _session(onnx_bytes: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4  # failures come back as exceptions; do not also log them
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
