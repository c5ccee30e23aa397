"""Scoring nodes in a project: scores tables that downstream models ref(), incremental runs,
rescoring on a new champion, predict_<model>() in SQL, and errors at the spec's line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sqlml.context import Context
from sqlml.engine import connect
from sqlml.errors import ConfigError, GraphError
from sqlml.ml.scoring import make_session, score_batch
from sqlml.ml.signature import read_signature
from tests.projectfactory import write_project

# 200 customers; the label leans on tenure and segment. Scored: the same customers' rows.
CUSTOMERS = """
    select range as customer_id, (range * 7) % 60 as tenure, ['smb', 'mid', 'ent'][range % 3 + 1]
        as segment, (range * 13 % 100) / 10.0 as spend,
        ((range * 7) % 60 < 25 or range % 3 = 0) and range % 5 != 0 as churned
    from range(200)
"""
SPEC = """
    owner: growth
    relation: ref('customers')
    target: churned
    task: classification
    features: {exclude: [customer_id]}
    estimator:
      class: sklearn.linear_model.LogisticRegression
      params: {max_iter: 500}
    scoring:
      output: churn_scores
      keys: [customer_id]
"""
FILES = {
    "project.yml": "name: scoring\n",
    "models/customers.sql": CUSTOMERS,
    "ml/churn.yml": SPEC,
    "models/risky.sql": "select customer_id, probability_1 from {{ ref('churn_scores') }}"
    " where probability_1 > 0.5",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "p", FILES)


def rows(project: Path, sql: str) -> list[tuple[object, ...]]:
    engine = connect(project / "warehouse.duckdb", read_only=True)
    try:
        return engine.execute(sql)
    finally:
        engine.close()


def statuses(result: object) -> dict[str, tuple[str, int | None]]:
    return {r.node: (r.status, r.rows) for r in result.results}  # type: ignore[attr-defined]


def test_run_trains_scores_and_builds_what_reads_the_scores(project: Path) -> None:
    result = Context(project).run()

    assert result.success, [r.message for r in result.results if r.status != "success"]
    assert statuses(result)["churn_scores"] == ("success", 200)
    compiled = Context(project).compile()
    assert compiled.nodes["churn_scores"].depends_on == ("churn", "customers")
    assert compiled.nodes["risky"].depends_on == ("churn_scores",)
    onnx_bytes = rows(project, "select onnx from _sqlml.model_versions")[0][0]
    table = Context(project).connect(read_only=True)
    try:
        customers = table.arrow("select * from customers order by customer_id")
    finally:
        table.close()
    expected = score_batch(make_session(onnx_bytes), read_signature(onnx_bytes), customers, ())
    got = rows(project, "select probability_1 from churn_scores order by customer_id")
    assert np.abs(np.array(got).ravel() - expected.column("probability_1").to_numpy()).max() < 1e-12
    assert rows(project, "select count(*) from risky")[0][0] == int(
        (expected.column("probability_1").to_numpy() > 0.5).sum()
    )


@pytest.mark.slow
def test_later_runs_score_only_changed_rows_and_a_new_champion_rescores_all(
    project: Path,
) -> None:
    Context(project).run()
    write_project(
        project, {"models/customers.sql": CUSTOMERS + " union all select 999, 3, 'smb', 1.0, true"}
    )

    second = Context(project).run(select=["customers", "churn_scores"])

    assert statuses(second)["churn_scores"] == ("success", 1)
    assert rows(project, "select count(distinct run_id) from churn_scores") == [(2,)]
    Context(project).train()  # version 2, promoted when not worse
    Context(project).promote("churn", 2)

    third = Context(project).run(select=["churn_scores"])

    assert statuses(third)["churn_scores"] == ("success", 201)
    assert rows(project, "select distinct model_version from churn_scores") == [(2,)]


def test_predict_function_scores_inside_any_model(project: Path) -> None:
    Context(project).run()
    write_project(
        project,
        {
            "models/inline.sql": "select customer_id, predict_churn(tenure, segment, spend)"
            ".probability_1 as p from {{ ref('customers') }}"
        },
    )

    result = Context(project).run(select=["inline"])

    assert result.success, [r.message for r in result.results if r.status != "success"]
    inline = rows(project, "select p from inline order by customer_id")
    scored = rows(project, "select probability_1 from churn_scores order by customer_id")
    assert np.abs(np.array(inline) - np.array(scored)).max() < 1e-12


def test_scoring_needs_keys_when_the_model_has_no_spine(tmp_path: Path) -> None:
    spec = SPEC.replace("      keys: [customer_id]\n", "")
    project = write_project(tmp_path / "p", {**FILES, "ml/churn.yml": spec})

    with pytest.raises(ConfigError) as caught:
        Context(project).compile()

    assert "scoring needs keys" in caught.value.message
    assert str(caught.value.location).startswith("ml/churn.yml:")
    assert "keys: [customer_id]" in (caught.value.hint or "")


def test_a_scores_table_may_not_take_a_models_name(tmp_path: Path) -> None:
    spec = SPEC.replace("output: churn_scores", "output: customers")
    project = write_project(tmp_path / "p", {**FILES, "ml/churn.yml": spec})

    with pytest.raises(GraphError) as caught:
        Context(project).compile()

    assert "writes 'customers', the name of a model" in caught.value.message


def test_an_unknown_input_fails_the_scoring_node_only(tmp_path: Path) -> None:
    spec = SPEC.replace("keys: [customer_id]", "keys: [customer_id]\n      input: ref('custmers')")
    project = write_project(tmp_path / "p", {**FILES, "ml/churn.yml": spec})

    compiled = Context(project).compile()

    error = compiled.nodes["churn_scores"].error
    assert error is not None and "reads ref('custmers'), which does not exist" in error.message
    assert error.hint == "did you mean 'customers'?"
    assert compiled.nodes["customers"].error is None


def test_models_sql_prints_a_query_that_reproduces_the_scores(project: Path) -> None:
    from click.testing import CliRunner

    from sqlml.cli.main import cli

    Context(project).run()
    args = ["models", "sql", "churn", "--from", "customers", "--keep", "customer_id"]

    result = CliRunner().invoke(cli, [*args, "--project-dir", str(project)])
    postgres = CliRunner().invoke(cli, [*args, "--dialect", "postgres", "--project-dir",
                                        str(project)])  # fmt: skip

    assert result.exit_code == 0, result.output
    compiled = rows(project, f"select customer_id, probability_1 from ({result.output}) order by 1")
    scored = rows(project, "select customer_id, probability_1 from churn_scores order by 1")
    assert [k for k, _ in compiled] == [k for k, _ in scored]
    assert np.abs(np.array(compiled) - np.array(scored)).max() < 1e-12
    assert postgres.exit_code == 0 and "DOUBLE PRECISION" in postgres.output


def test_models_sql_refuses_a_model_it_cannot_translate(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sqlml.cli.main import cli

    spec = SPEC.replace("sklearn.linear_model.LogisticRegression", "sklearn.svm.SVC").replace(
        "params: {max_iter: 500}", "params: {probability: true}"
    )
    project = write_project(tmp_path / "p", {**FILES, "ml/churn.yml": spec})
    Context(project).run(select=["customers", "churn"])

    result = CliRunner().invoke(cli, ["models", "sql", "churn", "--project-dir", str(project)])

    assert result.exit_code == 1
    assert "does not translate ONNX operator" in result.output + result.stderr
