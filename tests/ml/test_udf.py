"""Scoring inside SQL: predict_<model>(...) equals the batch scorer on the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sqlml.engine import Engine, connect
from sqlml.errors import ExecutionError
from sqlml.ml.onnx_export import export_onnx
from sqlml.ml.scoring import make_session, score_batch
from sqlml.ml.signature import read_signature
from sqlml.ml.udf import function_name, register_predict
from tests.ml.helpers import customers, trained

CUSTOMERS = "features:\n  exclude: [customer_id, signup_date, snapshot_month]\n"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = connect(tmp_path / "warehouse.duckdb")
    with engine.arrow_view(customers()) as view:
        engine.execute(
            f"create table customers as select row_number() over () as id, * from {view}"
        )
    yield engine
    engine.close()


def churn() -> bytes:
    model = trained(
        "customers", "sklearn.linear_model.LogisticRegression", "{max_iter: 500}", CUSTOMERS
    )
    return export_onnx(model).onnx_bytes


def test_predict_in_sql_equals_batch_scoring_across_chunks_and_nulls(engine: Engine) -> None:
    onnx_bytes = churn()
    described = register_predict(engine, onnx_bytes, "churn-model", 2)
    # 4 copies of the table: more than one 2,048-row chunk
    rows = engine.execute(
        "select predict_churn_model(segment, region, tenure_months, is_active::varchar, "
        "monthly_spend) as s from customers, range(4) order by range, id"
    )

    expected = score_batch(make_session(onnx_bytes), read_signature(onnx_bytes), customers(), ())
    probabilities = np.array([r[0]["probability_1"] for r in rows])
    assert described.name == "predict_churn_model" == function_name("churn-model")
    assert described.parameters[0] == ("segment", "VARCHAR")
    assert np.abs(probabilities - np.tile(expected.column("probability_1"), 4)).max() < 1e-12
    assert [r[0]["predicted_class"] for r in rows[:800]] == expected.column(0).to_pylist()


def test_fields_can_be_read_in_any_query_and_on_other_threads(engine: Engine) -> None:
    import threading

    register_predict(engine, churn(), "churn")
    results: list[object] = []

    def query() -> None:
        results.append(
            engine.execute(
                "select count(*) from customers where predict_churn(segment, region, "
                "tenure_months, is_active::varchar, monthly_spend).probability_1 > 0.5"
            )[0][0]
        )

    thread = threading.Thread(target=query)
    thread.start()
    thread.join()
    query()
    assert results[0] == results[1] and isinstance(results[0], int)


def test_wrong_arity_is_an_execution_error_naming_the_function(engine: Engine) -> None:
    register_predict(engine, churn(), "churn")

    with pytest.raises(ExecutionError) as caught:
        engine.execute("select predict_churn(segment) from customers")

    assert "predict_churn" in caught.value.message
