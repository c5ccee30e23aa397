"""Contracts: a model's declared columns and types, checked before the new relation replaces
the old one."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlml import Context
from tests.data.helpers import by_node, invoke, message, statuses
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import query, relations

CONTRACT = """\
    models:
      - name: c
        config: {contract: {enforced: true}}
        columns:
          - {name: id, data_type: integer}
          - {name: label, data_type: text}
"""
MATCHING = "select range::integer as id, 'row ' || range as label from range(2)"
MISMATCHED = "select 7::bigint as id, 8 as extra"
DIFFERENCES = (
    "'c' does not match its contract: column 'id' is BIGINT, declared INTEGER; "
    "missing column 'label'; undeclared column 'extra'"
)


def project(root: Path, sql: str, materialized: str = "table") -> Path:
    return write_project(
        root,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/c.sql": f"{{{{ config(materialized='{materialized}') }}}}\n{sql}",
            "models/reader.sql": "select count(*) as n from {{ ref('c') }}",
            "models/schema.yml": CONTRACT,
        },
    )


def test_a_build_matching_the_contract_passes(tmp_path: Path) -> None:
    root = project(tmp_path, MATCHING)

    result = Context(root).run()

    assert statuses(result) == {"c": "success", "reader": "success"}
    assert query(root, "select column_name, column_type from (describe main.c)") == [
        ("id", "INTEGER"),
        ("label", "VARCHAR"),
    ]


def test_a_mismatched_rebuild_fails_before_the_swap(tmp_path: Path) -> None:
    root = project(tmp_path, MATCHING)
    assert Context(root).run().success
    project(root, MISMATCHED)

    result = invoke(root, "run", "--threads", "1")

    assert result.exit_code == 1
    assert "SKIP  reader (upstream 'c' failed)" in result.stdout
    assert result.stderr == (
        f"Error: target/compiled/models/c.sql: model 'c' failed: {DIFFERENCES}\n"
        "hint: nothing was replaced; change the query or the declared columns\n"
    )
    assert query(root, "select * from main.c order by id") == [(0, "row 0"), (1, "row 1")]
    assert query(root, "select column_name, column_type from (describe main.c)") == [
        ("id", "INTEGER"),
        ("label", "VARCHAR"),
    ]
    assert query(root, "select n from main.reader") == [(2,)]


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        (
            "select range::integer as id, 'x' as label, 1 as extra from range(1)",
            "undeclared column 'extra'",
        ),
        ("select range::integer as id from range(1)", "missing column 'label'"),
        ("select range::integer as id, 1.5 as label from range(1)", "column 'label' is "),
    ],
    ids=["extra", "missing", "type"],
)
def test_each_kind_of_difference_fails_the_contract(tmp_path: Path, sql: str, problem: str) -> None:
    root = project(tmp_path, MATCHING)
    assert Context(root).run().success
    project(root, sql)

    result = Context(root).run()

    assert statuses(result) == {"c": "error", "reader": "skipped"}
    assert f"'c' does not match its contract: {problem}" in message(result, "c")
    assert query(root, "select * from main.c order by id") == [(0, "row 0"), (1, "row 1")]


def test_a_first_build_that_breaks_the_contract_creates_no_table(tmp_path: Path) -> None:
    root = project(tmp_path, MISMATCHED)

    result = Context(root).run()

    assert statuses(result) == {"c": "error", "reader": "skipped"}
    error = message(result, "c")
    assert error.splitlines()[0] == f"target/compiled/models/c.sql: model 'c' failed: {DIFFERENCES}"
    assert "previous table" not in error  # there was none
    assert relations(root) == {}


def test_a_view_that_breaks_its_contract_keeps_the_previous_view(tmp_path: Path) -> None:
    root = project(tmp_path, MATCHING, materialized="view")
    assert Context(root).run().success
    project(root, MISMATCHED, materialized="view")

    result = Context(root).run()

    assert statuses(result) == {"c": "error", "reader": "skipped"}
    assert DIFFERENCES in message(result, "c")
    assert query(root, "select * from main.c order by id") == [(0, "row 0"), (1, "row 1")]
    assert relations(root) == {("main", "c"): "view", ("main", "reader"): "table"}


def test_a_contract_without_types_checks_names_only(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/c.sql": "select 1 as id, 'x' as label",
            "models/schema.yml": """\
                models:
                  - name: c
                    config: {contract: {enforced: true}}
                    columns: [{name: id}, {name: label}]
            """,
        },
    )
    assert Context(root).run().success
    write_project(root, {"models/c.sql": "select 'one' as id, 'x' as label, 2 as more"})

    result = Context(root).run()

    assert by_node(result)["c"].status == "error"
    assert "'c' does not match its contract: undeclared column 'more'" in message(result, "c")
    assert query(root, "select * from main.c") == [(1, "x")]
