"""Metrics, search and the training data, checked before training starts, with the exact text a
user sees. (The estimator's own checks are in test_estimator.py.)"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from sqlml.errors import TrainingError
from sqlml.ml.spec import MLSpec
from sqlml.ml.train import train
from sqlml.ml.validate import check_data
from tests.ml.helpers import RF, breast_cancer, customers, spec_at, spec_error, through_duckdb

CUSTOMER_FEATURES = "features:\n  exclude: [customer_id, signup_date, snapshot_month]\n"


def data_error(model: MLSpec, table: pa.Table) -> str:
    with pytest.raises(TrainingError) as caught:
        train(model, table)
    return caught.value.render()


def test_unknown_metric(tmp_path: Path) -> None:
    assert spec_error(tmp_path, RF, extra="metrics: [roc_auc, f1_scor]\n") == (
        "ml/model.yml:8:20: unknown metric 'f1_scor'\nhint: did you mean 'f1_micro' or 'f1_macro'?"
    )


def test_metric_of_the_other_task(tmp_path: Path) -> None:
    assert spec_error(tmp_path, RF, extra="metrics: [r2]\n") == (
        "ml/model.yml:8:11: metric 'r2' is a regression metric but task is classification\n"
        "hint: e.g. roc_auc, f1, accuracy"
    )


def test_clustering_metric(tmp_path: Path) -> None:
    assert spec_error(tmp_path, RF, extra="metrics: [rand_score]\n") == (
        "ml/model.yml:8:11: metric 'rand_score' is a clustering metric but task is "
        "classification\nhint: e.g. roc_auc, f1, accuracy"
    )


def test_search_over_an_unknown_parameter(tmp_path: Path) -> None:
    extra = "search:\n  params: {max_dept: [2, 4]}\n"
    assert spec_error(tmp_path, RF, extra=extra) == (
        "ml/model.yml:9:12: search.params: RandomForestClassifier has no parameter 'max_dept'\n"
        "hint: did you mean 'max_depth' or 'max_features'?"
    )


def test_grid_larger_than_its_budget(tmp_path: Path) -> None:
    extra = "search:\n  params: {max_depth: [2, 4, 8], n_estimators: [5, 10]}\n  budget: 4\n"
    assert spec_error(tmp_path, RF, extra=extra) == (
        "ml/model.yml:10:3: the search grid has 6 combinations, more than its budget of 4\n"
        "hint: raise budget to 6, shorten the lists, or use method: random"
    )


def test_a_range_in_a_grid_search(tmp_path: Path) -> None:
    extra = "search:\n  params: {max_depth: {low: 2, high: 8}}\n"
    assert spec_error(tmp_path, RF, extra=extra) == (
        "ml/model.yml:9:12: search.params.max_depth: a grid search needs a list of values, not "
        "a range\nhint: list the values, or set search.method: random"
    )


def test_search_metric_is_checked(tmp_path: Path) -> None:
    extra = "search:\n  params: {max_depth: [2, 4]}\n  metric: auc\n"
    assert spec_error(tmp_path, RF, extra=extra).startswith(
        "ml/model.yml:10:3: unknown metric 'auc'\nhint: did you mean"
    )


# The spec against its training data ----------------------------------------------------------


def test_check_data_gives_the_feature_columns(tmp_path: Path) -> None:
    model = spec_at(tmp_path, extra=CUSTOMER_FEATURES, target="churned")
    features = check_data(model, customers())

    assert [(f.name, f.kind, f.arrow_type) for f in features] == [
        ("segment", "categorical", "string"),
        ("region", "categorical", "string"),
        ("tenure_months", "numeric", "int64"),
        ("is_active", "categorical", "bool"),
        ("monthly_spend", "numeric", "double"),
    ]
    assert [f.onnx_type for f in features] == ["string", "string", "double", "string", "double"]


def test_empty_training_data(tmp_path: Path) -> None:
    empty = breast_cancer().slice(0, 0)

    assert data_error(spec_at(tmp_path), empty) == (
        "ml/model.yml:1:1: the training data has no rows\n"
        "hint: check the training relation and its filters; there is nothing to train on"
    )


def test_missing_target_suggests_a_column(tmp_path: Path) -> None:
    assert data_error(spec_at(tmp_path, target="targt"), breast_cancer()) == (
        "ml/model.yml:3:1: target column 'targt' is not in the training data\n"
        "hint: did you mean 'target'?"
    )


def test_target_with_nulls(tmp_path: Path) -> None:
    table = through_duckdb(
        breast_cancer(), "select * replace (nullif(target, 0) as target) from src"
    )

    assert data_error(spec_at(tmp_path), table) == (
        "ml/model.yml:3:1: target column 'target' has 212 NULL values in 569 rows\n"
        "hint: filter them out in the training relation (where target is not null)"
    )


def test_target_without_variance(tmp_path: Path) -> None:
    table = through_duckdb(breast_cancer(), "select * from src where target = 1")

    assert data_error(spec_at(tmp_path), table) == (
        "ml/model.yml:3:1: target column 'target' has the same value (1) in all 357 rows; "
        "there is nothing to learn\nhint: check how the training relation computes the target"
    )


def test_fractional_target_for_classification(tmp_path: Path) -> None:
    table = through_duckdb(breast_cancer(), "select * replace (target / 3 as target) from src")

    assert data_error(spec_at(tmp_path), table) == (
        "ml/model.yml:3:1: target column 'target' has fractional values (type double); "
        "classification needs labels"
    )


def test_text_target_for_regression(tmp_path: Path) -> None:
    model = spec_at(tmp_path, "sklearn.linear_model.Ridge", task="regression", target="segment")

    assert data_error(model, customers()) == (
        "ml/model.yml:3:1: target column 'segment' has 91 NULL values in 800 rows\n"
        "hint: filter them out in the training relation (where segment is not null)"
    )
    table = through_duckdb(customers(), "select * from src where segment is not null")
    assert data_error(model, table) == (
        "ml/model.yml:3:1: target column 'segment' has type string; regression needs a numeric "
        "target"
    )


def test_unknown_column_in_features(tmp_path: Path) -> None:
    extra = "features:\n  include: [mean_radius, mean_textur]\n"

    assert data_error(spec_at(tmp_path, extra=extra), breast_cancer()) == (
        "ml/model.yml:9:26: column 'mean_textur' in features.include is not in the training "
        "data\nhint: did you mean 'mean_texture', 'mean_symmetry' or 'mean_perimeter'?"
    )


def test_unknown_split_column(tmp_path: Path) -> None:
    extra = "split: {method: group, column: patient}\n"

    assert data_error(spec_at(tmp_path, extra=extra), breast_cancer()).startswith(
        "ml/model.yml:8:24: split column 'patient' is not in the training data\n"
        "hint: its columns: mean_radius, mean_texture,"
    )


def test_a_date_column_cannot_be_a_feature(tmp_path: Path) -> None:
    extra = "features:\n  exclude: [customer_id]\nsplit: {method: random}\n"

    assert data_error(spec_at(tmp_path, extra=extra, target="churned"), customers()) == (
        "ml/model.yml:8:1: feature column 'snapshot_month' has type date32[day], which a model "
        "cannot read\nhint: derive a number or a category from it in SQL, or add "
        "'snapshot_month' to features.exclude"
    )


def test_numeric_override_on_text(tmp_path: Path) -> None:
    extra = CUSTOMER_FEATURES + "  numeric: [segment]\n"

    assert data_error(spec_at(tmp_path, extra=extra, target="churned"), customers()) == (
        "ml/model.yml:10:13: column 'segment' in features.numeric has type string, not a "
        "number\nhint: cast it to a number in the training relation"
    )


def test_the_target_may_not_be_a_feature(tmp_path: Path) -> None:
    extra = "features:\n  include: [mean_radius, target]\n"

    assert data_error(spec_at(tmp_path, extra=extra), breast_cancer()) == (
        "ml/model.yml:9:26: the target 'target' is also listed in features.include\n"
        "hint: a model may not read its own target"
    )


def test_no_features_left(tmp_path: Path) -> None:
    table = breast_cancer().select(["mean_radius", "target"])
    extra = "features:\n  exclude: [mean_radius]\n"

    assert data_error(spec_at(tmp_path, extra=extra), table) == (
        "ml/model.yml:8:1: no feature columns are left to train on\n"
        "hint: check features.include and features.exclude"
    )


def test_a_feature_may_not_shadow_an_output(tmp_path: Path) -> None:
    table = through_duckdb(breast_cancer(), "select mean_radius as label, target from src")

    assert data_error(spec_at(tmp_path), table) == (
        "ml/model.yml:1:1: feature column 'label' has the name of an output of the exported "
        "model\nhint: rename it in the training relation (not label, probabilities, prediction)"
    )


def test_time_split_on_a_text_column(tmp_path: Path) -> None:
    extra = CUSTOMER_FEATURES + "split: {method: time, column: region}\n"

    assert data_error(spec_at(tmp_path, extra=extra, target="churned"), customers()) == (
        "ml/model.yml:10:23: time split column 'region' has 80 NULL values\n"
        "hint: filter those rows out in the training relation"
    )
    table = through_duckdb(customers(), "select * from src where region is not null")
    assert data_error(spec_at(tmp_path, extra=extra, target="churned"), table) == (
        "ml/model.yml:10:23: time split column 'region' has type string, which does not order "
        "rows in time\nhint: split on a date, timestamp or number column"
    )
