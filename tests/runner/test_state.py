"""Run history in the warehouse's state schema, and the state the planner reads back."""

from __future__ import annotations

from pathlib import Path

from sqlml import Context, __version__
from sqlml.engine import connect
from sqlml.runner import state
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import query

PROJECT = {
    "project.yml": MINIMAL_PROJECT,
    "models/src.sql": "{{ config(materialized='view') }}\nselect range as id from range(5)",
    "models/big.sql": "select id from {{ ref('src') }} where id >= 2",
    "models/bad.sql": "select id from {{ ref('src') }}",
    "models/after_bad.sql": "select id from {{ ref('bad') }}",
}


def test_each_run_is_recorded_in_the_runs_table(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)
    first = Context(root).run()
    write_project(root, {"models/bad.sql": "select error('boom') as id"})
    second = Context(root).run()

    rows = query(
        root,
        "select run_id, command, target, status, nodes_success, nodes_error, nodes_skipped, "
        "sqlml_version, finished_at >= started_at from _sqlml.runs order by started_at",
    )

    assert rows == [
        (first.run_id, "run", "dev", "success", 4, 0, 0, __version__, True),
        (second.run_id, "run", "dev", "error", 2, 1, 1, __version__, True),
    ]


def test_each_node_result_is_recorded_with_status_rows_and_fingerprint(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)
    write_project(root, {"models/bad.sql": "select error('boom') as id"})
    context = Context(root)
    run = context.run()
    fingerprints = {name: node.fingerprint for name, node in context.compile().nodes.items()}

    def column(sql: str) -> dict[str, object]:
        rows = query(
            root, f"select node, {sql} from _sqlml.node_results where run_id = ?", [run.run_id]
        )
        return dict(rows)

    boom = (
        "target/compiled/models/bad.sql: model 'bad' failed: Invalid Input Error: boom\n"
        "hint: the SQL that ran is in target/compiled/models/bad.sql, rendered from models/bad.sql"
    )
    skipped = "upstream 'bad' failed"
    assert column("status") == {
        "src": "success",
        "big": "success",
        "bad": "error",
        "after_bad": "skipped",
    }
    assert column("rows_affected") == {"src": None, "big": 3, "bad": None, "after_bad": None}
    assert column("fingerprint") == {
        "src": fingerprints["src"],
        "big": fingerprints["big"],
        "bad": None,
        "after_bad": None,
    }
    assert column("message") == {"src": None, "big": None, "bad": boom, "after_bad": skipped}
    assert column("kind || ' ' || materialization || ' ' || relation") == {
        "src": 'model view "warehouse"."main"."src"',
        "big": 'model table "warehouse"."main"."big"',
        "bad": 'model table "warehouse"."main"."bad"',
        "after_bad": 'model table "warehouse"."main"."after_bad"',
    }
    assert column("started_at is not null") == {
        "src": True,
        "big": True,
        "bad": True,
        "after_bad": False,
    }
    assert set(column("duration_s >= 0").values()) == {True}


def test_the_state_schema_is_configurable(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {**PROJECT, "project.yml": "name: demo\nstate_schema: sqlml_meta\n"},
    )

    run = Context(root).run()

    assert query(root, "select run_id from sqlml_meta.runs") == [(run.run_id,)]
    assert query(root, "select count(*) from sqlml_meta.node_results") == [(4,)]
    assert query(root, "select count(*) from duckdb_schemas() where schema_name = '_sqlml'") == [
        (0,)
    ]


def test_read_state_on_a_fresh_warehouse(tmp_path: Path) -> None:
    engine = connect(tmp_path / "w.duckdb")
    try:
        engine.execute("create table main.t as select 1 as id")
        before = state.read_state(engine, "_sqlml")
        state.ensure_state(engine, "_sqlml")
        state.ensure_state(engine, "_sqlml")  # idempotent
        after = state.read_state(engine, "_sqlml")
    finally:
        engine.close()

    assert before.relations == {("main", "t"): "table"}
    assert before.fingerprints == {}
    assert after.relations == {
        ("main", "t"): "table",
        ("_sqlml", "runs"): "table",
        ("_sqlml", "node_results"): "table",
        ("_sqlml", "node_state"): "table",
        ("_sqlml", "relation_columns"): "table",
        ("_sqlml", "schema_changes"): "table",
        ("_sqlml", "intervals"): "table",
    }
    assert after.fingerprints == {}
    assert after.last_success == {}


def test_the_planner_reads_the_fingerprint_of_the_last_successful_build(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)
    assert Context(root).run().success
    built = Context(root).compile().nodes["bad"].fingerprint

    write_project(root, {"models/bad.sql": "select error('boom') as id"})
    Context(root).run()
    broken_plan = {s.node: s.reason for s in Context(root).plan().steps}
    write_project(root, {"models/bad.sql": PROJECT["models/bad.sql"]})
    fixed_plan = {s.node: s.reason for s in Context(root).plan().steps}

    engine = connect(root / "warehouse.duckdb", read_only=True)
    try:
        fingerprints = state.read_state(engine, "_sqlml").fingerprints
    finally:
        engine.close()
    assert fingerprints["bad"] == built
    assert broken_plan == {
        "src": "unchanged",
        "big": "unchanged",
        "bad": "modified",
        "after_bad": "modified",  # a parent's fingerprint is part of its own
    }
    assert fixed_plan == dict.fromkeys(["src", "big", "bad", "after_bad"], "unchanged")


def test_a_node_that_warned_was_built_as_unchanged_as_one_that_succeeded(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/m.sql": "select 1 as id union all select null",
            "models/_m.yml": "models:\n  - name: m\n    columns:\n      - name: id\n"
            "        data_tests:\n          - not_null: {config: {severity: warn}}\n",
        },
    )
    result = Context(root).build()
    (test,) = [r for r in result.results if r.kind == "test"]

    plan = {s.node: s.reason for s in Context(root).plan(command="build").steps}

    assert test.status == "warn"
    assert plan == {"m": "unchanged", test.node: "unchanged"}
