"""Models compiled to SQL score like onnxruntime, in DuckDB, and transpile to other dialects."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sqlglot

from sqlml.errors import ScoringError
from sqlml.ml.onnx_convert import convert
from sqlml.ml.onnx_export import export_onnx
from sqlml.ml.scoring import make_session, score_batch
from sqlml.ml.signature import read_signature
from sqlml.ml.sqlmodel import compile_model
from tests.ml.helpers import customers, diabetes, iris, trained

CUSTOMERS = "features:\n  exclude: [customer_id, signup_date, snapshot_month]\n"
ORDINAL = CUSTOMERS + "preprocessing: {one_hot: false, imputation: {numeric: mean}}\n"
IRIS = "metrics: [accuracy]\n"
# (data set, estimator, params, extra spec keys): what the SQL compiler covers.
MODELS = [
    ("customers", "linear_model.LogisticRegression", "{}", CUSTOMERS),
    ("customers", "ensemble.RandomForestClassifier", "{n_estimators: 8, max_depth: 5}", ORDINAL),
    ("customers", "ensemble.GradientBoostingClassifier", "{n_estimators: 15}", CUSTOMERS),
    ("customers", "ensemble.HistGradientBoostingClassifier", "{max_iter: 15}", CUSTOMERS),
    ("iris", "linear_model.LogisticRegression", "{}", IRIS),
    ("iris", "ensemble.GradientBoostingClassifier", "{n_estimators: 5}", IRIS),
    ("iris", "tree.DecisionTreeClassifier", "{max_depth: 4}", IRIS),
    ("iris", "ensemble.RandomForestClassifier", "{n_estimators: 4, max_depth: 4}", IRIS),
    ("iris", "ensemble.HistGradientBoostingClassifier", "{max_iter: 5}", IRIS),
    ("diabetes", "linear_model.Ridge", "{}", ""),
    ("diabetes", "ensemble.RandomForestRegressor", "{n_estimators: 5, max_depth: 6}", ""),
    ("diabetes", "ensemble.GradientBoostingRegressor", "{n_estimators: 10}", ""),
]
TABLES = {"customers": customers, "iris": iris, "diabetes": diabetes}


def _unseen_rows(table: pa.Table) -> pa.Table:
    """The table plus rows with NULLs everywhere and categories training never saw."""
    extra = {name: pa.nulls(2, table.schema.field(name).type) for name in table.column_names}
    if "segment" in table.column_names:
        extra["segment"] = pa.array(["government", None])
        extra["is_active"] = pa.array([None, True])
    return pa.concat_tables([table, pa.table(extra, schema=table.schema)])


@pytest.mark.parametrize(("data", "estimator", "params", "extra"), MODELS)
def test_compiled_model_scores_like_onnxruntime(
    data: str, estimator: str, params: str, extra: str
) -> None:
    model = trained(data, f"sklearn.{estimator}", params, extra)
    _assert_compiled_scores_like_onnxruntime(export_onnx(model).onnx_bytes, data)


def test_a_forest_in_the_earlier_layout_still_compiles_at_twice_the_size() -> None:
    # versions registered before binary forests were exported once keep their bytes
    model = trained("customers", f"sklearn.{MODELS[1][1]}", MODELS[1][2], MODELS[1][3])
    earlier = convert(model, compact_trees=False).SerializeToString()

    _assert_compiled_scores_like_onnxruntime(earlier, "customers")
    now = len(compile_model(export_onnx(model).onnx_bytes).sql("t"))
    assert 1.8 < len(compile_model(earlier).sql("t")) / now < 2.2


def _assert_compiled_scores_like_onnxruntime(onnx_bytes: bytes, data: str) -> None:
    rows = _unseen_rows(TABLES[data]())
    con = duckdb.connect()
    con.register("rows", rows)

    got = con.sql(compile_model(onnx_bytes).sql("rows")).to_arrow_table()
    signature = read_signature(onnx_bytes)
    expected = score_batch(make_session(onnx_bytes), signature, rows, [])

    assert got.column_names == expected.schema.names
    for name, sql_type in signature.score_columns:
        if sql_type == "DOUBLE":
            difference = np.abs(got.column(name).to_numpy() - expected.column(name).to_numpy())
            assert difference.max() < 1e-9, name
        else:
            assert got.column(name).to_pylist() == expected.column(name).to_pylist()


def test_keep_columns_come_first_and_queries_can_be_the_source() -> None:
    model = trained("diabetes", "sklearn.linear_model.Ridge")
    compiled = compile_model(export_onnx(model).onnx_bytes)
    con = duckdb.connect()
    con.register("patients", diabetes())

    sql = compiled.sql("(select row_number() over () as id, * from patients)", keep=["id"])
    rows = con.sql(f"{sql} order by id limit 2").fetchall()

    assert [r[0] for r in rows] == [1, 2]
    assert con.sql(sql).columns == ["id", "prediction"]


@pytest.mark.parametrize("dialect", ["postgres", "snowflake", "bigquery", "tsql", "spark"])
def test_compiled_sql_transpiles_to_other_dialects(dialect: str) -> None:
    model = trained("customers", "sklearn.ensemble.GradientBoostingClassifier", "{}", CUSTOMERS)
    compiled = compile_model(export_onnx(model).onnx_bytes)

    text = compiled.sql("analytics.customers", keep=["customer_id"], dialect=dialect)

    parsed = sqlglot.parse_one(text, read=dialect)
    assert [s.alias_or_name for s in parsed.selects] == [
        "customer_id",
        "predicted_class",
        "probability_0",
        "probability_1",
    ]
    assert parsed.find(sqlglot.exp.Case) is not None


def test_a_model_outside_the_compiler_says_which_operator() -> None:
    model = trained("breast_cancer", "sklearn.neighbors.KNeighborsClassifier")

    with pytest.raises(ScoringError) as caught:
        compile_model(export_onnx(model).onnx_bytes, "tumours")

    assert "does not translate ONNX operator" in caught.value.message
    assert caught.value.node == "tumours"
    assert "tree ensembles" in (caught.value.hint or "")


def test_each_tree_is_one_nested_case_over_bound_features() -> None:
    model = trained("breast_cancer", "sklearn.ensemble.RandomForestClassifier", "{n_estimators: 3}")
    compiled = compile_model(export_onnx(model).onnx_bytes)
    root_cases = [
        case
        for expression in compiled.bindings.values()
        for case in expression.find_all(sqlglot.exp.Case)
        if isinstance(case.args["ifs"][0].this, sqlglot.exp.LTE)
        and not isinstance(case.parent, sqlglot.exp.If | sqlglot.exp.Case)
    ]

    # three trees, for the positive class only; every comparison reads a bound column
    assert len(root_cases) == 3
    for comparison in compiled.select("t").find_all(sqlglot.exp.LTE):
        assert isinstance(comparison.this, sqlglot.exp.Column)
