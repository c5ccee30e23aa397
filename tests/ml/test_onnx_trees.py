"""sqlml's double-precision tree export (TreeEnsemble, ai.onnx.ml 5) on edge cases; the real
data sets are in test_onnx_export.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pyarrow as pa
import pytest
from onnx import helper

from sqlml.ml.features import onnx_inputs
from sqlml.ml.onnx_convert import convert
from sqlml.ml.onnx_export import DOUBLE_TOLERANCE, check_parity, export_onnx
from sqlml.ml.train import train
from tests.ml.helpers import spec_text, trained, write_spec

IRIS_METRICS = "metrics: [accuracy, f1_macro]\n"


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


# (data set, estimator under sklearn., parameters, trees per class): binary and multiclass
LAYOUT_CASES = [
    ("breast_cancer", "ensemble.RandomForestClassifier", "{n_estimators: 12}", 12),
    ("breast_cancer", "ensemble.ExtraTreesClassifier", "{n_estimators: 7}", 7),
    ("breast_cancer", "tree.DecisionTreeClassifier", "{max_depth: 5}", 1),
    ("breast_cancer", "ensemble.GradientBoostingClassifier", "{n_estimators: 9}", 9),
    ("breast_cancer", "ensemble.HistGradientBoostingClassifier", "{max_iter: 11}", 11),
    ("iris", "ensemble.RandomForestClassifier", "{n_estimators: 12}", 12),
    ("iris", "ensemble.ExtraTreesClassifier", "{n_estimators: 7}", 7),
    ("iris", "ensemble.GradientBoostingClassifier", "{n_estimators: 9}", 9),
    ("iris", "ensemble.HistGradientBoostingClassifier", "{max_iter: 11}", 11),
]


def _tree_nodes(onnx_bytes: bytes) -> list[tuple[int, int]]:
    """(n_targets, trees) of each TreeEnsemble node of the graph."""
    graph = onnx.load_from_string(onnx_bytes).graph
    return [
        (
            helper.get_attribute_value(a["n_targets"]),
            len(helper.get_attribute_value(a["tree_roots"])),
        )
        for a in (
            {attribute.name: attribute for attribute in node.attribute}
            for node in graph.node
            if node.op_type == "TreeEnsemble"
        )
    ]


@pytest.mark.parametrize(("data", "estimator", "params", "trees"), LAYOUT_CASES)
def test_trees_are_exported_once_per_class_but_the_first(
    data: str, estimator: str, params: str, trees: int
) -> None:
    model = trained(data, f"sklearn.{estimator}", params, IRIS_METRICS if data == "iris" else "")
    result = export_onnx(model)

    # a forest: its trees for every class but the first (the complement), in one node;
    # boosting: one single-target node per raw score (one for a binary model)
    classes = len(model.classes)
    if "Forest" in estimator or "Trees" in estimator or "tree." in estimator:
        assert _tree_nodes(result.onnx_bytes) == [(classes - 1, trees * (classes - 1))]
    else:
        assert _tree_nodes(result.onnx_bytes) == [(1, trees)] * (1 if classes == 2 else classes)
    assert result.parity.max_abs_diff <= 1e-12
    assert result.parity.flipped_rows == 0


@pytest.mark.parametrize(("data", "estimator", "params", "trees"), LAYOUT_CASES[:2])
def test_the_earlier_layout_copies_a_forest_for_every_class(
    data: str, estimator: str, params: str, trees: int
) -> None:
    model = trained(data, f"sklearn.{estimator}", params)
    proto = convert(model, compact_trees=False)
    onnx_bytes = proto.SerializeToString()
    parity = check_parity(model, onnx_bytes, DOUBLE_TOLERANCE, "double")
    inputs = onnx_inputs(model.holdout)

    def scores(blob: bytes) -> np.ndarray:
        session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
        return np.asarray(session.run(["probabilities"], inputs)[0])

    assert _tree_nodes(onnx_bytes) == [(2, 2 * trees)]
    assert parity.max_abs_diff <= 1e-12
    new = scores(export_onnx(model).onnx_bytes)
    assert np.abs(scores(onnx_bytes) - new).max() <= 1e-12
