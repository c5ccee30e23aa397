"""A project's own ML model served by entity key: features from its feature views' latest rows."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest

from sqlml import Context
from sqlml.engine import connect
from sqlml.ml.features import FeatureColumn, onnx_inputs, prepare_features
from sqlml.ml.registry import load_onnx
from sqlml.serve.app import ServeSettings
from sqlml.serve.contract import read_contract
from sqlml.serve.server import ServeOptions, ServerThread
from sqlml.serve.state import Refresher
from tests.projectfactory import write_project
from tests.serve.helpers import call

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


@pytest.mark.slow
def test_keys_are_scored_on_the_projects_latest_feature_rows(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)
    assert Context(root).run().success  # builds the views, trains churn, makes it champion
    context = Context(root)
    sources = context.entity_sources()
    warehouse, schema = context.project.target.path, context.project.state_schema
    refresher = Refresher(warehouse, schema, sources)
    refresher.refresh()

    options = ServeOptions(port=0, log_level="warning")
    with ServerThread(refresher, ServeSettings(), options) as server:
        metadata = call(f"{server.url}/v1/models/churn")[1]
        status, answer = call(
            f"{server.url}/v1/models/churn/predict",
            "POST",
            {"keys": [{"customer_id": 3}, {"customer_id": 28}]},
        )

    assert list(sources) == ["churn"]
    assert (metadata["entity_keys"], metadata["entities"]) == (["customer_id"], 40)
    assert status == 200
    # The same rows, read and scored here the way batch scoring does.
    engine = connect(warehouse, read_only=True)
    try:
        onnx = load_onnx(engine, schema, "churn", "champion")
        table = engine.arrow(
            f"select * from ({context.compile().nodes['churn'].spec.latest_sql}) "
            "where customer_id in (3, 28) order by customer_id"
        )
    finally:
        engine.close()
    contract = read_contract(onnx)
    features = [
        FeatureColumn(c.name, "numeric" if c.type == "double" else "categorical", "")
        for c in contract.inputs
    ]
    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    _, probabilities = session.run(None, onnx_inputs(prepare_features(table, features)))
    assert [p["customer_id"] for p in answer["predictions"]] == [3, 28]
    assert metadata["classes"] == [0, 1]
    assert [p["probabilities"]["1"] for p in answer["predictions"]] == probabilities[:, 1].tolist()
