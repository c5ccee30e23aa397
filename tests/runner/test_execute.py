"""Running a plan: order, parallelism, failure isolation, error locations, where nodes land."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sqlml import Context
from sqlml.engine import connect
from sqlml.errors import CompileError, Location
from sqlml.plan import Plan, Step
from sqlml.relation import Relation
from sqlml.runner import execute_plan
from sqlml.runner.types import NodeResult
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import Recorder, query, relations


def fan_project() -> dict[str, str]:
    """Five roots, six models reading two roots each, a hub reading all six, four leaves."""
    files = {"project.yml": MINIMAL_PROJECT}
    for i in range(5):
        files[f"models/root_{i}.sql"] = f"select {i} as id"
    for i in range(6):
        left, right = i % 5, (i + 2) % 5
        files[f"models/mid_{i}.sql"] = (
            f"select id from {{{{ ref('root_{left}') }}}}\n"
            f"union all select id from {{{{ ref('root_{right}') }}}}"
        )
    files["models/hub.sql"] = "\nunion all ".join(
        f"select id from {{{{ ref('mid_{i}') }}}}" for i in range(6)
    )
    for i in range(4):
        files[f"models/leaf_{i}.sql"] = (
            f"select count(*) as n from {{{{ ref('hub') }}}} join {{{{ ref('root_{i}') }}}} "
            "using (id)"
        )
    return files


@pytest.mark.parametrize("threads", [1, 4])
def test_every_node_starts_after_its_parents_finished(tmp_path: Path, threads: int) -> None:
    root = write_project(tmp_path, fan_project())
    recorder = Recorder()
    context = Context(root, listener=recorder)

    result = context.run(threads=threads)

    assert result.success
    (plan,) = recorder.plans
    assert sorted(recorder.started_nodes) == sorted(s.node for s in plan.steps)
    assert len(plan.steps) == 16
    for step in plan.steps:
        for parent in step.depends_on:
            assert recorder.position("finish", parent) < recorder.position("start", step.node)
    assert query(root, 'select n from "main"."leaf_0"') == [(3,)]


def test_one_thread_runs_one_node_at_a_time(tmp_path: Path) -> None:
    root = write_project(tmp_path, fan_project())
    recorder = Recorder()

    Context(root, listener=recorder).run(threads=1)

    started = recorder.started_nodes
    assert recorder.events == [(event, node) for node in started for event in ("start", "finish")]
    assert set(recorder.thread_names.values()) == {threading.current_thread().name}


class Rendezvous(Recorder):
    """Holds each started step until ``parties`` steps are in flight at once, or gives up."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=30)
        self.met: list[str] = []

    def started(self, step: Step) -> None:
        super().started(step)
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            return
        self.met.append(step.node)


def test_independent_branches_run_at_the_same_time(tmp_path: Path) -> None:
    files = {"project.yml": MINIMAL_PROJECT}
    for i in range(4):
        files[f"models/branch_{i}.sql"] = "select count(*) as n from range(1000000)"
    root = write_project(tmp_path, files)
    rendezvous = Rendezvous(parties=4)

    result = Context(root, listener=rendezvous).run(threads=4)

    assert result.success
    # All four were started, and waiting, in four threads at once.
    assert sorted(rendezvous.met) == [f"branch_{i}" for i in range(4)]
    assert len(set(rendezvous.thread_names.values())) == 4
    starts = [rendezvous.position("start", f"branch_{i}") for i in range(4)]
    first_finish = min(rendezvous.position("finish", f"branch_{i}") for i in range(4))
    assert max(starts) < first_finish


def test_threads_come_from_the_target_unless_given(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": "name: demo\ntargets:\n  dev:\n    threads: 1\n",
            "models/a.sql": "select 1 as id",
            "models/b.sql": "select 2 as id",
        },
    )
    serial, pooled = Recorder(), Recorder()

    Context(root, listener=serial).run()
    Context(root, listener=pooled).run(threads=2)

    assert set(serial.thread_names.values()) == {threading.current_thread().name}
    assert all(name.startswith("sqlml") for name in pooled.thread_names.values())


BROKEN_BRANCH = {
    "project.yml": MINIMAL_PROJECT,
    "models/ok_root.sql": "select 1 as id",
    "models/other.sql": "select id + 1 as id from {{ ref('ok_root') }}",
    "models/bad.sql": "select error('boom') as id",
    "models/child.sql": "select id from {{ ref('bad') }}",
    "models/grandchild.sql": "select id from {{ ref('child') }}",
    "models/mixed.sql": """\
        select id from {{ ref('bad') }}
        union all select id from {{ ref('ok_root') }}
    """,
}


@pytest.mark.parametrize("threads", [1, 4])
def test_a_failed_node_skips_its_downstream_and_the_rest_goes_on(
    tmp_path: Path, threads: int
) -> None:
    root = write_project(tmp_path, BROKEN_BRANCH)
    recorder = Recorder()

    result = Context(root, listener=recorder).run(threads=threads)

    assert not result.success
    by_node = {r.node: r for r in result.results}
    assert {n: r.status for n, r in by_node.items()} == {
        "bad": "error",
        "child": "skipped",
        "grandchild": "skipped",
        "mixed": "skipped",
        "ok_root": "success",
        "other": "success",
    }
    assert by_node["child"].message == "upstream 'bad' failed"
    assert by_node["mixed"].message == "upstream 'bad' failed"
    # Named after the node that failed, not the skipped parent in between.
    assert by_node["grandchild"].message == "upstream 'bad' failed"
    assert by_node["bad"].message == (
        "target/compiled/models/bad.sql: model 'bad' failed: Invalid Input Error: boom\n"
        "hint: the SQL that ran is in target/compiled/models/bad.sql, rendered from models/bad.sql"
    )
    assert by_node["bad"].location == "target/compiled/models/bad.sql"
    assert set(recorder.started_nodes) == {"bad", "ok_root", "other"}
    assert by_node["child"].started_at is None
    assert relations(root) == {("main", "ok_root"): "table", ("main", "other"): "table"}
    assert query(root, 'select id from "main"."other"') == [(2,)]


def test_results_come_back_in_plan_order(tmp_path: Path) -> None:
    root = write_project(tmp_path, BROKEN_BRANCH)
    recorder = Recorder()

    result = Context(root, listener=recorder).run(threads=4)

    (plan,) = recorder.plans
    assert [r.node for r in result.results] == [s.node for s in plan.steps]


@pytest.mark.parametrize(
    "broken",
    [
        "select error('boom') as id, 'new' as label",  # fails while running
        "select id, label, nope from range(1) as r(id, label)",  # fails while binding
        "select 1 as id,\n  'new' as label\nfrom",  # fails to parse (never reaches DuckDB)
    ],
    ids=["runtime", "binder", "syntax"],
)
def test_a_failed_rebuild_keeps_the_previous_table_and_its_downstream(
    tmp_path: Path, broken: str
) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/m.sql": "select range as id, 'old' as label from range(3)",
            "models/reader.sql": "select count(*) as n from {{ ref('m') }}",
        },
    )
    assert Context(root).run().success
    write_project(root, {"models/m.sql": broken})

    result = Context(root).run()

    assert [(r.node, r.status) for r in result.results] == [("m", "error"), ("reader", "skipped")]
    assert query(root, 'select id, label from "main"."m" order by id') == [
        (0, "old"),
        (1, "old"),
        (2, "old"),
    ]
    assert query(root, 'select n from "main"."reader"') == [(3,)]
    assert relations(root) == {("main", "m"): "table", ("main", "reader"): "table"}


def test_a_compile_error_fails_its_node_alone(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/good.sql": "select 1 as id",
            "models/bad.sql": "select 1 as id\nfrom",
            "models/after_bad.sql": "select * from {{ ref('bad') }}",
        },
    )

    result = Context(root).run()

    by_node = {r.node: r for r in result.results}
    assert by_node["good"].status == "success"
    assert by_node["bad"].status == "error"
    assert by_node["bad"].location == "target/compiled/models/bad.sql:2:1"
    assert by_node["bad"].message == (
        "target/compiled/models/bad.sql:2:1: SQL syntax error in model 'bad': "
        "Expected table name but got the end of the query\n"
        "1 | select 1 as id\n"
        "2 | from\n"
        "  | ^^^^\n"
        "(rendered from models/bad.sql)\n"
        "hint: fix the SQL in models/bad.sql"
    )
    assert by_node["after_bad"].message == "upstream 'bad' failed"
    assert relations(root) == {("main", "good"): "table"}


def compiled_line(root: Path, location: str) -> str:
    path, line = location.split(":")[:2]
    return (root / path).read_text(encoding="utf-8").splitlines()[int(line) - 1]


@pytest.mark.parametrize("materialized", ["table", "view"])
def test_a_warehouse_error_points_at_the_compiled_file_and_line(
    tmp_path: Path, materialized: str
) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            # Inlined above the model's own SQL, so compiled and source lines differ.
            "models/eph.sql": """\
                {{ config(materialized='ephemeral') }}
                select 1 as id,
                    2 as amount
            """,
            "models/m.sql": f"""\
                {{{{ config(materialized='{materialized}') }}}}
                select
                    id,
                    nope as b
                from {{{{ ref('eph') }}}}
            """,
        },
    )

    (result,) = Context(root).run().results

    assert result.status == "error"
    assert result.location == "target/compiled/models/m.sql:9:5"
    assert compiled_line(root, result.location) == "    nope as b"
    assert result.message is not None
    assert result.message.startswith(
        "target/compiled/models/m.sql:9:5: model 'm' failed: "
        'Binder Error: Referenced column "nope" not found in FROM clause!'
    )
    assert result.message.endswith(
        "hint: the SQL that ran is in target/compiled/models/m.sql, rendered from models/m.sql"
    )


def test_a_syntax_error_only_duckdb_finds_has_line_and_column(tmp_path: Path) -> None:
    # sqlglot reads `order` as a table alias; DuckDB's parser rejects it.
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/src.sql": "select 1 as id",
            "models/m.sql": "select\n    id\nfrom {{ ref('src') }} order\n",
        },
    )

    result = {r.node: r for r in Context(root).run().results}["m"]

    assert result.status == "error"
    assert compiled_line(root, "target/compiled/models/m.sql:3") == (
        'from "warehouse"."main"."src" order'
    )
    assert result.location == "target/compiled/models/m.sql:3:31"


def test_nodes_land_where_their_config_says(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": """\
                name: demo
                models:
                  staging:
                    +materialized: view
            """,
            "models/staging/stg.sql": "select range as id from range(4)",
            "models/eph.sql": """\
                {{ config(materialized='ephemeral') }}
                select id from {{ ref('stg') }} where id > 0
            """,
            "models/fct.sql": """\
                {{ config(schema='marts') }}
                select id * 10 as id from {{ ref('eph') }}
            """,
            "models/aliased.sql": """\
                {{ config(alias='renamed') }}
                select id from {{ ref('fct') }} where id > 10
            """,
            "models/reader.sql": """\
                {{ config(materialized='view', schema='marts') }}
                select count(*) as n from {{ ref('aliased') }}
            """,
        },
    )

    result = Context(root).run()

    assert result.success
    assert {r.node: r.relation for r in result.results} == {
        "stg": '"warehouse"."main"."stg"',
        "fct": '"warehouse"."marts"."fct"',
        "aliased": '"warehouse"."main"."renamed"',
        "reader": '"warehouse"."marts"."reader"',
    }
    assert relations(root) == {
        ("main", "stg"): "view",
        ("marts", "fct"): "table",
        ("main", "renamed"): "table",
        ("marts", "reader"): "view",
    }
    assert query(root, 'select id from "marts"."fct" order by id') == [(10,), (20,), (30,)]
    assert query(root, 'select n from "marts"."reader"') == [(2,)]


def test_a_schema_named_like_the_warehouse_file(tmp_path: Path) -> None:
    # DuckDB names the database after the file: "analytics"."a" could be catalog or schema.
    root = write_project(
        tmp_path,
        {
            "project.yml": "name: demo\ntargets:\n  dev:\n    path: analytics.duckdb\n",
            "models/a.sql": "{{ config(schema='analytics') }}\nselect 1 as id",
            "models/b.sql": "select id + 1 as id from {{ ref('a') }}",
        },
    )

    result = Context(root).run()

    assert [(r.node, r.status, r.message) for r in result.results] == [
        ("a", "success", None),
        ("b", "success", None),
    ]


def test_a_relation_renamed_only_in_case_is_replaced(tmp_path: Path) -> None:
    # DuckDB identifiers are case-insensitive: "Orders" is the existing table "orders".
    root = write_project(
        tmp_path, {"project.yml": MINIMAL_PROJECT, "models/orders.sql": "select 1 as id"}
    )
    assert Context(root).run().success
    write_project(root, {"models/orders.sql": "{{ config(alias='Orders') }}\nselect 2 as id"})

    result = Context(root).run()

    assert [(r.node, r.status, r.message) for r in result.results] == [("orders", "success", None)]
    assert query(root, "select id from main.orders") == [(2,)]


def test_a_selected_ephemeral_model_that_does_not_compile_fails_the_run(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/a.sql": "select 1 as id",
            "models/eph.sql": "{{ config(materialized='ephemeral') }}\nselect 1 as id from",
        },
    )

    result = Context(root).run()

    assert not result.success
    assert [(r.node, r.status) for r in result.results if r.status != "success"] == [
        ("eph", "error")
    ]


def test_running_twice_rebuilds_the_same_warehouse(tmp_path: Path) -> None:
    root = write_project(tmp_path, fan_project())
    first = Context(root).run(threads=2)
    before = relations(root)

    plan = Context(root).plan()
    second = Context(root).run(threads=2)

    assert first.success and second.success
    assert {s.reason for s in plan.steps} == {"unchanged"}
    assert relations(root) == before
    assert [r.rows for r in second.results] == [r.rows for r in first.results]


def test_a_model_switches_between_table_and_view(tmp_path: Path) -> None:
    root = write_project(
        tmp_path, {"project.yml": MINIMAL_PROJECT, "models/m.sql": "select 1 as id"}
    )
    seen = []
    for materialized in ["table", "view", "table"]:
        write_project(
            root,
            {"models/m.sql": f"{{{{ config(materialized='{materialized}') }}}}\nselect 1 as id"},
        )
        assert Context(root).run().success
        seen.append(relations(root))

    assert seen == [
        {("main", "m"): "table"},
        {("main", "m"): "view"},
        {("main", "m"): "table"},
    ]


def step(node: str, materialization: str, sql: str, depends_on: tuple[str, ...] = ()) -> Step:
    return Step(
        node=node,
        materialization=materialization,
        relation=Relation("main", node),
        sql=sql,
        depends_on=depends_on,
        existing=None,
        reason="new",
        path=f"models/{node}.sql",
        compiled_path=f"target/compiled/models/{node}.sql",
        fingerprint=f"fp-{node}",
    )


def test_execute_plan_reports_an_unknown_materialization(tmp_path: Path) -> None:
    plan = Plan((step("inc", "streaming", "select 1 as id"),))
    engine = connect(tmp_path / "w.duckdb")
    try:
        (result,) = execute_plan(plan, engine)
        built = engine.relations()
    finally:
        engine.close()

    assert result.status == "error"
    assert result.message == (
        "target/compiled/models/inc.sql: model 'inc' failed: no materialization 'streaming'\n"
        "hint: use one of: existing, export, incremental, monitor, scoring, snapshot, source, "
        "table, test, training, view"
    )
    assert built == {}


def test_execute_plan_fails_nodes_that_did_not_compile_without_running_them(
    tmp_path: Path,
) -> None:
    plan = Plan(
        (
            step("a", "table", "select 1 as id"),
            step("b", "table", "select 2 as id"),
            step("c", "table", "select 3 as id", depends_on=("b",)),
        )
    )
    error = CompileError("it broke", node="b", location=Location("models/b.sql", 1, 8))
    engine = connect(tmp_path / "w.duckdb")
    try:
        results = execute_plan(plan, engine, threads=2, errors={"b": error})
        built = engine.relations()
    finally:
        engine.close()

    assert [(r.node, r.status) for r in results] == [
        ("a", "success"),
        ("b", "error"),
        ("c", "skipped"),
    ]
    assert results[1] == NodeResult(
        node="b",
        status="error",
        materialization="table",
        relation='"main"."b"',
        started_at=results[1].started_at,
        message="models/b.sql:1:8: it broke",
        location="models/b.sql:1:8",
    )
    assert results[0].fingerprint == "fp-a"
    assert results[0].rows == 1
    assert built == {("main", "a"): "table"}
