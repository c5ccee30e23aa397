"""The endpoint on a real uvicorn server on loopback, over a real DuckDB warehouse."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pytest

from sqlml.engine import connect
from sqlml.ml.features import FeatureColumn, onnx_inputs, prepare_features
from sqlml.ml.pointintime import FeatureView
from sqlml.serve.app import ServeSettings
from sqlml.serve.contract import read_contract, rows_to_feed
from sqlml.serve.entities import EntitySource
from sqlml.serve.server import ServeOptions, ServerThread
from sqlml.serve.state import Refresher
from tests.serve.helpers import (
    CHURN_FEATURES,
    S,
    call,
    churn_onnx,
    churn_training_table,
    forest_onnx,
    register,
    wait_for,
)

TOKEN = "s3cret-token"
LIMIT = 20_000
NOW = datetime.now(UTC)
CUSTOMER = FeatureView(
    "customer",
    '"main"."customer_features"',
    ("customer_id",),
    "updated_at",
    ("segment", "tenure_months", "monthly_spend"),
    ttl_s=30 * 86400,
)


def write_features(warehouse: Path) -> None:
    """Customer 1 has two rows (the later one counts), 2 one current row, 3 only a row older
    than the view's TTL, 4 a row in the future."""
    engine = connect(warehouse)
    try:
        engine.execute(
            "create or replace table customer_features (customer_id bigint, "
            "updated_at timestamp, segment varchar, tenure_months bigint, monthly_spend double)"
        )
        rows = [
            (1, NOW - timedelta(days=20), "mid", 3, 10.0),
            (1, NOW - timedelta(days=1), "smb", 4, 120.5),
            (2, NOW - timedelta(days=2), None, 40, None),
            (3, NOW - timedelta(days=90), "enterprise", 50, 300.0),
            (4, NOW + timedelta(days=5), "smb", 1, 1.0),
        ]
        for row in rows:
            engine.execute(
                "insert into customer_features values (?, ?::timestamptz::timestamp, ?, ?, ?)",
                [row[0], row[1].isoformat(), *row[2:]],
            )
    finally:
        engine.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    warehouse = tmp_path_factory.mktemp("serve") / "warehouse.duckdb"
    write_features(warehouse)
    register(warehouse, "churn", churn_onnx(), roc_auc=0.71)
    register(warehouse, "retired", churn_onnx(), champion=False)
    sources = {"churn": EntitySource(("customer_id",), (CUSTOMER,))}
    refresher = Refresher(warehouse, S, sources)
    refresher.refresh()
    settings = ServeSettings(token=TOKEN, max_body_bytes=LIMIT, max_rows=500)
    options = ServeOptions(port=0, poll_s=0.05, log_level="warning")
    with ServerThread(refresher, settings, options) as server:
        yield server


def post(server: ServerThread, body: Any, model: str = "churn", **kwargs: Any) -> tuple[int, Any]:
    url = f"{server.url}/v1/models/{model}/predict"
    return call(url, "POST", body, token=kwargs.pop("token", TOKEN), **kwargs)


def expected(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What onnxruntime says for these rows, in the endpoint's shape."""
    session = ort.InferenceSession(churn_onnx(), providers=["CPUExecutionProvider"])
    label, probabilities = session.run(None, rows_to_feed(read_contract(churn_onnx()), rows))
    return [
        {"label": int(lab), "probabilities": {"0": float(p[0]), "1": float(p[1])}}
        for lab, p in zip(label, probabilities, strict=True)
    ]


def training_rows(n: int) -> list[dict[str, Any]]:
    table = churn_training_table().select(list(CHURN_FEATURES)).slice(0, n)
    return table.to_pylist()


def test_health_is_open_and_says_ok(served: ServerThread) -> None:
    assert call(f"{served.url}/v1/health") == (
        200,
        {
            "status": "ok",
            "models": 1,
            "refreshed_at": served.refresher.state.refreshed_at.isoformat(),
        },  # type: ignore[union-attr]
    )


def test_metadata_names_version_sha_inputs_metrics_and_keys(served: ServerThread) -> None:
    status, document = call(f"{served.url}/v1/models/churn", token=TOKEN)

    assert status == 200
    assert document["version"] == 1
    assert document["sha256"] == hashlib.sha256(churn_onnx()).hexdigest()
    assert document["inputs"] == [
        {"name": "customer__segment", "type": "string"},
        {"name": "customer__tenure_months", "type": "double"},
        {"name": "customer__monthly_spend", "type": "double"},
    ]
    assert document["metrics"] == {"roc_auc": 0.71}
    assert document["classes"] == [0, 1]
    assert document["entity_keys"] == ["customer_id"]
    assert document["entities"] == 3  # customer 4 only has a row in the future
    assert document["key_inputs"] == []
    assert call(f"{served.url}/v1/models", token=TOKEN) == (200, {"models": [document]})


def test_one_row_is_scored_as_onnxruntime_scores_it(served: ServerThread) -> None:
    rows = training_rows(1)

    status, document = post(served, {"rows": rows})

    assert status == 200
    assert document == {"model": "churn", "version": 1, "predictions": expected(rows)}


def test_a_batch_of_a_hundred_rows_keeps_its_order(served: ServerThread) -> None:
    rows = training_rows(100)
    rows[5]["customer__segment"] = None  # NULLs are allowed, as in training
    rows[6]["customer__monthly_spend"] = None

    status, document = post(served, {"rows": rows})

    assert status == 200
    assert document["predictions"] == expected(rows)
    assert len({json.dumps(p) for p in document["predictions"]}) > 10


def test_columns_the_model_does_not_read_are_ignored(served: ServerThread) -> None:
    rows = training_rows(2)

    status, document = post(served, {"rows": [{**r, "note": "vip"} for r in rows]})

    assert status == 200
    assert document["predictions"] == expected(rows)


def test_entity_keys_score_the_latest_feature_values(served: ServerThread) -> None:
    status, document = post(served, {"keys": [{"customer_id": 2}, {"customer_id": 1}]})

    assert status == 200
    latest = [
        {"customer__segment": None, "customer__tenure_months": 40, "customer__monthly_spend": None},
        {
            "customer__segment": "smb",
            "customer__tenure_months": 4,
            "customer__monthly_spend": 120.5,
        },
    ]
    predictions = [{"customer_id": k, **p} for k, p in zip((2, 1), expected(latest), strict=True)]
    assert document == {"model": "churn", "version": 1, "predictions": predictions}


def refusal(status: int, code: str, message: str, hint: str | None = None) -> tuple[int, Any]:
    error = {"code": code, "message": message, **({"hint": hint} if hint else {})}
    return status, {"error": error}


def test_a_missing_column_is_a_422_naming_row_and_column(served: ServerThread) -> None:
    rows = training_rows(3)
    del rows[2]["customer__tenure_months"]

    assert post(served, {"rows": rows}) == refusal(
        422,
        "missing_column",
        "row 2 has no column 'customer__tenure_months'; missing: customer__tenure_months",
        "every row needs every input column of the model (null for an unknown value); "
        "see them at GET /v1/models/{name}",
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            "customer__tenure_months",
            "12",
            "expected a number (or null) for a double input, got a string '12'",
        ),
        (
            "customer__tenure_months",
            True,
            "expected a number (or null) for a double input, got a boolean True",
        ),
        (
            "customer__segment",
            1.5,
            "expected a string (or null) for a string input, got a number 1.5",
        ),
        (
            "customer__segment",
            ["smb"],
            "expected a string (or null) for a string input, got a list ",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_a_422(
    served: ServerThread, column: str, value: Any, message: str
) -> None:
    rows = training_rows(2)
    rows[1][column] = value

    assert post(served, {"rows": rows}) == refusal(
        422,
        "wrong_type",
        f"row 1, column '{column}': {message}",
        "send numbers for numeric columns and text for categorical ones, as in training",
    )


def test_an_unknown_model_is_a_404_with_a_suggestion(served: ServerThread) -> None:
    assert post(served, {"rows": training_rows(1)}, model="chrun") == refusal(
        404, "unknown_model", "no model 'chrun' is served", "did you mean 'churn'?"
    )


def test_a_model_without_champion_is_a_404_saying_how_to_promote(served: ServerThread) -> None:
    assert post(served, {"rows": training_rows(1)}, model="retired") == refusal(
        404,
        "no_champion",
        "model 'retired' has no champion to serve",
        "promote a version: `sqlml models promote retired VERSION`",
    )


def test_an_oversized_body_is_a_413(served: ServerThread) -> None:
    rows = training_rows(1) * 300
    body = json.dumps({"rows": rows}).encode()
    assert LIMIT < len(body) < 3 * LIMIT

    assert post(served, None, raw=body) == refusal(
        413,
        "body_too_large",
        f"the request body exceeds {LIMIT} bytes",
        "send fewer rows per request, or start the server with a larger --max-body",
    )


def test_a_chunked_body_is_cut_off_at_the_limit_too(served: ServerThread) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"rows": ['
        for _ in range(LIMIT // 10):
            yield b"{},{},{},,"

    status, document = post(
        served,
        None,
        raw=chunks(),
        headers={"Transfer-Encoding": "chunked"},  # type: ignore[arg-type]
    )

    assert (status, document["error"]["code"]) == (413, "body_too_large")


@pytest.mark.parametrize(
    ("token", "message", "hint"),
    [
        (
            None,
            "this endpoint needs a bearer token",
            "send the header `Authorization: Bearer <token>`",
        ),
        ("wrong", "the bearer token is not valid", None),
    ],
)
def test_a_missing_or_bad_token_is_a_401(
    served: ServerThread, token: str | None, message: str, hint: str | None
) -> None:
    assert post(served, {"rows": training_rows(1)}, token=token) == refusal(
        401, "unauthorized", message, hint
    )
    assert call(f"{served.url}/v1/models/churn", token=token)[0] == 401


def test_bad_json_is_a_400(served: ServerThread) -> None:
    status, document = post(served, None, raw=b'{"rows": [')

    assert status == 400
    assert document["error"]["code"] == "invalid_json"
    assert document["error"]["message"].startswith("the request body is not valid JSON: ")


@pytest.mark.parametrize(
    "body",
    [[], {"rows": [], "keys": []}, {"rows": []}, {"rows": "x"}, {"rows": [1]}, {"keys": [[1]]}],
)
def test_a_body_of_the_wrong_shape_is_a_422(served: ServerThread, body: Any) -> None:
    status, document = post(served, body)

    assert status == 422
    assert document["error"]["code"] in {"invalid_body", "invalid_row", "invalid_key"}


def test_too_many_rows_is_a_413(served: ServerThread) -> None:
    status, document = post(served, {"keys": [{"customer_id": 1}] * 501})

    assert status == 413
    assert document["error"]["message"] == "501 keys in one request; the limit is 500"


def test_unknown_or_expired_entities_are_a_404_naming_them(served: ServerThread) -> None:
    # 3 only has a row older than the TTL, 4 only one in the future, 9 none at all.
    keys = [{"customer_id": k} for k in (1, 3, 4, 9)]

    assert post(served, {"keys": keys}) == refusal(
        404,
        "unknown_entity",
        "no current features for customer_id=4; customer_id=9",
        "the feature views have no row for this key, or only rows older than their ttl; "
        "send the feature values as rows instead",
    )
    status, document = post(served, {"keys": [{"customer_id": 3}]})
    assert (status, document["error"]["message"]) == (
        404,
        "no current features for customer_id=3",
    )


def test_a_key_of_the_wrong_type_is_a_422(served: ServerThread) -> None:
    assert post(served, {"keys": [{"customer_id": "1"}]}) == refusal(
        422,
        "wrong_type",
        "key 0, field 'customer_id': expected an integer, got '1'",
        "send key values with the type of the feature views' key column",
    )


def test_unknown_routes_and_methods_answer_json(served: ServerThread) -> None:
    status, document = call(f"{served.url}/v1/nothing", token=TOKEN)
    assert (status, document["error"]["message"]) == (404, "no such endpoint: GET /v1/nothing")
    status, document = call(f"{served.url}/v1/models/churn", "DELETE", token=TOKEN)
    assert (status, document["error"]["code"]) == (405, "method_not_allowed")


def test_a_new_champion_is_served_without_restart(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    register(warehouse, "churn", churn_onnx())
    refresher = Refresher(warehouse, S)
    refresher.refresh()
    options = ServeOptions(port=0, poll_s=0.02, log_level="warning")
    rows = training_rows(20)
    with ServerThread(refresher, ServeSettings(), options) as server:
        assert post(server, {"rows": rows}, token=None)[1]["version"] == 1
        other = forest_onnx()
        register(warehouse, "churn", other)
        wait_for(lambda: call(f"{server.url}/v1/models/churn")[1]["version"] == 2, "version 2")
        status, document = post(server, {"rows": rows}, token=None)

    assert status == 200
    assert document["version"] == 2
    session = ort.InferenceSession(other, providers=["CPUExecutionProvider"])
    _, probabilities = session.run(None, rows_to_feed(read_contract(other), rows))
    got = [p["probabilities"]["1"] for p in document["predictions"]]
    assert np.allclose(got, probabilities[:, 1], rtol=0, atol=1e-12)
    assert document["predictions"] != expected(rows)


def test_a_tampered_champion_is_refused_and_the_old_one_kept(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    register(warehouse, "churn", churn_onnx())
    refresher = Refresher(warehouse, S)
    refresher.refresh()
    register(warehouse, "churn", forest_onnx())
    engine = connect(warehouse)
    engine.execute(f"update {S}.model_versions set onnx = onnx || 'x'::blob where version = 2")
    engine.close()

    refresher.refresh()

    assert refresher.state.models["churn"].version == 1
    assert refresher.state.problem is not None
    assert refresher.state.problem.startswith("model 'churn': model 'churn' version 2: ONNX bytes")
    assert refresher.state.problem.endswith("; still serving version 1")


def test_features_come_from_the_warehouse_only_when_it_changed(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    register(warehouse, "churn", churn_onnx())
    opened: list[Path] = []

    def open_engine(path: Path) -> Any:
        opened.append(path)
        return connect(path, read_only=True)

    refresher = Refresher(warehouse, S, open_engine=open_engine)
    assert refresher.poll().read
    assert [refresher.poll().read for _ in range(5)] == [False] * 5
    register(warehouse, "churn", churn_onnx())
    assert refresher.poll().read
    assert len(opened) == 2
    assert refresher.state.models["churn"].version == 2


def test_onnx_inputs_and_rows_to_feed_agree() -> None:
    rows = training_rows(50)
    table = pa.Table.from_pylist(rows)
    contract = read_contract(churn_onnx())
    features = [
        FeatureColumn(c.name, "numeric" if c.type == "double" else "categorical", "")
        for c in contract.inputs
    ]
    training = onnx_inputs(prepare_features(table, features))
    served = rows_to_feed(contract, rows)
    for name, values in training.items():
        assert served[name].dtype == values.dtype
        assert [str(v) for v in served[name].ravel()] == [str(v) for v in values.ravel()]


def test_inputs_the_views_lack_are_sent_with_each_key(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    write_features(warehouse)
    register(warehouse, "churn", churn_onnx())
    # This view has no monthly_spend: the model's input customer__monthly_spend comes along.
    view = FeatureView(
        "customer", CUSTOMER.relation, ("customer_id",), "updated_at", ("segment", "tenure_months")
    )
    refresher = Refresher(warehouse, S, {"churn": EntitySource(("customer_id",), (view,))})
    refresher.refresh()
    options = ServeOptions(port=0, log_level="warning")
    with ServerThread(refresher, ServeSettings(), options) as server:
        metadata = call(f"{server.url}/v1/models/churn")[1]
        given = [{"customer_id": 1, "customer__monthly_spend": 55.0}]
        answered = post(server, {"keys": given}, token=None)
        refused = post(server, {"keys": [{"customer_id": 1}]}, token=None)

    assert metadata["key_inputs"] == ["customer__monthly_spend"]
    latest = {"customer__segment": "smb", "customer__tenure_months": 4}
    row = {**latest, "customer__monthly_spend": 55.0}
    assert answered == (
        200,
        {"model": "churn", "version": 1, "predictions": [{"customer_id": 1, **expected([row])[0]}]},
    )
    assert refused[0] == 422
    assert refused[1]["error"]["message"] == (
        "key 0 has no column 'customer__monthly_spend'; missing: customer__monthly_spend"
    )
