"""Performance metrics against scikit-learn, and the robust z-score against NumPy."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    roc_auc_score,
    root_mean_squared_error,
)

from sqlml.engine.duckdb import DuckDBEngine
from sqlml.monitor.anomaly import freshness_series_sql, judge_point, volume_series_sql
from sqlml.monitor.performance import window_performance

TOLERANCE = 1e-9
SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
rows = st.lists(
    st.tuples(
        st.sampled_from([0, 1]),
        st.one_of(st.sampled_from([0.1, 0.5, 0.9]), st.floats(0.001, 0.999)),
        st.sampled_from(["w1", "w2"]),
    ),
    min_size=1,
    max_size=60,
)


@pytest.fixture(scope="module")
def engine() -> DuckDBEngine:
    return DuckDBEngine(":memory:")


def _load(engine: DuckDBEngine, data: list[tuple]) -> str:
    engine.execute("create or replace table d (y integer, score double, bucket varchar)")
    engine.execute(
        "insert into d values " + ", ".join(["(?, ?, ?)"] * len(data)), [v for r in data for v in r]
    )
    return "select bucket, y, score, (score >= 0.5)::INTEGER as prediction from d"


@SETTINGS
@given(data=rows)
def test_classification_metrics_match_sklearn(engine, data):
    results = {
        w.bucket: w for w in window_performance(engine, _load(engine, data), "classification")
    }
    for window in {r[2] for r in data}:
        y = np.array([r[0] for r in data if r[2] == window])
        s = np.array([r[1] for r in data if r[2] == window])
        got = results[window]
        assert got.labelled_rows == len(y)
        yhat = (s >= 0.5).astype(int)
        assert got.metrics["accuracy"] == pytest.approx(accuracy_score(y, yhat), abs=TOLERANCE)
        assert got.metrics["f1"] == pytest.approx(
            f1_score(y, yhat, zero_division=0.0), abs=TOLERANCE
        )
        assert got.metrics["log_loss"] == pytest.approx(
            log_loss(y, s, labels=[0, 1]), abs=TOLERANCE
        )
        if len(set(y)) == 2:
            assert got.metrics["auc"] == pytest.approx(roc_auc_score(y, s), abs=TOLERANCE)
        else:
            assert got.metrics["auc"] is None


@SETTINGS
@given(
    data=st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100)), min_size=1, max_size=50)
)
def test_regression_metrics_match_sklearn(engine, data):
    engine.execute("create or replace table r (y double, score double)")
    engine.execute(
        "insert into r values " + ", ".join(["(?, ?)"] * len(data)), [v for r in data for v in r]
    )
    (got,) = window_performance(engine, "select 'all' as bucket, y, score from r", "regression")
    y, s = np.array([r[0] for r in data]), np.array([r[1] for r in data])
    assert got.metrics["rmse"] == pytest.approx(root_mean_squared_error(y, s), abs=TOLERANCE)
    assert got.metrics["mae"] == pytest.approx(mean_absolute_error(y, s), abs=TOLERANCE)


def _robust_z(history: list[float], x: float) -> float:
    med = np.median(history)
    mad = np.median(np.abs(np.array(history) - med))
    return 0.6745 * (x - med) / mad


@SETTINGS
@given(counts=st.lists(st.integers(0, 1000), min_size=3, max_size=40), window=st.integers(2, 30))
def test_volume_robust_z_matches_numpy(engine, counts, window):
    start = date(2025, 1, 1)
    engine.execute("create or replace table t (ts timestamp)")
    stamps = [
        datetime.combine(start + timedelta(days=d), datetime.min.time()) + timedelta(minutes=i)
        for d, n in enumerate(counts)
        for i in range(n)
    ]
    if not stamps:
        return
    engine.execute("insert into t select unnest(?)", [stamps])
    # Days before the first row and after the last one are not part of the series.
    first = next(i for i, n in enumerate(counts) if n)
    last = max(i for i, n in enumerate(counts) if n)
    series = counts[first : last + 1]
    got = judge_point(engine, "row_count", volume_series_sql("t", "ts"), window)
    assert got.value == series[-1]
    baseline = series[:-1][-window:]
    assert got.points == len(baseline)
    if not baseline:
        assert got.z is None
        return
    med = np.median(baseline)
    mad = np.median(np.abs(np.array(baseline) - med))
    assert got.median == pytest.approx(med)
    if mad > 0:
        assert got.z == pytest.approx(_robust_z(baseline, series[-1]), abs=TOLERANCE)


def test_the_tested_point_is_not_in_its_baseline(engine):
    engine.execute("create or replace table v (day date, value double)")
    engine.execute(
        "insert into v select date '2025-01-01' + i::INTEGER, 100 + (i % 3) from range(10) t(i)"
    )
    engine.execute("insert into v values (date '2025-01-11', 10000)")
    got = judge_point(engine, "row_count", "select * from v", 28)
    assert got.points == 10
    assert got.median == 101
    assert got.z == pytest.approx(0.6745 * (10000 - 101) / 1)


def test_freshness_flags_a_long_silence(engine):
    engine.execute("create or replace table f (ts timestamp)")
    engine.execute(
        "insert into f select timestamp '2025-01-01' + i * interval 1 hour from range(24 * 10) t(i)"
    )
    last = datetime(2025, 1, 10, 23)
    series = freshness_series_sql("f", "ts", last + timedelta(hours=1))
    assert judge_point(engine, "hours_since_previous", series, 28).z == 0.0
    stale = judge_point(
        engine, "hours", freshness_series_sql("f", "ts", last + timedelta(days=2)), 28
    )
    assert stale.value == pytest.approx(48.0)
    assert stale.z == pytest.approx(1e9)
