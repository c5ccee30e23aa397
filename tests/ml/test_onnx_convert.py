"""The shape of the exported graph: one input per column named as the column, plain outputs, and
preprocessing (imputation, scaling, encoding) that scores new rows exactly like scikit-learn."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pyarrow as pa
import pytest

from sqlml.ml.features import onnx_inputs, prepare_features
from sqlml.ml.onnx_export import export_onnx
from sqlml.ml.train import train
from tests.ml.helpers import breast_cancer, spec_text, through_duckdb, trained, write_spec

CUSTOMERS = "features:\n  exclude: [customer_id, signup_date, snapshot_month]\n"


def test_one_named_input_per_column_and_plain_outputs() -> None:
    model = trained(
        "customers",
        "sklearn.ensemble.RandomForestClassifier",
        "{n_estimators: 5, random_state: 0}",
        CUSTOMERS,
    )
    result = export_onnx(model)
    session = ort.InferenceSession(result.onnx_bytes, providers=["CPUExecutionProvider"])

    assert [(i.name, i.type, i.shape[1]) for i in session.get_inputs()] == [
        ("segment", "tensor(string)", 1),
        ("region", "tensor(string)", 1),
        ("tenure_months", "tensor(double)", 1),
        ("is_active", "tensor(string)", 1),
        ("monthly_spend", "tensor(double)", 1),
    ]
    assert result.inputs == tuple((i.name, i.type[7:-1]) for i in session.get_inputs())
    assert [(o.name, o.type) for o in session.get_outputs()] == [
        ("label", "tensor(int64)"),
        ("probabilities", "tensor(double)"),
    ]
    assert result.outputs == ("label", "probabilities")
    assert result.sha256 == hashlib.sha256(result.onnx_bytes).hexdigest()
    assert result.opset == {"ai.onnx": 18, "ai.onnx.ml": 5}
    onnx.checker.check_model(onnx.load_from_string(result.onnx_bytes))


def test_new_rows_with_unseen_categories_and_nulls_score_like_scikit_learn() -> None:
    model = trained(
        "customers", "sklearn.linear_model.LogisticRegression", "{max_iter: 1000}", CUSTOMERS
    )
    result = export_onnx(model)
    rows = pa.table(
        {
            "segment": ["smb", None, "government", "mid"],
            "region": [None, "north", "mars", None],
            "tenure_months": pa.array([3, None, 40, 12], type=pa.int32()),
            "is_active": [True, None, False, True],
            "monthly_spend": [None, 10.5, 1e6, 0.0],
        }
    )
    prepared = prepare_features(rows, model.features)
    session = ort.InferenceSession(result.onnx_bytes, providers=["CPUExecutionProvider"])
    label, probabilities = session.run(None, onnx_inputs(prepared))

    expected = model.pipeline.predict_proba(prepared)
    assert np.abs(probabilities - expected).max() < 1e-12
    assert label.tolist() == model.pipeline.predict(prepared).tolist()


@pytest.mark.parametrize(
    "estimator",
    ["sklearn.linear_model.LogisticRegression", "sklearn.ensemble.RandomForestClassifier"],
)
def test_inputs_keep_awkward_column_names(tmp_path: Path, estimator: str) -> None:
    table = through_duckdb(
        breast_cancer(),
        'select mean_radius as "features", mean_texture as "classes", worst_area as "raw_sum",'
        ' worst_concavity as "worst concavity (%)", target from src',
    )
    text = spec_text("classification", estimator, "{random_state: 0}")
    result = export_onnx(train(write_spec(tmp_path, text), table))
    session = ort.InferenceSession(result.onnx_bytes, providers=["CPUExecutionProvider"])

    assert [i.name for i in session.get_inputs()] == table.column_names[:4]
    assert result.parity.max_abs_diff <= 1e-9 and result.parity.flipped_rows == 0


@pytest.mark.parametrize(
    "preprocessing",
    [
        "{imputation: {numeric: mean, categorical: most_frequent}, scaling: false}",
        "{imputation: {numeric: zero}, one_hot: false}",
        "{imputation: {numeric: most_frequent}, one_hot: false, scaling: false}",
    ],
)
def test_every_preprocessing_choice_exports_exactly(preprocessing: str) -> None:
    extra = CUSTOMERS + f"preprocessing: {preprocessing}\n"
    model = trained(
        "customers", "sklearn.ensemble.HistGradientBoostingClassifier", "{max_iter: 20}", extra
    )
    result = export_onnx(model)
    rows = pa.table({"segment": ["smb", None, "government"], "region": [None, "north", "mars"],
                     "tenure_months": [3, None, 40], "is_active": [None, False, True],
                     "monthly_spend": [None, 10.5, 1e6]})  # fmt: skip
    prepared = prepare_features(rows, model.features)
    session = ort.InferenceSession(result.onnx_bytes, providers=["CPUExecutionProvider"])
    label, probabilities = session.run(None, onnx_inputs(prepared))

    assert result.precision == "double" and result.parity.max_abs_diff <= 1e-12
    assert np.abs(probabilities - model.pipeline.predict_proba(prepared)).max() <= 1e-12
    assert label.tolist() == model.pipeline.predict(prepared).tolist()
