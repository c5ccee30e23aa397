"""Training data for the ML tests: scikit-learn's real data sets and a synthetic customer table,
each loaded into an in-memory DuckDB and read back as Arrow, as sqlml reads training data."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from sqlml.errors import ConfigError
from sqlml.ml.spec import MLSpec, load_spec
from sqlml.ml.train import TrainedModel, train
from sqlml.ml.validate import check_spec


def through_duckdb(table: pa.Table, sql: str = "select * from src") -> pa.Table:
    """Land ``table`` in an in-memory DuckDB and read ``sql`` back through Arrow."""
    con = duckdb.connect()
    con.register("src_arrow", table)
    con.execute("create table src as select * from src_arrow")
    return con.sql(sql).to_arrow_table()


def _from_sklearn(loader: Any, target: Any = None) -> pa.Table:
    data = loader()
    columns = {n.replace(" ", "_"): data.data[:, i] for i, n in enumerate(data.feature_names)}
    columns["target"] = data.target if target is None else target(data)
    return through_duckdb(pa.table(columns))


@functools.cache
def breast_cancer() -> pa.Table:
    """569 tumours, 30 numeric features, target 1 = benign."""
    from sklearn.datasets import load_breast_cancer

    return _from_sklearn(load_breast_cancer)


@functools.cache
def diabetes() -> pa.Table:
    """442 patients, 10 numeric features, target: disease progression after a year."""
    from sklearn.datasets import load_diabetes

    return _from_sklearn(load_diabetes)


@functools.cache
def iris() -> pa.Table:
    """150 flowers, 4 numeric features, target: the species' name (three classes)."""
    from sklearn.datasets import load_iris

    return _from_sklearn(load_iris, lambda d: d.target_names[d.target].astype(str))


@functools.cache
def customers(n: int = 800, seed: int = 7) -> pa.Table:
    """Synthetic monthly customer snapshots with categories, booleans, dates and NULLs.

    ``churned`` depends mostly on ``segment`` and ``tenure_months``, a little on ``is_active``
    and ``monthly_spend``; ``region`` is noise.
    """
    rng = np.random.default_rng(seed)
    segment = rng.choice(np.array(["smb", "mid", "enterprise"], dtype=object), n)
    region = rng.choice(np.array(["north", "south", "east", "west"], dtype=object), n)
    tenure = rng.integers(1, 60, n)
    active = rng.random(n) < 0.7
    spend = rng.gamma(2.0, 50.0, n)
    logit = -0.5 + 2.5 * (segment == "smb") - 0.06 * tenure + 0.8 * ~active + 0.004 * spend
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    segment[rng.random(n) < 0.1] = None
    region[rng.random(n) < 0.1] = None
    spend_with_nulls = pa.array(spend, mask=rng.random(n) < 0.1)
    table = pa.table(
        {
            "customer_id": rng.integers(1, n // 4, n),
            "snapshot_month": rng.integers(0, 12, n),
            "segment": pa.array(segment, type=pa.string()),
            "region": pa.array(region, type=pa.string()),
            "tenure_months": tenure,
            "is_active": active,
            "monthly_spend": spend_with_nulls,
            "churned": churned,
        }
    )
    return through_duckdb(
        table,
        "select * replace ((date '2024-01-01' + to_months(snapshot_month::int))::date"
        " as snapshot_month), (date '2020-01-01' + to_days(tenure_months::int))::date"
        " as signup_date from src",
    )


def write_spec(directory: Path, text: str, name: str = "model") -> MLSpec:
    """Write ``ml/<name>.yml`` under ``directory`` and load it."""
    path = directory / "ml" / f"{name}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return load_spec(path, f"ml/{name}.yml")


RF = "sklearn.ensemble.RandomForestClassifier"


def spec_at(
    directory: Path,
    estimator: str = RF,
    params: str = "{}",
    extra: str = "",
    *,
    task: str = "classification",
    target: str = "target",
) -> MLSpec:
    """Write and load a spec with this estimator under ``directory``."""
    return write_spec(directory, spec_text(task, estimator, params, extra, target))


def spec_error(directory: Path, *args: str, **kwargs: str) -> str:
    """The ConfigError text `check_spec` raises for `spec_at(directory, *args, **kwargs)`."""
    with pytest.raises(ConfigError) as caught:
        check_spec(spec_at(directory, *args, **kwargs))
    return caught.value.render()


def spec_text(
    task: str, estimator: str, params: str = "{}", extra: str = "", target: str = "target"
) -> str:
    """A spec's YAML with the given estimator; ``extra`` is appended as more top-level keys."""
    return (
        "owner: ml-team\n"
        "relation: ref('training_set')\n"
        f"target: {target}\n"
        f"task: {task}\n"
        "estimator:\n"
        f"  class: {estimator}\n"
        f"  params: {params}\n" + extra
    )


@functools.cache
def _spec_root() -> tempfile.TemporaryDirectory[str]:
    # Specs stay on disk for the whole session: errors read them to find a key's line.
    return tempfile.TemporaryDirectory(prefix="sqlml-ml-")


@functools.cache
def trained(data: str, estimator: str, params: str = "{}", extra: str = "") -> TrainedModel:
    """A model trained once per test session on a table above, named by its function."""
    tables = {"breast_cancer": breast_cancer, "diabetes": diabetes, "iris": iris}
    table, target = tables.get(data, customers), "target" if data in tables else "churned"
    task = "regression" if data == "diabetes" else "classification"
    directory = Path(_spec_root().name) / str(len(list(Path(_spec_root().name).iterdir())))
    spec = write_spec(directory, spec_text(task, estimator, params, extra, target))
    return train(spec, table())
