"""Monitors in a project: nodes of the DAG, run by `sqlml run`/`build` and alone by
`sqlml monitor`, with the exit code and webhook of project.yml."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sqlml.cli.main import cli
from sqlml.context import Context
from tests.projectfactory import write_project
from tests.runner.helpers import query

from .helpers import webhook_server

ORDERS = """
select date '2025-01-01' + (i // 50)::INTEGER as day, i as order_id, (i % 17) * 3.5 as amount
from range(1000) t(i)
"""
FILES = {
    "project.yml": "name: demo\n",
    "models/orders.sql": ORDERS,
    "models/daily.sql": "select day, count(*) as n from {{ ref('orders') }} group by day",
    "monitors/orders_volume.yml": """
        type: volume
        relation: ref('orders')
        timestamp: day
        owner: data-team
        """,
    "monitors/avg_amount.yml": """
        type: custom
        owner: finance@shop.example
        thresholds:
          avg_amount: {warn: 20, error: "> 60"}
        """,
    "monitors/avg_amount.sql": """
        -- the average order amount, as one metric row
        select 'avg_amount' as name, avg(amount) as value from {{ ref('orders') }}
        """,
}


def invoke(root: Path, *args: str):
    return CliRunner().invoke(cli, [*args, "--project-dir", str(root)], prog_name="sqlml")


def test_monitors_run_after_what_they_watch(tmp_path):
    root = write_project(tmp_path, FILES)
    context = Context(root)
    nodes = {n.name: n for n in context.ls()}
    assert nodes["avg_amount"].kind == "monitor"
    assert nodes["avg_amount"].depends_on == ("orders",)
    assert nodes["orders_volume"].depends_on == ("orders",)
    result = context.run()
    order = [r.node for r in result.results]
    assert order.index("orders") < order.index("avg_amount")
    statuses = {r.node: r.status for r in result.results}
    assert statuses["avg_amount"] == "warn", [r.message for r in result.results]
    assert statuses["orders_volume"] == "success"
    assert result.success
    engine = context.connect(read_only=True)
    rows = engine.execute("select monitor, metric, status, run_id from _sqlml.monitor_results")
    engine.close()
    assert ("avg_amount", "avg_amount", "warn", result.run_id) in rows


def test_sqlml_monitor_runs_monitors_alone_and_exits_1_on_error(tmp_path):
    root = write_project(tmp_path, FILES)
    assert invoke(root, "run", "-s", "orders").exit_code == 0
    write_project(root, {"monitors/avg_amount.yml": FILES["monitors/avg_amount.yml"].replace(
        "warn: 20", "warn: 10").replace('"> 60"', '"> 25"')})  # fmt: skip
    result = invoke(root, "monitor")
    assert result.exit_code == 1, result.output
    assert "Monitoring with 2 nodes" in result.output
    assert "ERROR avg_amount" in result.output
    assert "orders" not in [line.split()[2] for line in result.output.splitlines()[1:3]]
    only = invoke(root, "monitor", "-s", "orders_volume")
    assert only.exit_code == 0 and "1 succeeded" in only.output


def test_fail_on_in_project_yml_sets_the_exit_code(tmp_path):
    project = "name: demo\nmonitoring:\n  fail_on: warn\n"
    root = write_project(tmp_path, {**FILES, "project.yml": project})
    assert invoke(root, "run").exit_code == 1  # avg_amount warns, and warnings fail
    write_project(root, {"project.yml": "name: demo\nmonitoring: {fail_on: never}\n"})
    write_project(root, {"monitors/avg_amount.yml": "type: custom\nthresholds: {avg_amount: 1}\n"})
    assert invoke(root, "monitor").exit_code == 0


def test_the_project_webhook_hears_of_failures_with_the_owner(tmp_path):
    with webhook_server() as hook:
        project = f"name: demo\nmonitoring:\n  webhook: {hook.url}\n"
        root = write_project(tmp_path, {**FILES, "project.yml": project})
        result = Context(root).run()
    assert result.success
    (payload,) = hook.received
    assert payload["monitor"] == "avg_amount"
    assert payload["owner"] == "finance@shop.example"
    assert payload["severity"] == "warn"
    assert payload["metrics"][0]["value"] == payload["metrics"][0]["value"]  # a number
    assert payload["run_id"] == result.run_id


def test_a_bad_monitor_file_is_a_config_error_at_its_line(tmp_path):
    root = write_project(
        tmp_path, {**FILES, "monitors/orders_volume.yml": "type: volume\nrelaton: x\n"}
    )
    result = invoke(root, "run")
    assert result.exit_code == 2
    assert "monitors/orders_volume.yml:2:1: unknown key 'relaton'" in result.output
    assert "did you mean 'relation'?" in result.output


def test_a_query_without_its_yaml_is_an_error(tmp_path):
    root = write_project(tmp_path, {**FILES, "monitors/lonely.sql": "select 1"})
    result = invoke(root, "ls")
    assert result.exit_code == 2
    assert "monitor query monitors/lonely.sql has no lonely.yml beside it" in result.output


def test_a_monitor_of_an_unknown_model_fails_alone(tmp_path):
    files = {
        **FILES,
        "monitors/ghost.yml": "type: volume\nrelation: ref('ordres')\ntimestamp: day\n",
    }
    root = write_project(tmp_path, files)
    result = Context(root).run()
    statuses = {r.node: r for r in result.results}
    assert statuses["ghost"].status == "error"
    assert "watches unknown node 'ordres'" in statuses["ghost"].message
    assert "did you mean 'orders'?" in statuses["ghost"].message
    assert statuses["daily"].status == "success"


def test_a_reference_on_a_volume_monitor_is_a_config_error_at_its_line(tmp_path):
    volume = "type: volume\nrelation: ref('orders')\ntimestamp: day\nreference: first_window\n"
    root = write_project(tmp_path, {**FILES, "monitors/orders_volume.yml": volume})
    result = invoke(root, "ls")
    assert result.exit_code == 2
    assert "monitors/orders_volume.yml:4:1: a volume monitor has no reference profile" in (
        result.output
    )
    assert "applies to drift, prediction_drift and quality monitors" in result.output


def test_an_unknown_reference_is_a_config_error_naming_the_choices(tmp_path):
    drift = "type: drift\nmodel: churn\nrelation: ref('orders')\nreference: last_week\n"
    root = write_project(tmp_path, {**FILES, "monitors/orders_drift.yml": drift})
    result = invoke(root, "ls")
    assert result.exit_code == 2
    assert "monitors/orders_drift.yml:4" in result.output
    assert "'training'" in result.output and "'first_window'" in result.output


def test_a_webhook_named_by_an_unset_variable_records_the_alert_without_a_call(
    tmp_path, monkeypatch
):
    project = "name: demo\nmonitoring:\n  webhook: ${SQLML_TEST_HOOK}\n"
    root = write_project(tmp_path, {**FILES, "project.yml": project})
    monkeypatch.delenv("SQLML_TEST_HOOK", raising=False)
    Context(root).run()
    with webhook_server() as hook:
        monkeypatch.setenv("SQLML_TEST_HOOK", hook.url)
        Context(root).run(["avg_amount"])
    assert [p["monitor"] for p in hook.received] == ["avg_amount"]
    alerts = query(root, "select webhook, webhook_status from _sqlml.monitor_alerts order by 1")
    assert sorted(status for _, status in alerts) == ["200", "not sent: SQLML_TEST_HOOK not set"]
    assert {url for url, _ in alerts} == {"${SQLML_TEST_HOOK}"}
