"""sqlml's double-precision tree export (TreeEnsemble, ai.onnx.ml 5) on edge cases; the real
data sets are in test_onnx_export.py."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from sqlml.ml.onnx_export import export_onnx
from sqlml.ml.train import train
from tests.ml.helpers import spec_text, write_spec


@pytest.mark.parametrize(
    ("task", "estimator"),
    [
        ("regression", "sklearn.tree.DecisionTreeRegressor"),
        ("regression", "sklearn.ensemble.GradientBoostingRegressor"),
        ("regression", "sklearn.ensemble.HistGradientBoostingRegressor"),
        ("classification", "sklearn.ensemble.RandomForestClassifier"),
        ("classification", "sklearn.ensemble.HistGradientBoostingClassifier"),
    ],
)
def test_trees_that_are_a_single_leaf(tmp_path: Path, task: str, estimator: str) -> None:
    # a constant column cannot be split on: every tree is one leaf
    table = pa.table({"x": [1.0] * 40, "target": [0, 1, 1, 0, 1] * 8})
    text = spec_text(task, estimator, "{}", "metrics: [accuracy]\n" if task != "regression" else "")
    result = export_onnx(train(write_spec(tmp_path, text), table))

    assert result.parity.max_abs_diff <= 1e-12 and result.parity.flipped_rows == 0
