"""The example project at the repository root, built end to end from a copy."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqlml import Context
from sqlml.cli.main import cli
from tests.monitor.helpers import webhook_server
from tests.runner.helpers import query

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = {
    "customer_support__tickets_to_date",
    "customer_support__high_priority_tickets_to_date",
    "customer_support__last_ticket_category",
}
PROJECT_FILES = [
    "project.yml",
    "models",
    "macros",
    "seeds",
    "snapshots",
    "data_tests",
    "features",
    "ml",
    "data/raw",
    "exports",
    "monitors",
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example project, built once with `build` for the tests below."""
    root = tmp_path_factory.mktemp("shop")
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, root / name)
    result = Context(root).build()
    assert result.success, [(r.node, r.message) for r in result.results if r.message]
    return root


def test_every_node_of_the_example_builds_and_passes_its_tests(shop: Path) -> None:
    result = Context(shop).build()

    kinds = {r.kind for r in result.results}
    assert kinds == {
        "seed",
        "source",
        "model",
        "snapshot",
        "feature_view",
        "training",
        "scoring",
        "test",
        "export",
        "monitor",
    }
    assert result.success
    assert all(r.status == "success" for r in result.results)


def test_a_second_run_succeeds(shop: Path) -> None:
    assert Context(shop).run().success


def test_high_risk_customers_are_exported_to_a_file(shop: Path) -> None:
    import pyarrow.csv as csv

    exported = csv.read_csv(shop / "target" / "exports" / "high_risk_customers.csv")
    expected = query(
        shop,
        "select customer_id from marts.customer_churn_risk where churn_risk = 'high' order by all",
    )
    assert sorted(exported.column("customer_id").to_pylist()) == [i for (i,) in expected]


def test_the_example_unit_test_passes(shop: Path) -> None:
    results = Context(shop).unit_test()

    assert [(r.name, r.status) for r in results] == [
        ("order_totals_add_items_and_shipping", "pass")
    ]


def test_a_failing_data_test_skips_the_right_downstream(shop: Path) -> None:
    staging = shop / "models/staging/_staging.yml"
    original = staging.read_text()
    # Leave 'cancelled' out of the accepted statuses: the example data has cancelled orders.
    staging.write_text(
        original.replace(
            "values: [placed, shipped, delivered, returned, cancelled]",
            "values: [placed, shipped, delivered, returned]",
        )
    )
    try:
        result = CliRunner().invoke(cli, ["build", "--project-dir", str(shop)])
        statuses = {}
        for line in result.stdout.splitlines():
            parts = line.split()
            if len(parts) > 2 and "/" in parts[0]:
                statuses[parts[2]] = parts[1]
    finally:
        staging.write_text(original)

    assert result.exit_code == 1
    failed = [name for name, status in statuses.items() if status == "ERROR"]
    assert len(failed) == 1 and failed[0].startswith("accepted_values_stg_orders_status")
    # Everything reading stg_orders waits for its tests, and is skipped...
    for node in ["int_order_totals", "fct_orders", "dim_customers", "customer_lifetime_value"]:
        assert statuses[node] == "SKIP", node
    # ...while what does not depend on orders is built.
    for node in ["stg_events", "int_sessions", "funnel_daily", "stg_products"]:
        assert statuses[node] == "OK", node
    assert "Error: " in result.stderr and "accepted_values_stg_orders_status" in result.stderr


def test_both_example_models_are_trained_once_and_registered(shop: Path) -> None:
    again = Context(shop).run(["kind:training"])
    models = Context(shop).models()
    churn = Context(shop).model("churn").versions[-1]

    assert [(m.model, m.owner, m.versions, m.aliases) for m in models] == [
        ("churn", "growth-analytics", 1, {"champion": 1}),
        ("customer_spend_30d", "finance-analytics", 1, {"champion": 1}),
    ]
    assert [r.message.split(":")[0] for r in again.results if r.message] == ["unchanged"] * 2
    assert churn.metrics["roc_auc"] > 0.7 and churn.parity["max_abs_diff"] < 1e-9


def test_churn_scores_feed_the_marts_model(shop: Path) -> None:
    scored = query(
        shop,
        "select count(*), count(distinct customer_id), min(model_version), max(model_version), "
        "bool_and(abs(probability_0 + probability_1 - 1) < 1e-9) from churn_scores",
    )
    customers = query(shop, "select count(*) from churn_scoring_spine")
    bands = query(
        shop,
        "select churn_risk, count(*) from marts.customer_churn_risk group by all order by all",
    )

    assert scored == [(customers[0][0], customers[0][0], 1, 1, True)]
    assert sum(n for _, n in bands) == customers[0][0]
    assert {band for band, _ in bands} <= {"high", "medium", "low"}
    rerun = Context(shop).run(["churn_scores"])
    assert [(r.node, r.rows) for r in rerun.results] == [("churn_scores", 0)]


@pytest.mark.slow
def test_a_new_day_of_data_records_customer_history(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs last: it appends a day to the copy's data."""
    # DuckDB tries relative paths against the working directory first: from the repository
    # root, data/raw would be the repository's own files, not the copy's.
    monkeypatch.chdir(shop)
    snapshot = "snapshots.customers_snapshot"
    before = _rows(shop, f"select count(*) from {snapshot}")[0][0]
    generate = [sys.executable, str(ROOT / "data/generate.py"), "--out", str(shop / "data/raw")]
    subprocess.run(
        [*generate, "--append-day", "--seed", "42"],
        check=True,
        capture_output=True,
    )

    with webhook_server() as hook:
        monkeypatch.setenv("SQLML_ALERT_WEBHOOK", hook.url)
        result = Context(shop).run()

    assert result.success
    # A normal day: every monitor passes, so the webhook hears nothing. The churn monitors
    # judge today's scored rows and scores against the first day's (frozen by the build).
    # (churn_performance has no labels to judge yet: it is skipped, which does not fail.)
    monitors = ["orders_volume", "daily_order_value", "churn_drift", "churn_prediction_drift"]
    statuses = {r.node: r.status for r in result.results if r.kind == "monitor"}
    assert statuses == dict.fromkeys([*monitors, "churn_performance"], "success")
    assert hook.received == []
    assert _rows(shop, "select count(*) from _sqlml.monitor_alerts") == [(0,)]
    churn = _rows(
        shop,
        "select count(distinct column_name), max(value) from _sqlml.monitor_results "
        "where monitor = 'churn_drift' and run_id = ?",
        [result.run_id],
    )
    assert churn[0][0] == 12 and churn[0][1] < 0.1  # every feature of the model, all quiet
    changes = _rows(
        shop,
        "select count(*), count(*) filter (where country_changed), "
        "count(*) filter (where marketing_opt_in_changed) from marts.fct_customer_changes",
    )[0]
    assert changes[0] > 0 and changes[1] > 0 and changes[2] > 0
    versions, current = _rows(
        shop, f"select count(*), count(*) filter (where sqlml_valid_to is null) from {snapshot}"
    )[0]
    # Each change closed one version and added one; new customers added one each.
    assert versions - current == changes[0]
    assert versions > before
    assert _rows(shop, "select count(*) - count(distinct customer_id) from main.stg_customers") == [
        (0,)
    ]


@pytest.mark.slow
def test_a_shifted_day_fails_the_monitors_alerts_and_shows_in_the_report(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs after the normal day above: a day of shifted data is caught."""
    monkeypatch.chdir(shop)
    generate = [sys.executable, str(ROOT / "data/generate.py"), "--out", str(shop / "data/raw")]
    subprocess.run([*generate, "--append-day", "--shifted", "--seed", "42"], check=True,
                   capture_output=True)  # fmt: skip

    with webhook_server() as hook:
        monkeypatch.setenv("SQLML_ALERT_WEBHOOK", hook.url)
        result = CliRunner().invoke(cli, ["run", "--project-dir", str(shop)], prog_name="sqlml")

    assert result.exit_code == 1
    assert "ERROR orders_volume" in result.output
    assert "ERROR daily_order_value" in result.output
    # Support was flooded: exactly the support features drift, and the model is retrained.
    assert "ERROR churn_drift" in result.output
    flagged = _rows(
        shop,
        "select distinct column_name, status from _sqlml.monitor_results "
        "where monitor = 'churn_drift' and status in ('warn', 'error')",
    )
    assert {column for column, status in flagged if status == "error"} == SUPPORT
    assert {column for column, _ in flagged} == SUPPORT
    # The churn probability hardly moves: the model leans little on support tickets.
    assert "OK    churn_prediction_drift" in result.output
    # Each failing monitor called the webhook once, with the owner, the model and its figures.
    calls = {call["monitor"]: call for call in hook.received}
    assert len(hook.received) == 3
    assert set(calls) == {"orders_volume", "daily_order_value", "churn_drift"}
    churn = calls["churn_drift"]
    # Judged against the window frozen at the first build, though the normal day retrained and
    # promoted a new champion (the example's customer changes rewrite training rows).
    frozen = _rows(
        shop,
        "select distinct version, run_id from _sqlml.reference_profiles "
        "where profile = 'churn_drift'",
    )
    assert len(frozen) == 1 and frozen[0][0] == 1 and frozen[0][1] != churn["run_id"]
    champion = _rows(
        shop,
        "select version from _sqlml.model_aliases where model = 'churn' and alias = 'champion'",
    )
    assert churn["version"] == champion[0][0]
    assert (churn["model"], churn["owner"]) == ("churn", "growth-analytics")
    assert (churn["type"], churn["severity"], churn["event"]) == (
        "drift", "error", "sqlml.monitor.alert",
    )  # fmt: skip
    assert {m["column"] for m in churn["metrics"]} == SUPPORT
    assert {m["column"] for m in churn["metrics"] if m["status"] == "error"} == SUPPORT
    psi = {m["column"]: m["value"] for m in churn["metrics"] if m["metric"] == "psi"}
    assert psi["customer_support__tickets_to_date"] > 0.25
    assert calls["orders_volume"]["owner"] == "data-platform@shop.example"
    assert calls["orders_volume"]["model"] is None
    assert {m["metric"] for m in calls["daily_order_value"]["metrics"]} >= {"avg_order_total"}
    events = _rows(
        shop,
        "select decision, version_before, version_after from _sqlml.retrain_events "
        "where model = 'churn' and monitor = 'churn_drift' order by requested_at",
    )
    assert events[0][0] == "requested"
    # The retrained version went through the gates and the champion comparison.
    assert events[1][0] in ("promoted", "not_promoted") and events[1][2] > events[1][1]
    alerts = _rows(
        shop, "select monitor, owner, severity, webhook_status from _sqlml.monitor_alerts"
    )
    assert sorted(alerts) == [
        ("churn_drift", "growth-analytics", "error", "200"),
        ("daily_order_value", "finance@shop.example", "error", "200"),
        ("orders_volume", "data-platform@shop.example", "error", "200"),
    ]
    report = Context(shop).report()
    text = report.read_text()
    assert "row_count_z" in text and "avg_order_total" in text
    assert "churn_drift" in text and "customer_support__tickets_to_date" in text
    assert "churn_prediction_drift" in text
    assert events[1][0] in text


@pytest.mark.slow
def test_two_months_later_the_labels_land_and_each_day_of_scores_is_judged(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs after the shifted day: 61 more days, so the 60-day churn labels of the scores
    logged by the earlier runs are known."""
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    monkeypatch.chdir(shop)
    monkeypatch.delenv("SQLML_ALERT_WEBHOOK", raising=False)
    # Before: every run so far logged its scores, and none had a label yet.
    waiting = _rows(
        shop,
        "select distinct status, message from _sqlml.monitor_results "
        "where monitor = 'churn_performance'",
    )
    assert waiting == [("skipped", "no scores with labels yet: labels land later")]
    generate = [sys.executable, str(ROOT / "data/generate.py"), "--out", str(shop / "data/raw")]
    subprocess.run([*generate, "--append-days", "61", "--seed", "42"], check=True,
                   capture_output=True)  # fmt: skip

    result = Context(shop).run()

    judged = _rows(
        shop,
        "select window_end::date, metric, value, status, n_rows from _sqlml.monitor_results "
        "where monitor = 'churn_performance' and run_id = ? order by all",
        [result.run_id],
    )
    days = sorted({day for day, *_ in judged})
    # The build day, the normal day and the shifted day, each with its own labels.
    assert [str(day) for day in days] == ["2026-10-31", "2026-11-01", "2026-11-02"]
    joined = _rows(
        shop,
        "select s.as_of::date, l.churned, s.probability_1 from churn_score_log s "
        "join churn_labels l using (customer_id, as_of) order by all",
    )
    for day in days:
        y = [int(c) for d, c, _ in joined if d == day]
        p = [float(x) for d, _, x in joined if d == day]
        figures = {m: (v, st, n) for d, m, v, st, n in judged if d == day}
        assert {n for *_, n in figures.values()} == {len(y)}
        assert abs(figures["auc"][0] - roc_auc_score(y, p)) < 1e-9
        predicted = [int(x >= 0.5) for x in p]
        assert abs(figures["accuracy"][0] - accuracy_score(y, predicted)) < 1e-9
        assert abs(figures["log_loss"][0] - log_loss(y, p)) < 1e-9
        assert {st for _, st, _ in figures.values()} <= {"pass", "warn", "error"}
    assert "churn_performance" in Context(shop).report().read_text()


def _rows(root: Path, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    import duckdb

    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(sql, params).fetchall()
