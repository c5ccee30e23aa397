"""Models registered in a real DuckDB warehouse, and a real endpoint on loopback to ask."""

from __future__ import annotations

import functools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from sqlml.engine import Engine, connect
from sqlml.errors import ExecutionError
from sqlml.ml.onnx_export import export_onnx
from sqlml.ml.registry import promote, register_version
from sqlml.ml.train import TrainedModel
from tests.ml.helpers import customers, trained

S = "_sqlml"
LOGISTIC = "sklearn.linear_model.LogisticRegression"
FOREST = "sklearn.ensemble.RandomForestClassifier"


@functools.cache
def model(data: str, estimator: str, params: str = "{}") -> TrainedModel:
    """A model trained once per session (see tests.ml.helpers.trained)."""
    return trained(data, estimator, params)


@functools.cache
def onnx_of(data: str, estimator: str, params: str = "{}") -> bytes:
    return export_onnx(model(data, estimator, params)).onnx_bytes


# The churn model reads feature view columns: <view>__<feature>.
CHURN_FEATURES = ("customer__segment", "customer__tenure_months", "customer__monthly_spend")


@functools.cache
def churn_training_table() -> pa.Table:
    table = customers()
    renamed = {
        "segment": "customer__segment",
        "tenure_months": "customer__tenure_months",
        "monthly_spend": "customer__monthly_spend",
    }
    columns = {renamed[n]: table.column(n) for n in renamed}
    columns["churned"] = table.column("churned")
    return pa.table(columns)


@functools.cache
def churn_onnx(estimator: str = LOGISTIC, params: str = "{max_iter: 500}") -> bytes:
    """A churn model reading the three customer features (a logistic regression by default)."""
    from sqlml.ml.train import train
    from tests.ml.helpers import _spec_root, write_spec

    directory = Path(_spec_root().name) / f"serve-churn-{estimator}"
    spec = write_spec(
        directory,
        "owner: growth@shop.example\nrelation: ref('training_set')\ntarget: churned\n"
        f"task: classification\nestimator:\n  class: {estimator}\n  params: {params}\n",
    )
    return export_onnx(train(spec, churn_training_table())).onnx_bytes


def forest_onnx() -> bytes:
    """Another churn model, a small random forest: the next champion in tests."""
    return churn_onnx(FOREST, "{n_estimators: 5, max_depth: 3, random_state: 0}")


def register(
    warehouse: Path, name: str, onnx: bytes, *, champion: bool = True, **metrics: float
) -> int:
    """Register ``onnx`` as a new version of ``name`` (champion by default); its number."""
    engine = _open_for_writing(warehouse)
    try:
        version = register_version(
            engine, S, model=name, owner="ana@shop.example", onnx=onnx,
            spec_fingerprint="spec", data_fingerprint="data", params={},
            metrics=metrics or {"roc_auc": 0.9}, cv_metrics={}, importance={}, parity={},
            run_id=None,
        )  # fmt: skip
        if champion:
            promote(engine, S, name, version.version, reason="test")
        return version.version
    finally:
        engine.close()


def _open_for_writing(warehouse: Path) -> Engine:
    """Open for writing, waiting while a server in this process has the file open read-only
    (DuckDB refuses a second configuration of one file in one process, and says so at once:
    "different configuration" or "already attached")."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return connect(warehouse)
        except ExecutionError as exc:
            same_process = any(
                m in exc.message for m in ("different configuration", "already attached")
            )
            if not same_process or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def call(
    url: str,
    method: str = "GET",
    body: Any = None,
    *,
    token: str | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One HTTP request; the status and the parsed JSON answer."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition()`` holds; fail after a minute (never a timing assertion)."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)
