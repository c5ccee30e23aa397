"""Feature views, ML specs and training nodes wired into a project: load, compile, plan, run."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlml.compiler.mlnodes import FeatureViewSpec, TrainingSpec
from sqlml.context import Context
from sqlml.errors import ConfigError
from sqlml.project.mlfiles import parse_duration
from tests.projectfactory import write_project

# 40 customers with an order every few days; the label depends on recent spend, so a model
# has something to learn.
FILES = {
    "project.yml": "name: shop\n",
    "models/orders.sql": """
        select i as order_id, i % 40 as customer_id,
               timestamp '2024-01-01' + to_days(i // 2) as ordered_at,
               ((i * 7919) % 97)::double as amount,
               case when i % 3 = 0 then 'web' else 'app' end as channel
        from range(0, 600) as t(i)
    """,
    "models/churn_spine.sql": """
        select c.customer_id, m.as_of,
               (c.customer_id % 4 = 0 or c.customer_id % 7 = 0) as churned
        from (select distinct customer_id from {{ ref('orders') }}) as c
        cross join (
            select timestamp '2024-02-01' + to_months(i) as as_of from range(0, 8) as t(i)
        ) as m
    """,
    "features/customer_orders.sql": """
        select customer_id, ordered_at as feature_at, amount,
               sum(amount) over (partition by customer_id order by ordered_at) as spend_to_date,
               channel
        from {{ ref('orders') }}
    """,
    "features/_features.yml": """
        feature_views:
          - name: customer_orders
            entities: [customer_id]
            timestamp: feature_at
            ttl: 60 days
    """,
    "ml/churn.yml": """
        owner: growth
        spine: ref('churn_spine')
        as_of: as_of
        feature_views: [customer_orders]
        target: churned
        task: classification
        estimator:
          class: sklearn.linear_model.LogisticRegression
          params: {max_iter: 500}
        split: {method: time, column: as_of, test_size: 0.25}
        gates: ["roc_auc >= 0.1"]
    """,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "shop", FILES)


def test_feature_views_and_trainings_are_nodes_of_the_dag(project: Path) -> None:
    context = Context(project)
    compiled = context.compile()
    view, training = compiled.nodes["customer_orders"], compiled.nodes["churn"]
    chosen = [n.name for n in context.ls(["churn_spine+"])]
    upstream = [n.name for n in context.ls(["+churn"])]
    kinds = [n.name for n in context.ls(["kind:feature_view"])]

    assert compiled.errors == {}
    assert (view.kind, view.config.materialized, str(view.relation)) == (
        "feature_view",
        "table",
        '"warehouse"."main"."customer_orders"',
    )
    assert isinstance(view.spec, FeatureViewSpec)
    assert view.spec.features == ("amount", "spend_to_date", "channel")
    assert view.spec.ttl_s == 60 * 86400
    assert training.kind == "training" and training.depends_on == (
        "churn_spine",
        "customer_orders",
    )
    assert isinstance(training.spec, TrainingSpec)
    assert training.spec.keys == ("customer_id",)
    not_features = ("customer_id", "as_of", "customer_orders__event_time")
    assert training.spec.spec.not_features == not_features
    assert "asof left join" in training.sql
    assert (project / "target/compiled/ml/churn.sql").read_text() == training.sql + "\n"
    assert chosen == ["churn_spine", "churn"]
    assert upstream == ["orders", "churn_spine", "customer_orders", "churn"]
    assert kinds == ["customer_orders"]


def test_run_trains_registers_and_does_not_retrain_unchanged(project: Path) -> None:
    context = Context(project)

    first = context.run()
    second = Context(project).run(["churn"])
    forced = Context(project).train(["churn"])
    detail = Context(project).model("churn")

    assert first.success, [r.message for r in first.results]
    trained = {r.node: r for r in first.results}["churn"]
    assert trained.status == "success"
    assert trained.message is not None and trained.message.startswith("version 1: roc_auc ")
    assert "promoted: no champion yet" in trained.message
    (again,) = second.results
    assert again.message is not None and again.message.startswith(
        "unchanged: version 1 was trained on the same data and spec; not retrained"
    )
    assert [r.message.split(":")[0] for r in forced.results if r.message] == ["version 2"]
    assert [v.version for v in detail.versions] == [1, 2]
    assert detail.aliases == {"champion": 2}
    first_version = detail.versions[0]
    assert first_version.owner == "growth" and first_version.run_id == first.run_id
    assert first_version.parity["max_abs_diff"] < 1e-9
    assert first_version.signature["features"][0] == {
        "name": "customer_orders__amount",
        "kind": "numeric",
        "arrow_type": "double",
    }
    assert set(first_version.importance) == {
        "customer_orders__amount",
        "customer_orders__spend_to_date",
        "customer_orders__channel",
    }


def test_a_changed_spec_or_data_retrains(project: Path) -> None:
    Context(project).run()
    write_project(
        project, {"ml/churn.yml": FILES["ml/churn.yml"].replace("max_iter: 500", "C: 0.5")}
    )
    spec_changed = Context(project).run(["churn"])
    # Orders after the last as-of time do not change the training set; other amounts do.
    later = FILES["models/orders.sql"].replace("range(0, 600)", "range(0, 640)")
    write_project(project, {"models/orders.sql": later})
    later_orders = Context(project).run(["+churn"])
    write_project(project, {"models/orders.sql": later.replace("% 97", "% 89")})
    data_changed = Context(project).run(["+churn"])
    nothing = Context(project).run(["churn"])

    messages = [
        {r.node: r.message for r in run.results}["churn"]
        for run in (spec_changed, later_orders, data_changed, nothing)
    ]
    assert [m.split(":")[0] if m else m for m in messages] == [
        "version 2",
        "unchanged",
        "version 3",
        "unchanged",
    ]


def test_a_feature_view_without_yaml_is_an_error(tmp_path: Path) -> None:
    files = {**FILES, "features/_features.yml": "feature_views: []\n"}

    with pytest.raises(ConfigError) as caught:
        Context(write_project(tmp_path, files)).compile()

    assert caught.value.render() == (
        "features/customer_orders.sql: feature view 'customer_orders' "
        "(features/customer_orders.sql) has no YAML entry naming its entity keys and event "
        "timestamp\nhint: add it under feature_views: in a .yml file of the features folder, "
        "with name, entities and timestamp"
    )


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("ml/churn.yml", "feature_views: [customer_orders]", "feature_views: [orders]"),
            "ml/churn.yml:5:17: feature view 'orders' of ML model 'churn' is a model, not a "
            "feature view\nhint: feature views: customer_orders",
        ),
        (
            ("ml/churn.yml", "as_of: as_of", "as_of: snapshot_at"),
            "ml/churn.yml:4:1: the spine ref('churn_spine') has no column 'snapshot_at'\n"
            "hint: its columns: customer_id, as_of, churned",
        ),
        (
            ("features/_features.yml", "timestamp: feature_at", "timestamp: event_at"),
            "features/_features.yml:5:5: feature view 'customer_orders' has no column "
            "'event_at'\nhint: its columns: customer_id, feature_at, amount, spend_to_date, "
            "channel",
        ),
        (
            ("ml/churn.yml", "spine: ref('churn_spine')", "spine: ref('churn_spin')"),
            "ml/churn.yml:3:1: ML model 'churn' reads ref('churn_spin'), which does not exist\n"
            "hint: did you mean 'churn_spine'?",
        ),
    ],
)
def test_mistakes_are_compile_errors_of_the_training_node(
    tmp_path: Path, edit: tuple[str, str, str], expected: str
) -> None:
    path, old, new = edit
    files = {**FILES, path: FILES[path].replace(old, new)}

    compiled = Context(write_project(tmp_path, files)).compile()

    node = "customer_orders" if path.startswith("features/") else "churn"
    assert compiled.errors[node].render() == expected
    assert set(compiled.errors) == {node, "churn"}


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90 days", 7776000.0), ("12h", 43200.0), ("2 weeks", 1209600.0), ("1.5 minutes", 90.0),
     (30, 30.0), ("soon", None), ("3 fortnights", None), (-1, None)],
)  # fmt: skip
def test_ttl_durations(value: str | float, seconds: float | None) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"features/_features.yml": FILES["features/_features.yml"].replace("60 days", "soon")},
            "features/_features.yml:6:5: cannot read ttl 'soon' of feature view "
            "'customer_orders'\nhint: write e.g. '90 days', '12 hours', or a number of seconds",
        ),
        (
            {"ml/other.sql": "select 1 as x"},
            "ml/other.sql: training query ml/other.sql has no ML spec next to it\n"
            "hint: create ml/other.yml (owner, target, task, estimator), or move the file",
        ),
        (
            {"ml/churn.yml": FILES["ml/churn.yml"].replace("        as_of: as_of\n", "")},
            "ml/churn.yml:3:1: a spine needs its as-of time column\n"
            "hint: add as_of: (the spine's column saying when each row's features are read)",
        ),
        (
            {"ml/orders.yml": FILES["ml/churn.yml"]},
            "ml/orders.yml: ML model 'orders' (ml/orders.yml) has the name of models/orders.sql\n"
            "hint: names are shared by models, seeds, feature views and ML models; rename one",
        ),
    ],
)
def test_mistakes_in_ml_files_are_config_errors(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    project = write_project(tmp_path, {**FILES, **files})

    with pytest.raises(ConfigError) as caught:
        Context(project).compile()

    assert caught.value.render() == expected
