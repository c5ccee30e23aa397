"""Running monitors on a real DuckDB file: history, alerts to a loopback webhook, retraining."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sqlml.engine.duckdb import DuckDBEngine
from sqlml.monitor.checks import MonitorEnv
from sqlml.monitor.history import pending_retrains
from sqlml.monitor.profile import ProfileColumn, write_profile
from sqlml.monitor.run import MonitorSettings, run_monitor
from sqlml.monitor.spec import load_monitor

from .helpers import webhook_server

S = "_sqlml"


def setup_features(engine: DuckDBEngine) -> None:
    # Training data: 30 days x 100 customers; tenure uniform 0..99, plan a/b.
    engine.execute(
        "create table features as select date '2025-01-01' + (i // 100)::INTEGER as day, "
        "(i % 100)::DOUBLE as tenure, case when i % 3 = 0 then 'b' else 'a' end as plan, "
        "(i % 7 = 0)::INTEGER as churned, ((i % 100) / 100.0) as probability from range(3000) t(i)"
    )
    write_profile(
        engine, S, profile="churn", version=1, source_sql="select * from main.features",
        columns=[ProfileColumn("tenure", "numeric"), ProfileColumn("plan", "categorical")],
    )  # fmt: skip


@pytest.fixture
def engine(tmp_path: Path):
    engine = DuckDBEngine(tmp_path / "warehouse.duckdb")
    setup_features(engine)
    yield engine
    engine.close()


def env(engine: DuckDBEngine, run_id: str = "run1", **custom: str) -> MonitorEnv:
    return MonitorEnv(
        engine, S, run_id, datetime(2025, 2, 1, tzinfo=UTC),
        {"features": "main.features", "orders": "main.orders"}, custom,
    )  # fmt: skip


def monitor(tmp_path: Path, raw: dict, **kwargs):
    path = tmp_path / "ml" / "churn.yml"
    path.parent.mkdir(exist_ok=True)
    path.write_text("monitors: []\n")
    kwargs.setdefault("default_name", f"churn_{raw['type']}")
    return load_monitor(raw, path=path, display="ml/churn.yml", model="churn",
                        owner="growth@shop.example", **kwargs)  # fmt: skip


DRIFT = {
    "type": "drift",
    "relation": "ref('features')",
    "timestamp": "day",
    "window": "1 day",
    "on_failure": ["alert", "retrain"],
}


def test_a_normal_day_passes_and_records_history(engine, tmp_path):
    result = run_monitor(env(engine), monitor(tmp_path, DRIFT))
    assert result.status == "pass", result.summary()
    rows = engine.execute(
        f"select column_name, metric, status from {S}.monitor_results order by all"
    )
    assert ("tenure", "psi", "pass") in rows
    assert ("plan", "linf", "pass") in rows
    assert {r[1] for r in rows if r[0] == "tenure"} == {"psi", "js_distance", "ks", "wasserstein"}
    windows = engine.execute(f"select distinct window_start, window_end from {S}.monitor_results")
    assert windows == [(datetime(2025, 1, 29), datetime(2025, 1, 30))]
    assert engine.execute(f"select count(*) from {S}.monitor_alerts")[0][0] == 0
    bins = engine.execute(f"select count(*) from {S}.monitor_distributions")[0][0]
    assert bins > 10


def test_a_shifted_day_fails_alerts_the_owner_and_asks_for_retraining(engine, tmp_path):
    engine.execute(
        "insert into features select date '2025-01-31', 500 + i, 'c', 0, 0.9 from range(100) t(i)"
    )
    with webhook_server() as hook:
        settings = MonitorSettings(webhook=hook.url)
        result = run_monitor(env(engine), monitor(tmp_path, DRIFT), settings)
    assert result.status == "error"
    assert result.alert == "200"
    assert result.retrain == "requested"
    (payload,) = hook.received
    assert hook.headers[0]["Content-Type"] == "application/json"
    assert payload["owner"] == "growth@shop.example"
    assert payload["model"] == "churn" and payload["version"] == 1
    assert payload["severity"] == "error"
    flagged = {(m["metric"], m["column"]) for m in payload["metrics"]}
    assert {("psi", "tenure"), ("ks", "tenure"), ("linf", "plan")} <= flagged
    alerts = engine.execute(f"select owner, severity, webhook_status from {S}.monitor_alerts")
    assert alerts == [("growth@shop.example", "error", "200")]
    assert pending_retrains(engine, S) == ["churn"]
    # Within the cooldown, a second failure does not ask again.
    again = run_monitor(env(engine, "run2"), monitor(tmp_path, DRIFT))
    assert again.retrain == "cooldown"
    decisions = engine.execute(f"select decision from {S}.retrain_events order by requested_at")
    assert decisions == [("requested",), ("cooldown",)]


def test_an_unreachable_webhook_still_records_the_alert(engine, tmp_path):
    engine.execute(
        "insert into features select date '2025-01-31', null, null, 0, 0.5 from range(50)"
    )
    settings = MonitorSettings(webhook="http://127.0.0.1:9/nothing-listens-here")
    quality = {
        "type": "quality",
        "relation": "ref('features')",
        "timestamp": "day",
        "window": "1 day",
    }
    result = run_monitor(env(engine), monitor(tmp_path, quality), settings)
    assert result.status == "error"
    assert result.alert.startswith("error:")
    metrics = {(m.metric, m.column): m for m in result.metrics}
    assert metrics[("null_rate", "tenure")].value == 1.0
    assert metrics[("null_rate_delta", "tenure")].status == "error"
    (status,) = engine.execute(f"select webhook_status from {S}.monitor_alerts")[0]
    assert status.startswith("error:")


def test_schema_change_is_a_quality_error(engine, tmp_path):
    engine.execute("alter table features drop column plan")
    quality = {"type": "quality", "relation": "ref('features')"}
    result = run_monitor(env(engine), monitor(tmp_path, quality))
    changes = next(m for m in result.metrics if m.metric == "schema_changes")
    assert changes.status == "error"
    assert changes.message == "plan missing"


def test_volume_anomaly_against_its_own_history(engine, tmp_path):
    volume = {"type": "volume", "relation": "ref('features')", "timestamp": "day"}
    result = run_monitor(env(engine), monitor(tmp_path, volume))
    assert result.status == "pass"
    engine.execute("insert into features select date '2025-01-31', 1, 'a', 0, 0.1 from range(900)")
    spiked = run_monitor(env(engine, "run2"), monitor(tmp_path, volume))
    assert spiked.status == "error"
    z = next(m for m in spiked.metrics if m.metric == "row_count_z")
    assert z.value == pytest.approx(1e9)  # a perfectly steady baseline: any change is extreme


def test_custom_monitor_metrics_and_failing_rows(engine, tmp_path):
    custom = {
        "type": "custom",
        "thresholds": {"churn_rate": {"warn": 0.1, "error": "> 0.5"}, "rows": "< 1"},
    }
    sql = "select 'churn_rate' as name, avg(churned) as value from main.features"
    spec = monitor(tmp_path, custom, sql=sql)
    result = run_monitor(env(engine, custom_sql=sql), spec)
    assert result.status == "warn"
    (metric,) = result.metrics
    assert metric.value == pytest.approx(429 / 3000)
    rows = {"type": "custom", "returns": "rows"}
    failing = "select * from main.features where tenure > 98"
    result = run_monitor(env(engine), monitor(tmp_path, rows, sql=failing))
    assert result.status == "error"
    assert result.metrics[0].value == 30


def test_a_broken_custom_monitor_fails_and_is_recorded(engine, tmp_path):
    spec = monitor(tmp_path, {"type": "custom"}, sql="select 1 as a")
    result = run_monitor(env(engine), spec)
    assert result.status == "failed"
    assert "must return columns (name, value)" in result.message
    assert engine.execute(f"select status from {S}.monitor_results") == [("failed",)]


def test_performance_per_window_with_relative_thresholds(engine, tmp_path):
    perf = {
        "type": "performance",
        "relation": "ref('features')",
        "timestamp": "day",
        "performance": {"label": "churned", "score": "probability", "min_rows": 50},
        "thresholds": {"accuracy": "< 0.99"},
    }
    result = run_monitor(env(engine), monitor(tmp_path, perf))
    windows = {m.window_end for m in result.metrics}
    assert len(windows) == 28  # the default history keeps the newest 28 windows
    accuracy = [m for m in result.metrics if m.metric == "accuracy"]
    assert all(m.status == "error" and m.n_rows == 100 for m in accuracy)


def test_a_first_window_reference_is_frozen_once_and_judges_later_windows(engine, tmp_path):
    first = monitor(tmp_path, {**DRIFT, "reference": "first_window"})
    result = run_monitor(env(engine), first)
    # The first window is its own reference: every figure is 0.
    assert result.status == "pass"
    assert {m.value for m in result.metrics if m.metric in ("psi", "ks", "linf")} == {0.0}
    frozen = (
        f"select version, run_id, sum(n) from {S}.reference_profiles where profile = ? group by all"
    )
    assert engine.execute(frozen, ["churn_drift"]) == [(1, "run1", 200)]
    # The next day is like the first: it passes. A shifted day fails against the frozen window.
    engine.execute(
        "insert into features select date '2025-01-31', i % 100, case when i % 3 = 0 then 'b' "
        "else 'a' end, 0, 0.5 from range(3000, 3100) t(i)"
    )
    assert run_monitor(env(engine, "run2"), first).status == "pass"
    engine.execute(
        "insert into features select date '2025-02-01', 500 + i, 'c', 0, 0.9 from range(100) t(i)"
    )
    shifted = run_monitor(env(engine, "run3"), first)
    assert shifted.status == "error"
    assert {(m.metric, m.column) for m in shifted.flagged} >= {("psi", "tenure"), ("linf", "plan")}
    assert engine.execute(frozen, ["churn_drift"]) == [(1, "run1", 200)]


def test_a_first_window_prediction_reference_compares_scores_with_the_first_scores(
    engine, tmp_path
):
    write_profile(
        engine, S, profile="churn", version=1,
        source_sql="select *, probability as prediction from main.features",
        columns=[ProfileColumn("tenure", "numeric"),
                 ProfileColumn("prediction", "numeric", "prediction")],
    )  # fmt: skip
    engine.execute("create table scores as select * from features")
    scores = {"type": "prediction_drift", "relation": "ref('scores')", "column": "probability",
              "timestamp": "day", "window": "1 day", "reference": "first_window"}  # fmt: skip
    watch = monitor(tmp_path, scores)
    environment = MonitorEnv(
        engine, S, "run1", datetime(2025, 2, 1, tzinfo=UTC), {"scores": "main.scores"}
    )
    assert run_monitor(environment, watch).status == "pass"
    engine.execute(
        "insert into scores select date '2025-01-31', 1, 'a', 0, 0.99 from range(100) t(i)"
    )
    result = run_monitor(environment, watch)
    assert result.status == "error"
    assert {m.column for m in result.flagged} == {"prediction"}
    frozen = f"select column_name, role from {S}.reference_profiles where profile = ?"
    assert engine.execute(frozen, ["churn_prediction_drift"]) == [("prediction", "prediction")]
