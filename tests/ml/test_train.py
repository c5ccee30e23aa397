"""Training on real data (scikit-learn's breast cancer and diabetes sets, through DuckDB) and on a
synthetic customer table with categories and NULLs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from sqlml.errors import TrainingError
from sqlml.ml.features import target_values
from sqlml.ml.split import split_rows
from sqlml.ml.train import train
from tests.ml.helpers import breast_cancer, customers, diabetes, spec_text, trained, write_spec

CLASSIFIERS = {
    "sklearn.linear_model.LogisticRegression": "{max_iter: 1000}",
    "sklearn.ensemble.RandomForestClassifier": "{n_estimators: 25, random_state: 0}",
    "sklearn.ensemble.HistGradientBoostingClassifier": "{max_iter: 30, random_state: 0}",
    "sklearn.ensemble.GradientBoostingClassifier": "{n_estimators: 30, random_state: 0}",
}
REGRESSORS = {
    "sklearn.linear_model.Ridge": "{}",
    "sklearn.linear_model.LinearRegression": "{}",
    "sklearn.ensemble.RandomForestRegressor": "{n_estimators: 25, random_state: 0}",
    "sklearn.ensemble.HistGradientBoostingRegressor": "{max_iter: 30, random_state: 0}",
}
CUSTOMERS = "features:\n  exclude: [customer_id, signup_date, snapshot_month]\n"


@pytest.mark.parametrize("estimator", CLASSIFIERS)
def test_breast_cancer_classifiers_score_well(estimator: str) -> None:
    model = trained("breast_cancer", estimator, CLASSIFIERS[estimator])

    assert model.metrics["roc_auc"] > 0.95
    assert model.metrics["accuracy"] > 0.9
    assert model.metrics["f1"] > 0.9
    assert model.n_train == 455 and model.holdout.num_rows == 114
    assert model.classes == (0, 1)
    assert [f.kind for f in model.features] == ["numeric"] * 30
    assert sorted(i.feature for i in model.importance) == sorted(breast_cancer().column_names[:30])
    means = [i.mean for i in model.importance]
    assert means == sorted(means, reverse=True) and means[0] > 0


@pytest.mark.parametrize("estimator", REGRESSORS)
def test_diabetes_regressors_beat_the_mean(estimator: str) -> None:
    model = trained("diabetes", estimator, REGRESSORS[estimator])
    y = target_values(diabetes(), "target", "regression")

    assert model.metrics["r2"] > 0.2
    # predicting the mean would be off by about 64 on average
    assert model.metrics["mean_absolute_error"] < 55
    assert model.metrics["root_mean_squared_error"] < float(np.std(y))
    assert model.classes == ()


def test_gates_pass_and_fail(tmp_path: Path) -> None:
    extra = 'metrics: [roc_auc, accuracy]\ngates: ["roc_auc >= 0.9", "accuracy > 0.999"]\n'
    spec = write_spec(tmp_path, spec_text("classification", *_logistic(), extra))
    model = train(spec, breast_cancer())

    assert [(g.gate.text, g.passed) for g in model.gates] == [
        ("roc_auc >= 0.9", True),
        ("accuracy > 0.999", False),
    ]
    assert model.gates[0].value == model.metrics["roc_auc"]
    assert str(model.gates[1]) == f"accuracy > 0.999: {model.metrics['accuracy']:.6g} (FAIL)"
    assert not model.passed


def test_a_model_without_gates_passes() -> None:
    assert trained("breast_cancer", *_logistic()).passed


def test_parameters_are_recorded_plainly() -> None:
    model = trained(
        "breast_cancer",
        "sklearn.ensemble.RandomForestClassifier",
        "{n_estimators: 25, random_state: 0}",
    )

    assert model.params["n_estimators"] == 25
    assert model.params["random_state"] == 0
    assert model.params["max_features"] == "sqrt"
    assert model.search_best is None


def test_training_is_reproducible(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        spec_text(
            "classification",
            "sklearn.ensemble.RandomForestClassifier",
            "{n_estimators: 10, random_state: 1}",
        ),
    )
    first, second = train(spec, breast_cancer()), train(spec, breast_cancer())

    assert first.metrics == second.metrics
    assert first.importance == second.importance


def test_cross_validation_scores_each_metric(tmp_path: Path) -> None:
    extra = "cv: {folds: 4}\nmetrics: [roc_auc, accuracy]\n"
    model = train(
        write_spec(tmp_path, spec_text("classification", *_logistic(), extra)), breast_cancer()
    )

    assert set(model.cv_metrics) == {"roc_auc", "accuracy"}
    auc = model.cv_metrics["roc_auc"]
    assert len(auc.folds) == 4
    assert auc.mean == pytest.approx(np.mean(auc.folds)) and auc.mean > 0.95


def test_grid_search_keeps_the_best_parameters(tmp_path: Path) -> None:
    extra = "search:\n  params: {C: [0.0001, 1.0]}\n  metric: roc_auc\n"
    model = train(
        write_spec(tmp_path, spec_text("classification", *_logistic(), extra)), breast_cancer()
    )

    assert model.search_best == {"C": 1.0}
    assert model.params["C"] == 1.0


def test_random_search_within_its_budget(tmp_path: Path) -> None:
    extra = (
        "search:\n  method: random\n  budget: 3\n"
        "  params: {alpha: {low: 0.001, high: 100, log: true}}\n"
    )
    text = spec_text("regression", "sklearn.linear_model.Ridge", "{}", extra)
    model = train(write_spec(tmp_path, text), diabetes())

    assert model.search_best is not None
    assert 0.001 <= model.search_best["alpha"] <= 100
    assert model.params["alpha"] == model.search_best["alpha"]


def test_categories_booleans_and_nulls(tmp_path: Path) -> None:
    model = trained("customers", *_logistic(), CUSTOMERS)

    assert {f.name: f.kind for f in model.features} == {
        "segment": "categorical",
        "region": "categorical",
        "tenure_months": "numeric",
        "is_active": "categorical",
        "monthly_spend": "numeric",
    }
    assert model.metrics["roc_auc"] > 0.75
    top_two = {i.feature for i in model.importance[:2]}
    assert top_two == {"segment", "tenure_months"}  # how the data was made
    assert model.importance[-1].mean < 0.02  # region is noise
    assert model.classes == (0, 1)  # a boolean target becomes 0/1


def test_type_overrides_and_ordinal_encoding(tmp_path: Path) -> None:
    extra = (
        CUSTOMERS
        + "  categorical: [tenure_months]\npreprocessing: {one_hot: false, scaling: false}\n"
    )
    model = trained("customers", *_logistic(), extra)

    assert {f.name: f.kind for f in model.features}["tenure_months"] == "categorical"
    columns = model.pipeline.named_steps["preprocess"]
    assert columns.transform(model.holdout).shape[1] == 5  # one ordinal code per column


def test_time_split_holds_out_the_latest_rows(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        spec_text(
            "classification",
            *_logistic(),
            CUSTOMERS + "split: {method: time, column: snapshot_month, test_size: 0.25}\n",
            "churned",
        ),
    )
    table = customers()
    rows = split_rows(spec, table, target_values(table, "churned", "classification"))
    months = table.column("snapshot_month")

    train_months = months.take(rows.train).to_pylist()
    holdout_months = months.take(rows.holdout).to_pylist()
    assert train_months == sorted(train_months)  # in time order, for time-ordered CV folds
    assert max(train_months) < min(holdout_months)  # a month is never on both sides
    assert len(rows.holdout) >= 200
    assert len(rows.train) + len(rows.holdout) == table.num_rows


def test_time_split_trains_without_the_split_column(tmp_path: Path) -> None:
    extra = (
        "features:\n  exclude: [customer_id, signup_date]\n"
        "split: {method: time, column: snapshot_month}\ncv: {folds: 3}\n"
    )
    model = train(
        write_spec(tmp_path, spec_text("classification", *_logistic(), extra, "churned")),
        customers(),
    )

    assert "snapshot_month" not in [f.name for f in model.features]
    assert len(model.cv_metrics["roc_auc"].folds) == 3


def test_group_split_keeps_each_group_on_one_side(tmp_path: Path) -> None:
    extra = (
        "features:\n  exclude: [signup_date, snapshot_month]\n"
        "split: {method: group, column: customer_id, seed: 4}\ncv: {folds: 3}\n"
    )
    spec = write_spec(tmp_path, spec_text("classification", *_logistic(), extra, "churned"))
    table = customers()
    rows = split_rows(spec, table, target_values(table, "churned", "classification"))
    ids = table.column("customer_id")

    assert not set(ids.take(rows.train).to_pylist()) & set(ids.take(rows.holdout).to_pylist())
    model = train(spec, table)
    assert "customer_id" not in [f.name for f in model.features]
    assert model.n_train == len(rows.train)


def test_random_split_is_stratified_and_seeded(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path, spec_text("classification", *_logistic(), "split: {seed: 11, test_size: 0.3}\n")
    )
    table = breast_cancer()
    y = target_values(table, "target", "classification")
    first, second = split_rows(spec, table, y), split_rows(spec, table, y)

    assert np.array_equal(first.holdout, second.holdout)
    assert len(first.holdout) == 171
    share = pc.mean(table.column("target")).as_py()
    assert np.mean(y[first.holdout]) == pytest.approx(share, abs=0.01)


def test_a_failing_fit_is_a_training_error(tmp_path: Path) -> None:
    text = spec_text("classification", "sklearn.linear_model.LogisticRegression", "{penalty: l1}")
    with pytest.raises(TrainingError) as caught:
        train(write_spec(tmp_path, text), breast_cancer())

    assert caught.value.render() == (
        "ml/model.yml:5:1: fitting LogisticRegression failed: Solver lbfgs supports only 'l2' "
        "or None penalties, got l1 penalty.\n"
        "hint: check the estimator's parameters and the training data"
    )


def test_a_metric_the_holdout_cannot_give(tmp_path: Path) -> None:
    text = spec_text("classification", *_logistic(), "metrics: [roc_auc]\n")
    with pytest.raises(TrainingError) as caught:
        train(write_spec(tmp_path, text), _iris())

    assert caught.value.message.startswith("metric 'roc_auc' cannot be computed on the holdout:")


def test_warnings_are_kept_not_printed(tmp_path: Path) -> None:
    text = spec_text("classification", "sklearn.linear_model.LogisticRegression", "{max_iter: 2}")
    model = train(write_spec(tmp_path, text), breast_cancer())

    assert any(w.startswith("ConvergenceWarning:") for w in model.warnings)


def _logistic() -> tuple[str, str]:
    return "sklearn.linear_model.LogisticRegression", "{max_iter: 1000}"


def _iris():  # type: ignore[no-untyped-def]
    from tests.ml.helpers import iris

    return iris()
