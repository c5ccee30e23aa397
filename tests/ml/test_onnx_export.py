"""ONNX export of whole pipelines, checked against scikit-learn on the holdout: the precision
used, the parity figures, and the errors that reject a version."""

from __future__ import annotations

import re
from pathlib import Path

import onnxruntime as ort
import pyarrow as pa
import pytest

from sqlml.errors import TrainingError
from sqlml.ml.features import onnx_inputs
from sqlml.ml.onnx_export import (
    DOUBLE_TOLERANCE,
    FLOAT32_TOLERANCES,
    Parity,
    Tolerance,
    export_onnx,
)
from sqlml.ml.train import TrainedModel, train
from tests.ml.helpers import spec_text, trained, write_spec

# (data set, estimator under sklearn., parameters): each must export in double precision
DOUBLE_CASES = [
    ("breast_cancer", "linear_model.LogisticRegression", "{max_iter: 1000}"),
    ("breast_cancer", "ensemble.RandomForestClassifier", "{n_estimators: 25, random_state: 0}"),
    ("breast_cancer", "ensemble.HistGradientBoostingClassifier", "{max_iter: 30, random_state: 0}"),
    ("breast_cancer", "ensemble.GradientBoostingClassifier", "{n_estimators: 30, random_state: 0}"),
    (
        "breast_cancer",
        "ensemble.GradientBoostingClassifier",
        "{n_estimators: 20, loss: exponential}",
    ),
    ("breast_cancer", "tree.DecisionTreeClassifier", "{random_state: 0}"),
    ("breast_cancer", "ensemble.ExtraTreesClassifier", "{n_estimators: 10, random_state: 0}"),
    ("breast_cancer", "neural_network.MLPClassifier", "{hidden_layer_sizes: [8], random_state: 0}"),
    ("diabetes", "linear_model.Ridge", "{}"),
    ("diabetes", "linear_model.LinearRegression", "{}"),
    ("diabetes", "ensemble.RandomForestRegressor", "{n_estimators: 25, random_state: 0}"),
    ("diabetes", "ensemble.HistGradientBoostingRegressor", "{max_iter: 30, random_state: 0}"),
    ("diabetes", "ensemble.HistGradientBoostingRegressor", "{max_iter: 30, loss: poisson}"),
    ("diabetes", "ensemble.GradientBoostingRegressor", "{n_estimators: 30, random_state: 0}"),
    ("iris", "linear_model.LogisticRegression", "{max_iter: 1000}"),
    ("iris", "ensemble.RandomForestClassifier", "{n_estimators: 10, random_state: 0}"),
    ("iris", "ensemble.HistGradientBoostingClassifier", "{max_iter: 20}"),
    ("iris", "ensemble.GradientBoostingClassifier", "{n_estimators: 10, random_state: 0}"),
]
IRIS_METRICS = "metrics: [accuracy, f1_macro]\n"


def _model(data: str, estimator: str, params: str) -> TrainedModel:
    return trained(data, f"sklearn.{estimator}", params, IRIS_METRICS if data == "iris" else "")


@pytest.mark.parametrize(("data", "estimator", "params"), DOUBLE_CASES)
def test_double_precision_exports_match_scikit_learn(
    data: str, estimator: str, params: str
) -> None:
    result = export_onnx(_model(data, estimator, params))

    assert result.precision == "double"
    assert result.parity.tolerance == DOUBLE_TOLERANCE
    assert result.parity.max_abs_diff <= 1e-9  # measured: 0 to 1e-12
    assert result.parity.flipped_rows == 0
    assert result.parity.passed


def test_string_class_labels() -> None:
    model = _model("iris", "ensemble.HistGradientBoostingClassifier", "{max_iter: 20}")
    result = export_onnx(model)
    session = ort.InferenceSession(result.onnx_bytes, providers=["CPUExecutionProvider"])
    label, probabilities = session.run(None, onnx_inputs(model.holdout))

    assert model.classes == ("setosa", "versicolor", "virginica")
    assert set(label.tolist()) <= set(model.classes)
    assert probabilities.shape == (model.holdout.num_rows, 3)
    assert model.metrics["accuracy"] > 0.9


def test_float32_fallback_stays_within_its_tolerance() -> None:
    model = trained(
        "breast_cancer",
        "sklearn.ensemble.AdaBoostClassifier",
        "{n_estimators: 10, random_state: 0}",
    )
    result = export_onnx(model)

    assert result.precision == "float32"
    assert result.parity.tolerance == FLOAT32_TOLERANCES["AdaBoostClassifier"]
    assert 0 < result.parity.max_abs_diff <= 1e-5
    assert result.parity.flipped_rows == 0


def test_float32_regression_tolerance_scales_with_the_predictions() -> None:
    model = trained("diabetes", "sklearn.svm.SVR", "{C: 10}")
    result = export_onnx(model)

    assert result.precision == "float32"
    assert result.parity.scale > 100  # disease progression runs to about 300
    assert result.parity.max_abs_diff <= result.parity.tolerance.max_abs_diff * result.parity.scale


def test_parity_outside_the_tolerance_rejects_the_version() -> None:
    model = trained(
        "breast_cancer",
        "sklearn.ensemble.AdaBoostClassifier",
        "{n_estimators: 10, random_state: 0}",
    )
    with pytest.raises(TrainingError) as caught:
        export_onnx(model, tolerance=Tolerance(1e-12))

    assert caught.value.location is not None and caught.value.location.line == 6
    pattern = (
        r"onnx parity check failed \(float32 export of AdaBoostClassifier\): probabilities "
        r"differ from scikit-learn by up to \S+ \(tolerance 1e-12\); 0 of 114 holdout rows "
        r"change class \(tolerance 0 of rows\)"
    )
    assert re.fullmatch(pattern, caught.value.message)
    assert (
        "the double-precision export failed first: onnx parity check failed (double export of "
        "AdaBoostClassifier): onnxruntime cannot run the model: "
    ) in (caught.value.hint or "")


def test_flipped_classes_count_against_the_tolerance() -> None:
    strict, lenient = Tolerance(1e-5), Tolerance(1e-5, max_flipped_share=0.02)

    assert not Parity(rows=100, max_abs_diff=0.0, flipped_rows=1, tolerance=strict).passed
    assert Parity(rows=100, max_abs_diff=0.0, flipped_rows=1, tolerance=lenient).passed
    assert not Parity(rows=100, max_abs_diff=2e-5, flipped_rows=0, tolerance=lenient).passed
    assert Parity(rows=100, max_abs_diff=2e-5, flipped_rows=0, tolerance=strict, scale=3).passed


def test_a_failed_conversion_names_the_step(tmp_path: Path) -> None:
    text = spec_text("classification", "sklearn.gaussian_process.GaussianProcessClassifier")
    model = train(write_spec(tmp_path, text), _small_breast_cancer())
    with pytest.raises(TrainingError) as caught:
        export_onnx(model)

    assert caught.value.render() == (
        "ml/model.yml:6:3: onnx export failed (float32) for GaussianProcessClassifier: "
        "Unsupported opset-version.\n"
        "hint: every model is exported to ONNX; pick an estimator and parameters skl2onnx can "
        "convert; the double-precision export failed first: onnx export failed (double) for "
        "GaussianProcessClassifier: Unsupported opset-version."
    )


def _small_breast_cancer() -> pa.Table:
    from tests.ml.helpers import breast_cancer

    return breast_cancer().slice(0, 120).select(["mean_radius", "mean_texture", "target"])


def test_regression_parity_failure_reports_predictions() -> None:
    model = trained("diabetes", "sklearn.svm.SVR", "{C: 10}")
    with pytest.raises(TrainingError) as caught:
        export_onnx(model, tolerance=Tolerance(1e-12))

    assert re.fullmatch(
        r"onnx parity check failed \(float32 export of SVR\): predictions differ from "
        r"scikit-learn by up to \S+ \(tolerance \S+\)",
        caught.value.message,
    )
