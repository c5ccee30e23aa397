"""Batch scoring through the engine: scores equal onnxruntime's, tables are replaced atomically,
and failures leave the previous scores in place."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pytest

from sqlml.engine import Engine, connect
from sqlml.errors import ScoringError
from sqlml.ml.features import onnx_inputs, prepare_features
from sqlml.ml.onnx_export import export_onnx
from sqlml.ml.scoring import Stamp, score_query
from sqlml.ml.signature import read_signature
from sqlml.relation import Relation
from tests.ml.helpers import customers, diabetes, trained

CUSTOMERS = "features:\n  exclude: [customer_id, signup_date, snapshot_month]\n"
SCORES = Relation("main", "scores")
STAMP = Stamp("churn", 3, "run-1", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = connect(tmp_path / "warehouse.duckdb")
    with engine.arrow_view(customers()) as view:
        engine.execute(
            f"create table customers as select row_number() over () as id, * from {view}"
        )
    with engine.arrow_view(diabetes()) as view:
        engine.execute(f"create table patients as select row_number() over () as id, * from {view}")
    yield engine
    engine.close()


def churn_onnx() -> bytes:
    model = trained(
        "customers",
        "sklearn.ensemble.RandomForestClassifier",
        "{n_estimators: 10, max_depth: 5, random_state: 0}",
        CUSTOMERS,
    )
    return export_onnx(model).onnx_bytes


def expected_probabilities(onnx_bytes: bytes, rows: pa.Table) -> np.ndarray:
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    features = read_signature(onnx_bytes).inputs
    return session.run(["probabilities"], onnx_inputs(prepare_features(rows, features)))[0]


def test_scores_equal_onnxruntime_on_the_same_rows_in_input_order(engine: Engine) -> None:
    onnx_bytes = churn_onnx()

    result = score_query(
        engine, onnx_bytes, "select * from customers order by id", stamp=STAMP, keep=["id"],
        relation=SCORES, existing=None, batch_rows=100, workers=3,
    )  # fmt: skip

    scored = engine.execute("select id, probability_0, probability_1 from scores")
    rows = customers()
    expected = expected_probabilities(onnx_bytes, rows)
    assert result.rows == rows.num_rows == len(scored)
    assert [r[0] for r in scored] == list(range(1, rows.num_rows + 1))
    # equal up to the order onnxruntime sums trees in, which depends on batch and threads
    assert np.abs(np.array([r[1:] for r in scored]) - expected).max() < 1e-12


def test_the_table_has_keys_scores_and_the_stamp(engine: Engine) -> None:
    score_query(
        engine, churn_onnx(), "select * from customers", stamp=STAMP, keep=["id", "customer_id"],
        relation=SCORES, existing=None,
    )  # fmt: skip

    assert engine.columns(SCORES) == [
        ("id", "BIGINT"),
        ("customer_id", "BIGINT"),
        ("predicted_class", "BIGINT"),
        ("probability_0", "DOUBLE"),
        ("probability_1", "DOUBLE"),
        ("model_name", "VARCHAR"),
        ("model_version", "INTEGER"),
        ("scored_at", "TIMESTAMP WITH TIME ZONE"),
        ("run_id", "VARCHAR"),
    ]
    stamps = engine.execute(
        "select distinct model_name, model_version, timezone('UTC', scored_at), run_id from scores"
    )
    assert stamps == [("churn", 3, datetime(2026, 1, 2, 3, 4, 5), "run-1")]
    assert engine.execute(
        "select count(*) from scores where predicted_class != (probability_1 > 0.5)::int"
    ) == [(0,)]


def test_regression_writes_one_prediction_column(engine: Engine) -> None:
    model = trained("diabetes", "sklearn.linear_model.Ridge")
    onnx_bytes = export_onnx(model).onnx_bytes

    score_query(
        engine, onnx_bytes, "select * from patients order by id", stamp=STAMP, keep=["id"],
        relation=SCORES, existing=None, batch_rows=50,
    )  # fmt: skip

    predictions = [p for (p,) in engine.execute("select prediction from scores order by id")]
    assert np.allclose(predictions, model.pipeline.predict(diabetes()), rtol=0, atol=1e-9)


def test_an_empty_input_gives_an_empty_table_with_the_columns(engine: Engine) -> None:
    result = score_query(
        engine, churn_onnx(), "select * from customers where false", stamp=STAMP, keep=["id"],
        relation=SCORES, existing=None,
    )  # fmt: skip

    assert result.rows == 0
    assert [name for name, _ in engine.columns(SCORES)][:3] == ["id", "predicted_class",
                                                                  "probability_0"]  # fmt: skip


def test_a_failure_mid_stream_leaves_the_previous_scores(engine: Engine) -> None:
    onnx_bytes = churn_onnx()
    score_query(
        engine, onnx_bytes, "select * from customers", stamp=STAMP, keep=["id"],
        relation=SCORES, existing=None,
    )  # fmt: skip
    before = engine.execute("select * from scores order by id")
    # the last rows' spend is text a number cannot be read from
    bad = (
        "select * replace (case when id > 700 then 'lots' else monthly_spend::varchar end"
        " as monthly_spend) from customers order by id"
    )

    with pytest.raises(ScoringError) as caught:
        score_query(
            engine, onnx_bytes, bad, stamp=STAMP, keep=["id"], relation=SCORES,
            existing="table", batch_rows=100,
        )  # fmt: skip

    assert "scoring with model 'churn' failed" in caught.value.message
    assert "left as it was" in (caught.value.hint or "")
    assert engine.execute("select * from scores order by id") == before


def test_missing_feature_columns_are_named_before_anything_is_written(engine: Engine) -> None:
    with pytest.raises(ScoringError) as caught:
        score_query(
            engine, churn_onnx(), "select id, segment from customers", stamp=STAMP, keep=["id"],
            relation=SCORES, existing=None,
        )  # fmt: skip

    assert "reads column(s) region, tenure_months, is_active, monthly_spend" in str(caught.value)
    assert ("main", "scores") not in engine.relations()


def test_merging_replaces_the_scored_keys_and_keeps_the_others(engine: Engine) -> None:
    onnx_bytes = churn_onnx()
    score_query(
        engine, onnx_bytes, "select * from customers", stamp=STAMP, keep=["id"],
        relation=SCORES, existing=None,
    )  # fmt: skip
    later = Stamp("churn", 4, "run-2", datetime(2026, 2, 1, tzinfo=UTC))

    result = score_query(
        engine, onnx_bytes, "select * from customers where id <= 10", stamp=later, keep=["id"],
        relation=SCORES, existing="table", merge_keys=["id"],
    )  # fmt: skip

    assert result.rows == 10
    counts = engine.execute("select run_id, count(*) from scores group by all order by all")
    assert counts == [("run-1", customers().num_rows - 10), ("run-2", 10)]


@pytest.mark.parametrize(
    ("estimator", "params"),
    [("sklearn.svm.SVC", "{probability: true}"), ("sklearn.neighbors.KNeighborsClassifier", "{}")],
)
def test_models_outside_the_sql_compiler_score_in_batches(
    engine: Engine, estimator: str, params: str
) -> None:
    model = trained("customers", estimator, params, CUSTOMERS)
    onnx_bytes = export_onnx(model).onnx_bytes

    score_query(
        engine, onnx_bytes, "select * from customers order by id", stamp=STAMP, keep=["id"],
        relation=SCORES, existing=None,
    )  # fmt: skip

    got = engine.execute("select probability_0, probability_1 from scores order by id")
    expected = expected_probabilities(onnx_bytes, customers())
    assert np.abs(np.array(got) - expected).max() < 1e-9
