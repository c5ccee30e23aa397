"""Loading `ml/<name>.yml`: what a valid spec becomes, and every mistake with its exact text."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlml.errors import ConfigError, Location
from sqlml.ml.spec import Gate, Reference, SearchRange, load_spec
from tests.ml.helpers import write_spec

FULL = """\
description: Customers likely to stop ordering.
owner: growth-analytics
relation: ref('churn_training_set')
target: churned
task: classification
features:
  exclude: [customer_id]
  categorical: [tenure_months]
preprocessing:
  imputation: {numeric: mean, categorical: most_frequent}
  scaling: false
  one_hot: false
estimator:
  class: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 50, max_depth: 6}
split: {method: time, column: snapshot_month, test_size: 0.25, seed: 3}
cv: {folds: 4}
search:
  method: random
  params:
    max_depth: [3, 6, 9]
    min_samples_leaf: {low: 1, high: 20, integer: true}
  budget: 5
metrics: [roc_auc, f1]
gates: ["roc_auc >= 0.75", "f1>0.5"]
tags: [churn]
"""


def error(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> ConfigError:
    for name, content in (files or {}).items():
        (tmp_path / "ml").mkdir(exist_ok=True)
        (tmp_path / "ml" / name).write_text(content)
    with pytest.raises(ConfigError) as caught:
        write_spec(tmp_path, text)
    return caught.value


def test_a_full_spec_loads_into_frozen_values(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, FULL, name="churn")

    assert spec.name == "churn"
    assert spec.display == "ml/churn.yml"
    assert spec.owner == "growth-analytics"
    assert spec.relation == Reference("ref", "churn_training_set")
    assert spec.task == "classification"
    assert spec.include is None
    assert spec.exclude == ("customer_id",)
    assert spec.categorical == ("tenure_months",)
    assert spec.preprocessing.numeric_imputation == "mean"
    assert spec.preprocessing.categorical_imputation == "most_frequent"
    assert (spec.preprocessing.scaling, spec.preprocessing.one_hot) == (False, False)
    assert spec.estimator_class == "sklearn.ensemble.RandomForestClassifier"
    assert spec.estimator_params == {"n_estimators": 50, "max_depth": 6}
    assert (spec.split.method, spec.split.column) == ("time", "snapshot_month")
    assert (spec.split.test_size, spec.split.seed) == (0.25, 3)
    assert spec.cv_folds == 4
    assert spec.search is not None
    assert spec.search.params == {
        "max_depth": (3, 6, 9),
        "min_samples_leaf": SearchRange(1, 20, log=False, integer=True),
    }
    assert (spec.search.method, spec.search.budget, spec.search.metric) == ("random", 5, "roc_auc")
    assert spec.metrics == ("roc_auc", "f1")
    assert spec.gates == (
        Gate("roc_auc >= 0.75", "roc_auc", ">=", 0.75),
        Gate("f1>0.5", "f1", ">", 0.5),
    )
    assert spec.location("split", "column") == Location("ml/churn.yml", 16, 23)


def test_defaults_by_task(tmp_path: Path) -> None:
    text = "owner: a\nrelation: ref('t')\ntarget: y\ntask: regression\nestimator: {class: x.Y}\n"
    spec = write_spec(tmp_path, text)

    assert spec.metrics == ("r2", "root_mean_squared_error", "mean_absolute_error")
    assert spec.split.method == "random"
    assert (spec.split.test_size, spec.split.seed) == (0.2, 0)
    assert spec.preprocessing.numeric_imputation == "median"
    assert spec.cv_folds is None and spec.search is None and spec.gates == ()


def test_spine_with_feature_views_and_a_source(tmp_path: Path) -> None:
    text = FULL.replace(
        "relation: ref('churn_training_set')",
        "spine: source('crm', 'snapshots')\nas_of: snapshot_at\nkeys: [customer_id]\n"
        "feature_views: [orders_30d, support_tickets]",
    )
    spec = write_spec(tmp_path, text)

    assert spec.relation is None
    assert (spec.as_of, spec.spine_keys) == ("snapshot_at", ("customer_id",))
    assert spec.spine == Reference("source", "crm.snapshots")
    assert str(spec.spine) == "source('crm', 'snapshots')"
    assert spec.feature_views == ("orders_30d", "support_tickets")


def test_sql_file_alone(tmp_path: Path) -> None:
    (tmp_path / "ml").mkdir()
    (tmp_path / "ml" / "model.sql").write_text("select 1")
    spec = write_spec(tmp_path, FULL.replace("relation: ref('churn_training_set')\n", ""))

    assert spec.sql_path == tmp_path / "ml" / "model.sql"


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    err = error(tmp_path, FULL.replace("column: snapshot_month", "colum: snapshot_month"))

    assert err.render() == (
        "ml/model.yml:16:23: unknown key 'split.colum'\nhint: did you mean 'column'?"
    )


def test_misspelt_estimator_key(tmp_path: Path) -> None:
    err = error(tmp_path, FULL.replace("  params: {n_estimators", "  parms: {n_estimators"))

    assert err.render() == (
        "ml/model.yml:15:3: unknown key 'estimator.parms'\nhint: did you mean 'params'?"
    )


def test_owner_is_required(tmp_path: Path) -> None:
    err = error(tmp_path, FULL.replace("owner: growth-analytics\n", ""))

    assert err.render() == "ml/model.yml:1:1: missing required key 'owner'"


def test_unknown_task(tmp_path: Path) -> None:
    err = error(tmp_path, FULL.replace("task: classification", "task: clustering"))

    assert err.render() == (
        "ml/model.yml:5:1: invalid value for 'task': "
        "Input should be 'classification' or 'regression'"
    )


def test_test_size_must_be_a_fraction(tmp_path: Path) -> None:
    err = error(tmp_path, FULL.replace("test_size: 0.25", "test_size: 25"))

    assert err.render() == (
        "ml/model.yml:16:47: invalid value for 'split.test_size': Input should be less than 1"
    )


def test_no_training_relation(tmp_path: Path) -> None:
    err = error(tmp_path, FULL.replace("relation: ref('churn_training_set')\n", ""))

    assert err.render() == (
        "ml/model.yml:1:1: say what to train on with exactly one of: relation, spine (with "
        "feature_views), or a SQL file model.sql\nhint: e.g. relation: ref('churn_training_set')"
    )


def test_relation_and_spine_together(tmp_path: Path) -> None:
    text = FULL.replace("task:", "spine: ref('s')\nfeature_views: [f]\ntask:")

    assert error(tmp_path, text).location == Location("ml/model.yml", 3, 1)


def test_spine_without_feature_views(tmp_path: Path) -> None:
    text = FULL.replace("relation: ref('churn_training_set')", "spine: ref('s')")

    assert error(tmp_path, text).render() == (
        "ml/model.yml:3:1: a spine needs feature_views to join\nhint: add feature_views: [...]"
    )


def test_a_relation_that_is_not_a_ref(tmp_path: Path) -> None:
    text = FULL.replace("ref('churn_training_set')", "churn_training_set")

    assert error(tmp_path, text).render() == (
        "ml/model.yml:3:1: cannot read relation 'churn_training_set'\n"
        "hint: write ref('model_name') or source('source_name', 'table_name')"
    )


def test_time_split_needs_a_column(tmp_path: Path) -> None:
    text = FULL.replace("column: snapshot_month, ", "")

    assert error(tmp_path, text).render() == (
        "ml/model.yml:16:1: split method 'time' needs a column\n"
        "hint: add column: (the timestamp column to split on)"
    )


def test_gate_syntax(tmp_path: Path) -> None:
    err = error(tmp_path, FULL.replace('"f1>0.5"', '"f1 is at least 0.5"'))

    assert err.render() == (
        "ml/model.yml:25:28: cannot read gate 'f1 is at least 0.5'\n"
        "hint: write a metric, a comparison and a number, e.g. 'roc_auc >= 0.75'"
    )


def test_gate_on_a_metric_not_listed(tmp_path: Path) -> None:
    err = error(tmp_path, FULL.replace('"f1>0.5"', '"accuracy > 0.8"'))

    assert err.render() == (
        "ml/model.yml:25:28: gate 'accuracy > 0.8' checks metric 'accuracy', which is not in "
        "metrics\nhint: add 'accuracy' to metrics (now: roc_auc, f1)"
    )


def test_empty_metrics(tmp_path: Path) -> None:
    err = error(tmp_path, FULL.replace("metrics: [roc_auc, f1]", "metrics: []"))

    assert err.render() == (
        "ml/model.yml:24:1: metrics must list at least one metric\nhint: e.g. [roc_auc]"
    )


def test_search_values_must_be_a_list_or_a_range(tmp_path: Path) -> None:
    err = error(tmp_path, FULL.replace("max_depth: [3, 6, 9]", "max_depth: 3"))

    assert err.message.startswith("invalid value for 'search.params.max_depth':")
    assert err.location == Location("ml/model.yml", 21, 5)


def test_load_spec_reads_a_path(tmp_path: Path) -> None:
    path = tmp_path / "churn.yml"
    path.write_text(FULL)

    assert load_spec(path, "ml/churn.yml").name == "churn"
