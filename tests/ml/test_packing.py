"""Packed inputs: the numeric columns reach the model as one matrix built by the warehouse, and
the scores are the same as with one input per column."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import onnx
import onnxruntime as ort
import pyarrow as pa
from onnx import TensorProto, helper

from sqlml.engine import connect
from sqlml.ml.features import onnx_inputs, prepare_features
from sqlml.ml.onnx_export import export_onnx
from sqlml.ml.packing import PACKED_COLUMN, packed_feed, packed_model, packed_sql
from sqlml.ml.scoring import Stamp, score_query
from sqlml.ml.signature import read_signature
from sqlml.relation import Relation
from tests.ml.helpers import customers, trained

CUSTOMERS = "features:\n  exclude: [customer_id, signup_date, snapshot_month]\n"
LOGISTIC = ("sklearn.linear_model.LogisticRegression", "{max_iter: 500}")


def churn_onnx() -> bytes:
    return export_onnx(trained("customers", *LOGISTIC, CUSTOMERS)).onnx_bytes


def test_the_numeric_inputs_are_packed_and_score_exactly_as_before() -> None:
    onnx_bytes = churn_onnx()
    packed = packed_model(onnx_bytes)
    assert packed is not None
    model_bytes, packing = packed
    assert sorted(packing.columns) == ["monthly_spend", "tenure_months"]  # not the categories
    rows = customers()  # monthly_spend has NULLs, tenure_months is an integer
    con = duckdb.connect()
    con.register("customers", rows)
    item = packed_sql(packing, {f.name: f.type for f in rows.schema})
    assert item is not None
    batch = con.sql(f"select *, {item} from customers").to_arrow_table()

    signature = read_signature(onnx_bytes)
    rest = [f for f in signature.inputs if f.name not in packing.columns]
    feed = {**onnx_inputs(prepare_features(batch, rest)), **packed_feed(batch, packing)}
    got = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"]).run(None, feed)
    original = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    expected = original.run(None, onnx_inputs(prepare_features(rows, signature.inputs)))

    assert np.array_equal(got[0], expected[0])
    assert np.array_equal(got[1], expected[1])


def test_a_graph_without_a_concat_of_its_inputs_is_run_as_it_is() -> None:
    inputs = [helper.make_tensor_value_info(n, TensorProto.DOUBLE, [None, 1]) for n in "ab"]
    output = helper.make_tensor_value_info("prediction", TensorProto.DOUBLE, [None, 1])
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["prediction"])], "g", inputs, [output]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)

    assert packed_model(model.SerializeToString()) is None


def test_numbers_read_from_text_are_not_packed() -> None:
    packed = packed_model(churn_onnx())
    assert packed is not None
    types = {"tenure_months": pa.int64(), "monthly_spend": pa.string()}

    assert packed_sql(packed[1], types) is None  # converted column by column, with its errors
    assert packed_sql(packed[1], {**types, "monthly_spend": pa.float32()}) == (
        "[" + ", ".join(
            f"""coalesce(cast("{c}" as double), 'nan'::double)""" for c in packed[1].columns
        ) + f"]::double[2] as {PACKED_COLUMN}"
    )  # fmt: skip


def test_a_kept_column_the_model_also_reads_is_kept(tmp_path: Path) -> None:
    engine = connect(tmp_path / "warehouse.duckdb")
    with engine.arrow_view(customers()) as view:
        engine.execute(f"create table customers as select * from {view}")
    onnx_bytes = churn_onnx()
    stamp = Stamp("churn", 1, "r1", datetime(2026, 1, 1, tzinfo=UTC))

    score_query(
        engine, onnx_bytes, "select * from customers", stamp=stamp,
        keep=["customer_id", "tenure_months"], relation=Relation("main", "scores"),
        existing=None,
    )  # fmt: skip

    got = engine.execute("select customer_id, tenure_months, probability_1 from scores")
    rows = customers()
    signature = read_signature(onnx_bytes)
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    _, expected = session.run(None, onnx_inputs(prepare_features(rows, signature.inputs)))
    assert [(c, t) for c, t, _ in got] == list(
        zip(rows.column("customer_id").to_pylist(), rows.column("tenure_months").to_pylist(),
            strict=True)
    )  # fmt: skip
    assert np.array_equal(np.array([p for *_, p in got]), expected[:, 1])
    engine.close()
