"""The estimator a spec names: imported, built, fit for the task and exportable, checked before
any data is read; each mistake with the exact text a user sees."""

from __future__ import annotations

from pathlib import Path

from sqlml.ml.validate import check_spec
from tests.ml.helpers import RF, spec_at, spec_error


def test_a_good_spec_gives_its_estimator(tmp_path: Path) -> None:
    estimator = check_spec(spec_at(tmp_path, params="{n_estimators: 7}"))

    assert type(estimator).__name__ == "RandomForestClassifier"
    assert estimator.n_estimators == 7


def test_misspelt_estimator_class(tmp_path: Path) -> None:
    assert spec_error(tmp_path, "sklearn.ensemble.RandomForestClassifer") == (
        "ml/model.yml:6:3: module 'sklearn.ensemble' has no class 'RandomForestClassifer'\n"
        "hint: did you mean 'RandomForestClassifier', 'AdaBoostClassifier' or "
        "'RandomForestRegressor'?"
    )


def test_estimator_module_that_does_not_import(tmp_path: Path) -> None:
    assert spec_error(tmp_path, "sklearn.ensembles.RandomForestClassifier") == (
        "ml/model.yml:6:3: cannot import module 'sklearn.ensembles' for estimator "
        "'sklearn.ensembles.RandomForestClassifier': No module named 'sklearn.ensembles'\n"
        "hint: check the spelling, or install the package that provides it"
    )


def test_estimator_without_a_module(tmp_path: Path) -> None:
    assert spec_error(tmp_path, "RandomForestClassifier") == (
        "ml/model.yml:6:3: estimator class 'RandomForestClassifier' is not an import path\n"
        "hint: write the full path, e.g. sklearn.ensemble.RandomForestClassifier"
    )


def test_a_class_that_is_not_an_estimator(tmp_path: Path) -> None:
    assert spec_error(tmp_path, "pathlib.Path") == (
        "ml/model.yml:6:3: 'pathlib.Path' is not a scikit-learn estimator\n"
        "hint: name a scikit-learn classifier or regressor"
    )


def test_unknown_estimator_parameter(tmp_path: Path) -> None:
    assert spec_error(tmp_path, RF, "{n_estimator: 10}") == (
        "ml/model.yml:7:12: RandomForestClassifier has no parameter 'n_estimator'\n"
        "hint: did you mean 'n_estimators'?"
    )


def test_invalid_estimator_parameter_value(tmp_path: Path) -> None:
    assert spec_error(tmp_path, RF, "{n_estimators: -1}") == (
        "ml/model.yml:7:3: invalid estimator parameter: The 'n_estimators' parameter of "
        "RandomForestClassifier must be an int in the range [1, inf). Got -1 instead."
    )


def test_regressor_for_a_classification_task(tmp_path: Path) -> None:
    assert spec_error(tmp_path, "sklearn.ensemble.RandomForestRegressor") == (
        "ml/model.yml:6:3: RandomForestRegressor is a regressor but task is classification\n"
        "hint: name a classifier, or set task: regression"
    )


def test_classifier_for_a_regression_task(tmp_path: Path) -> None:
    assert spec_error(tmp_path, RF, task="regression") == (
        "ml/model.yml:6:3: RandomForestClassifier is a classifier but task is regression\n"
        "hint: name a regressor, or set task: classification"
    )


def test_a_transformer_is_not_a_model(tmp_path: Path) -> None:
    assert spec_error(tmp_path, "sklearn.preprocessing.StandardScaler") == (
        "ml/model.yml:6:3: StandardScaler is neither a classifier nor a regressor\n"
        "hint: task is classification: name a scikit-learn classifier"
    )


def test_classifier_without_probabilities(tmp_path: Path) -> None:
    assert spec_error(tmp_path, "sklearn.svm.SVC") == (
        "ml/model.yml:6:3: SVC does not give class probabilities (no predict_proba)\n"
        "hint: sqlml exports probabilities: pick a classifier with predict_proba "
        "(for SVC, set probability: true)"
    )


def test_estimator_without_an_onnx_converter(tmp_path: Path) -> None:
    assert spec_error(tmp_path, "sklearn.kernel_ridge.KernelRidge", task="regression") == (
        "ml/model.yml:6:3: sklearn.kernel_ridge.KernelRidge cannot be exported to ONNX: "
        "skl2onnx has no converter for it\n"
        "hint: sqlml exports every model to ONNX: pick an estimator skl2onnx supports "
        "(https://onnx.ai/sklearn-onnx/supported.html)"
    )


def test_native_categorical_splits_are_refused(tmp_path: Path) -> None:
    hgb = "sklearn.ensemble.HistGradientBoostingClassifier"
    assert spec_error(tmp_path, hgb, "{categorical_features: [0]}") == (
        "ml/model.yml:7:12: HistGradientBoostingClassifier with categorical_features=[0] "
        "(native categorical splits) cannot be exported to ONNX exactly\n"
        "hint: remove categorical_features; sqlml one-hot encodes categorical columns itself"
    )
