"""`sqlml build` and `sqlml test -s`: a failing data test stops what is downstream of the node
it tests, and selecting a node brings its tests along."""

from __future__ import annotations

from pathlib import Path

from sqlml import Context
from tests.data.helpers import by_node, invoke, statuses, timeless
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import query, relations

GATED = {
    "project.yml": MINIMAL_PROJECT,
    "models/a.sql": "select * from (values (1), (1), (2)) t(id)",
    "models/a_child.sql": "select * from {{ ref('a') }}",
    "models/a_grandchild.sql": "select count(*) as n from {{ ref('a_child') }}",
    "models/w.sql": "select * from (values (1), (1)) t(id)",
    "models/w_child.sql": "select * from {{ ref('w') }}",
    "models/other.sql": "select 1 as x",
    "models/schema.yml": """\
        models:
          - name: a
            columns:
              - {name: id, data_tests: [unique]}
          - name: w
            columns:
              - name: id
                data_tests:
                  - unique: {config: {severity: warn}}
    """,
}


def test_build_skips_the_downstream_of_a_failing_test_and_builds_the_rest(
    tmp_path: Path,
) -> None:
    root = write_project(tmp_path, GATED)

    result = invoke(root, "build", "--threads", "1")

    assert result.exit_code == 1
    assert timeless(result.stdout) == (
        "Building 8 nodes of project 'demo' on target 'dev' (warehouse.duckdb)\n"
        "1/8 OK    a (table main.a, 3 rows) in 0.00s\n"
        "2/8 OK    other (table main.other, 1 row) in 0.00s\n"
        "3/8 OK    w (table main.w, 2 rows) in 0.00s\n"
        "4/8 ERROR unique_a_id (test: error) in 0.00s\n"
        "5/8 SKIP  a_child (upstream 'unique_a_id' failed)\n"
        "6/8 SKIP  a_grandchild (upstream 'unique_a_id' failed)\n"
        "7/8 WARN  unique_w_id (test: 1 failing row (warn_if != 0); "
        "failing rows in _sqlml_failures.unique_w_id) in 0.00s\n"
        "8/8 OK    w_child (table main.w_child, 2 rows) in 0.00s\n"
        "Done in 0.00s: 4 succeeded, 1 warned, 1 failed, 2 skipped.\n"
    )
    assert set(relations(root)) == {
        ("main", "a"),
        ("main", "other"),
        ("main", "w"),
        ("main", "w_child"),
        ("_sqlml_failures", "unique_a_id"),
        ("_sqlml_failures", "unique_w_id"),
    }


def test_build_gates_on_the_tests_of_a_source(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "data/people.csv": "id,name\n1,ann\n,bob\n",
            "models/_sources.yml": """\
                sources:
                  - name: raw
                    tables:
                      - name: people
                        file: data/people.csv
                        columns:
                          - {name: id, data_tests: [not_null]}
            """,
            "models/names.sql": "select name from {{ source('raw', 'people') }}",
            "models/other.sql": "select 1 as x",
        },
    )

    result = Context(root).build(threads=4)

    assert statuses(result) == {
        "raw.people": "success",
        "not_null_raw_people_id_7d912439": "error",
        "names": "skipped",
        "other": "success",
    }
    assert by_node(result)["names"].message == "upstream 'not_null_raw_people_id_7d912439' failed"
    assert query(root, "select name from _sqlml_failures.not_null_raw_people_id_7d912439") == [
        ("bob",)
    ]


def test_test_select_runs_the_tests_of_the_selected_node_and_its_relationships(
    tmp_path: Path,
) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/a.sql": "select range as id from range(3)",
            "models/b.sql": "select range as a_id from range(2)",
            "models/c.sql": "select 1 as id",
            "models/schema.yml": """\
                models:
                  - name: a
                    columns:
                      - {name: id, data_tests: [not_null, unique]}
                  - name: b
                    columns:
                      - name: a_id
                        data_tests:
                          - not_null
                          - relationships: {to: "ref('a')", field: id}
                  - name: c
                    columns:
                      - {name: id, data_tests: [not_null]}
            """,
            "data_tests/a_small.sql": "select * from {{ ref('a') }} where id > 100",
        },
    )
    assert Context(root).run().success

    on_a = Context(root).test(select=["a"])
    on_b = Context(root).test(select=["b"])
    everything = Context(root).test()

    assert statuses(on_a) == {
        "a_small": "success",
        "not_null_a_id": "success",
        "unique_a_id": "success",
        "relationships_b_a_id_f426a06f": "success",
    }
    assert statuses(on_b) == {
        "not_null_b_a_id": "success",
        "relationships_b_a_id_f426a06f": "success",
    }
    assert len(everything.results) == 6
    assert all(r.kind == "test" for r in everything.results)
