"""Monitors declared in an ML spec: a profile frozen at training, drift judged against it, and
retraining through the training node (gates and champion comparison), this run or the next."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from sqlml.context import Context
from tests.ml.test_project_ml import FILES
from tests.projectfactory import write_project

from .helpers import webhook_server

CURRENT = """
    select customer_id, feature_at as day, amount as customer_orders__amount,
           spend_to_date as customer_orders__spend_to_date, channel as customer_orders__channel
    from {{ ref('customer_orders') }}
"""
MONITORS = """
    monitors:
      - type: drift
        relation: ref('churn_current')
        timestamp: day
        window: 30 days
        metrics: [ks]
        thresholds: {ks: 0.0}   # any difference fails: the test needs a failure
        on_failure: [alert, retrain]
      - type: quality
        relation: ref('churn_current')
        columns: [customer_orders__amount, customer_orders__channel]
"""


def ml_project(tmp_path: Path, project_yml: str = "name: shop\n") -> Path:
    spec = textwrap.dedent(FILES["ml/churn.yml"]).strip() + "\n" + textwrap.dedent(MONITORS)
    files = {**FILES, "project.yml": project_yml, "models/churn_current.sql": CURRENT}
    return write_project(tmp_path / "shop", {**files, "ml/churn.yml": spec})


def rows(root: Path, sql: str) -> list[tuple]:
    engine = Context(root).connect(read_only=True)
    try:
        return engine.execute(sql)
    finally:
        engine.close()


@pytest.mark.slow
def test_a_failing_drift_monitor_retrains_its_model_in_the_same_run(tmp_path):
    with webhook_server() as hook:
        root = ml_project(tmp_path, f"name: shop\nmonitoring:\n  webhook: {hook.url}\n")
        context = Context(root)
        nodes = {n.name: n for n in context.ls()}
        assert nodes["churn_drift"].kind == "monitor"
        assert set(nodes["churn_drift"].depends_on) == {"churn_current", "churn"}
        result = context.run()
    statuses = [(r.node, r.status) for r in result.results]
    assert ("churn_drift", "error") in statuses
    assert ("churn_quality", "success") in statuses, [(r.node, r.message) for r in result.results]
    # The training node ran twice, once in the plan and once retrained after the monitors,
    # and has one result: both outcomes in its message, the worse status.
    (churn,) = [r for r in result.results if r.node == "churn"]
    assert "; retrained at the request of monitor 'churn_drift': version 2: " in churn.message
    assert churn.message.startswith("version 1: ")
    recorded = rows(root, "select count(*) from _sqlml.node_results where node = 'churn'")
    assert recorded == [(1,)]
    written = json.loads((root / "target" / "run_results.json").read_text())["results"]
    assert [r["node"] for r in written].count("churn") == 1
    profiled = rows(root, "select distinct column_name, role from _sqlml.reference_profiles")
    assert ("prediction", "prediction") in profiled
    assert ("customer_orders__channel", "feature") in profiled
    (payload,) = hook.received
    assert payload["model"] == "churn" and payload["owner"] == "growth"
    assert payload["version"] == 1
    events = rows(
        root,
        "select decision, version_before, version_after, monitor from _sqlml.retrain_events "
        "order by requested_at",
    )
    assert events[0] == ("requested", 1, None, "churn_drift")
    assert events[1][0] in ("promoted", "not_promoted")
    assert events[1][1:] == (1, 2, "churn_drift")
    assert rows(root, "select max(version) from _sqlml.model_versions") == [(2,)]
    # Version 2 has its own frozen profile.
    assert rows(root, "select distinct version from _sqlml.reference_profiles order by 1") == [
        (1,),
        (2,),
    ]
    page = Context(root).report().read_text()
    assert "churn_drift" in page and events[1][0] in page


@pytest.mark.slow
def test_next_run_retrains_what_the_last_run_asked_for(tmp_path):
    root = ml_project(tmp_path, "name: shop\nmonitoring:\n  retrain: next_run\n")
    first = Context(root).run()
    assert [r.node for r in first.results].count("churn") == 1
    assert rows(root, "select decision from _sqlml.retrain_events") == [("requested",)]
    assert rows(root, "select max(version) from _sqlml.model_versions") == [(1,)]
    Context(root).run()
    events = rows(
        root, "select decision, version_after from _sqlml.retrain_events order by requested_at"
    )
    assert events[0] == ("requested", None)
    # The monitor failed again after the retraining, within the 24 h cooldown: no new request.
    assert ("cooldown", None) in events
    (outcome,) = [e for e in events if e[0] in ("promoted", "not_promoted")]
    assert outcome[1] == 2
    assert len(events) == 3


def test_a_monitor_in_an_ml_spec_is_checked_where_it_is_written(tmp_path):
    root = ml_project(tmp_path)
    spec = (root / "ml/churn.yml").read_text().replace("type: quality", "type: qualty")
    (root / "ml/churn.yml").write_text(spec)
    with pytest.raises(Exception) as caught:
        Context(root).ls()
    assert "ml/churn.yml" in str(caught.value)
    assert "monitors.1.type" in str(caught.value)


SCORED = """
    scoring:
      output: churn_scores
      input: ref('churn_now')
      keys: [customer_id]
    monitors:
      - type: drift                   # no relation: the rows scoring feeds the model
        metrics: [psi, ks, linf]
"""
NOW = """
    select distinct customer_id, timestamp '2024-09-01' as as_of from {{ ref('orders') }}
"""


@pytest.mark.slow
def test_a_drift_monitor_without_relation_watches_the_rows_the_model_scores(tmp_path):
    spec = textwrap.dedent(FILES["ml/churn.yml"]).strip() + "\n" + textwrap.dedent(SCORED)
    files = {**FILES, "models/churn_now.sql": NOW, "ml/churn.yml": spec}
    root = write_project(tmp_path / "shop", files)
    context = Context(root)
    nodes = {n.name: n for n in context.ls()}
    # It runs after the scores are written, so it sees what the champion scored.
    assert set(nodes["churn_drift"].depends_on) == {"churn_scores", "churn"}

    result = context.run()

    status = {r.node: r.status for r in result.results}
    assert status["churn_scores"] == "success"
    assert status["churn_drift"] in ("success", "warn", "error")
    judged = rows(
        root,
        "select column_name, metric, n_rows, relation from _sqlml.monitor_results "
        "where monitor = 'churn_drift' order by 1, 2",
    )
    # The columns are named as in training; the window is every row scored.
    assert {(c, m) for c, m, _, _ in judged} == {
        ("customer_orders__amount", "psi"), ("customer_orders__amount", "ks"),
        ("customer_orders__spend_to_date", "psi"), ("customer_orders__spend_to_date", "ks"),
        ("customer_orders__channel", "psi"), ("customer_orders__channel", "linf"),
    }  # fmt: skip
    assert {n for _, _, n, _ in judged} == {40}
    assert rows(root, "select count(*) from churn_scores") == [(40,)]
    assert {r for *_, r in judged} == {"churn_scores"}


def test_a_drift_monitor_needs_a_relation_when_its_model_does_not_score(tmp_path):
    spec = textwrap.dedent(FILES["ml/churn.yml"]).strip() + "\nmonitors:\n  - type: drift\n"
    root = write_project(tmp_path / "shop", {**FILES, "ml/churn.yml": spec})
    with pytest.raises(Exception) as caught:
        Context(root).ls()
    assert "say which rows the drift monitor watches" in str(caught.value)
    assert "scoring" in str(caught.value)


@pytest.mark.slow
def test_a_first_window_reference_outlives_retraining_until_reset(tmp_path):
    from click.testing import CliRunner

    from sqlml.cli.main import cli

    first = """
        monitors:
          - type: drift
            relation: ref('churn_current')
            reference: first_window
    """
    spec = textwrap.dedent(FILES["ml/churn.yml"]).strip() + "\n" + textwrap.dedent(first)
    files = {**FILES, "models/churn_current.sql": CURRENT, "ml/churn.yml": spec}
    root = write_project(tmp_path / "shop", files)
    frozen = (
        "select distinct version, run_id from _sqlml.reference_profiles "
        "where profile = 'churn_drift'"
    )

    built = Context(root).run()
    # The first window is its own reference: it passes, whatever the training rows look like.
    assert {r.node: r.status for r in built.results}["churn_drift"] == "success"
    assert rows(root, frozen) == [(1, built.run_id)]
    retrained = Context(root).run(["churn", "churn_drift"], retrain=True)
    assert rows(root, "select max(version) from _sqlml.model_versions") == [(2,)]
    # A new version does not move the reference: it is the monitor's, not the version's.
    assert rows(root, frozen) == [(1, built.run_id)]
    judged = rows(
        root,
        "select max(value) from _sqlml.monitor_results where monitor = 'churn_drift' "
        f"and run_id = '{retrained.run_id}' and metric <> 'chi2'",  # chi2 counts the ε bins
    )
    assert judged == [(0.0,)]

    reset = CliRunner().invoke(
        cli, ["monitor", "-s", "churn_drift", "--reset-reference", "--project-dir", str(root)]
    )

    assert reset.exit_code == 0, reset.output
    ((version, run_id),) = rows(root, frozen)
    assert run_id not in (built.run_id, retrained.run_id)
    assert (
        version
        == rows(root, "select version from _sqlml.model_aliases where alias = 'champion'")[0][0]
    )
