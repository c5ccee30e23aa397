"""Data tests on real data through `sqlml test` and `sqlml build`: built-in verdicts,
thresholds, severity, stored failing rows, custom and singular tests, bad test names."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlml import Context
from sqlml.runner.types import RunResult
from tests.data.helpers import by_node, invoke, message, statuses, timeless
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import query, relations

ALL_BUILTINS = """\
      - name: {model}
        data_tests:
          - unique_combination: {{columns: [id, status]}}
          - row_count: {{min: 1, max: 3}}
        columns:
          - name: id
            data_tests: [not_null, unique]
          - name: status
            data_tests:
              - accepted_values: {{values: [a, b]}}
          - name: amount
            data_tests:
              - accepted_range: {{min_value: 0, max_value: 10}}
              - expression_is_true: {{expression: ">= 0"}}
          - name: pid
            data_tests:
              - relationships: {{to: "ref('parents')", field: pid}}
"""


def find_test(result: RunResult, prefix: str) -> str:
    """The one data test of ``result`` whose name starts with ``prefix``."""
    (name,) = [r.node for r in result.results if r.kind == "test" and r.node.startswith(prefix)]
    return name


@pytest.fixture(scope="module")
def builtins(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    """Every built-in test on a model that passes them all and on one that fails them all."""
    root = write_project(
        tmp_path_factory.mktemp("builtins"),
        {
            "project.yml": MINIMAL_PROJECT,
            "models/parents.sql": "select * from (values (1), (2)) t(pid)",
            "models/good.sql": """\
                select * from (values (1, 'a', 5, 1), (2, 'b', 10, 2), (3, 'a', 0, null))
                    t(id, status, amount, pid)
            """,
            "models/bad.sql": """\
                select * from (values
                    (1, 'a', 5, 1), (1, 'a', 5, 1), (1, 'c', 11, 99), (null, 'a', -1, 2)
                ) t(id, status, amount, pid)
            """,
            "models/schema.yml": "models:\n"
            + ALL_BUILTINS.format(model="good")
            + ALL_BUILTINS.format(model="bad"),
        },
    )
    assert Context(root).run().success
    return root, Context(root).test(threads=1)


BUILTIN_FAILURES = {
    "not_null_bad_id": [(None, "a", -1, 2)],
    "unique_bad_id": [(1, 3)],
    "accepted_values_bad_status": [("c", 1)],
    "accepted_range_bad_amount": [(1, "c", 11, 99), (None, "a", -1, 2)],
    "expression_is_true_bad_amount": [(None, "a", -1, 2)],
    "relationships_bad_pid": [(1, "c", 11, 99)],
    "unique_combination_bad": [(1, "a", 2)],
    "row_count_bad": [(4,)],
}


@pytest.mark.parametrize("prefix", sorted(BUILTIN_FAILURES))
def test_every_builtin_passes_on_good_data(builtins: tuple[Path, RunResult], prefix: str) -> None:
    _, result = builtins

    name = find_test(result, prefix.replace("_bad", "_good"))

    assert by_node(result)[name].status == "success"
    assert by_node(result)[name].message is None


@pytest.mark.parametrize(("prefix", "rows"), sorted(BUILTIN_FAILURES.items()))
def test_every_builtin_fails_on_bad_data_and_keeps_the_failing_rows(
    builtins: tuple[Path, RunResult], prefix: str, rows: list[tuple[object, ...]]
) -> None:
    root, result = builtins

    name = find_test(result, prefix)

    assert by_node(result)[name].status == "error"
    noun = "1 failing row" if len(rows) == 1 else f"{len(rows)} failing rows"
    assert message(result, name) == (
        f"test '{name}' failed: {noun} (error_if != 0); failing rows in _sqlml_failures.{name}"
    )
    assert query(root, f'select * from _sqlml_failures."{name}" order by all') == rows


# Thresholds, severity, where and store_failures: each case is a test on its own copy of
# `select range as id from range(3)`, where `id < 0` makes every row fail.
THRESHOLDS = {
    "default": ({}, "error", "3 failing rows (error_if != 0)"),
    "over_both": ({"warn_if": "> 5", "error_if": "> 5"}, "success", None),
    "warn_only": ({"warn_if": ">= 1", "error_if": "> 5"}, "warn", "3 failing rows (warn_if >= 1)"),
    "error_if": ({"warn_if": "> 1", "error_if": ">= 3"}, "error", "3 failing rows (error_if >= 3)"),
    "severity_warn": ({"severity": "warn"}, "warn", "3 failing rows (warn_if != 0)"),
    "severity_upper": ({"severity": "WARN"}, "warn", "3 failing rows (warn_if != 0)"),
    # With severity warn only warn_if is judged (dbt's rule): 3 rows are not "> 10".
    "warn_ignores_error_if": ({"severity": "warn", "warn_if": "> 10"}, "success", None),
    "where_some": ({"where": "id >= 2"}, "error", "1 failing row (error_if != 0)"),
    "where_none": ({"where": "id > 5"}, "success", None),
    "no_store": ({"store_failures": False}, "error", "3 failing rows (error_if != 0)"),
}


@pytest.fixture(scope="module")
def thresholds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    files = {"project.yml": MINIMAL_PROJECT}
    entries = []
    for case, (config, _, _) in THRESHOLDS.items():
        files[f"models/m_{case}.sql"] = "select range as id from range(3)"
        settings = ", ".join(
            f"{k}: {str(v).lower() if isinstance(v, bool) else repr(v)}" for k, v in config.items()
        )
        entries.append(
            f"  - name: m_{case}\n"
            "    data_tests:\n"
            f"      - expression_is_true: {{expression: 'id < 0', config: {{{settings}}}}}\n"
        )
    files["models/schema.yml"] = "models:\n" + "".join(entries)
    root = write_project(tmp_path_factory.mktemp("thresholds"), files)
    return root, Context(root).build(threads=1)


@pytest.mark.parametrize("case", list(THRESHOLDS))
def test_thresholds_severity_and_where_judge_the_failure_count(
    thresholds: tuple[Path, RunResult], case: str
) -> None:
    root, result = thresholds
    config, status, verdict = THRESHOLDS[case]

    name = find_test(result, f"expression_is_true_m_{case}_")

    assert by_node(result)[name].status == status
    stored = config.get("store_failures", True)
    if verdict is None:
        assert by_node(result)[name].message is None
    else:
        where = f"; failing rows in _sqlml_failures.{name}" if stored else ""
        prefix = f"test '{name}' failed: " if status == "error" else ""
        assert by_node(result)[name].message == prefix + verdict + where
    assert (("_sqlml_failures", name) in relations(root)) == stored


def test_store_failures_replaces_the_rows_of_the_previous_test_run(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/m.sql": "select * from (values (1), (null)) t(id)",
            "models/schema.yml": "models:\n  - name: m\n    columns:\n"
            "      - {name: id, data_tests: [not_null]}\n",
        },
    )
    assert not Context(root).build().success
    assert query(root, "select count(*) from _sqlml_failures.not_null_m_id") == [(1,)]
    write_project(root, {"models/m.sql": "select 1 as id"})

    assert Context(root).build().success

    assert query(root, "select count(*) from _sqlml_failures.not_null_m_id") == [(0,)]


def test_severity_warn_exits_0_with_a_warn_line(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/m.sql": "select * from (values (1), (1)) t(id)",
            "models/schema.yml": """\
                models:
                  - name: m
                    columns:
                      - name: id
                        data_tests:
                          - unique: {config: {severity: warn}}
            """,
        },
    )
    assert Context(root).run().success

    result = invoke(root, "test")

    assert result.exit_code == 0, result.output
    assert timeless(result.stdout) == (
        "Testing 1 node of project 'demo' on target 'dev' (warehouse.duckdb)\n"
        "1/1 WARN  unique_m_id (test: 1 failing row (warn_if != 0); "
        "failing rows in _sqlml_failures.unique_m_id) in 0.00s\n"
        "Done in 0.00s: 0 succeeded, 1 warned, 0 failed, 0 skipped.\n"
    )
    assert result.stderr == ""


def test_severity_error_exits_1_and_prints_the_failure(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/m.sql": "select * from (values (1), (1)) t(id)",
            "models/schema.yml": """\
                models:
                  - name: m
                    columns:
                      - name: id
                        data_tests: [unique]
            """,
        },
    )
    assert Context(root).run().success

    result = invoke(root, "test")

    assert result.exit_code == 1
    assert timeless(result.stdout) == (
        "Testing 1 node of project 'demo' on target 'dev' (warehouse.duckdb)\n"
        "1/1 ERROR unique_m_id (test: error) in 0.00s\n"
        "Done in 0.00s: 0 succeeded, 1 failed, 0 skipped.\n"
    )
    assert result.stderr.startswith("Error: ")
    assert result.stderr.endswith(
        "1 failing row (error_if != 0); failing rows in _sqlml_failures.unique_m_id\n"
    )


def test_the_error_names_the_failing_test_when_rows_are_not_stored(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/m.sql": "select * from (values (1), (1)) t(id)",
            "models/schema.yml": """\
                models:
                  - name: m
                    columns:
                      - name: id
                        data_tests:
                          - unique: {config: {store_failures: false}}
            """,
        },
    )
    assert Context(root).run().success

    result = invoke(root, "test")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "unique_m_id" in result.stderr
    assert "1 failing row (error_if != 0)" in result.stderr


def test_a_custom_generic_test_from_a_macro(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "macros/is_even.sql": """\
                {% test is_even(model, column_name) %}
                select * from {{ model }} where {{ column_name }} % 2 <> 0
                {% endtest %}
            """,
            "models/evens.sql": "select range * 2 as n from range(3)",
            "models/mixed.sql": "select range as n from range(4)",
            "models/schema.yml": """\
                models:
                  - name: evens
                    columns:
                      - {name: n, data_tests: [is_even]}
                  - name: mixed
                    columns:
                      - {name: n, data_tests: [is_even]}
            """,
        },
    )

    result = Context(root).build(threads=1)

    assert statuses(result) == {
        "evens": "success",
        "mixed": "success",
        "is_even_evens_n": "success",
        "is_even_mixed_n": "error",
    }
    assert query(root, "select n from _sqlml_failures.is_even_mixed_n order by n") == [(1,), (3,)]


def test_a_singular_test_returns_failing_rows(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/orders.sql": "select * from (values (1, 10), (2, -3)) t(id, total)",
            "data_tests/no_negative_totals.sql": """\
                -- orders must not have a negative total
                select id, total from {{ ref('orders') }} where total < 0
            """,
            "data_tests/ids_positive.sql": "select * from {{ ref('orders') }} where id <= 0",
        },
    )

    result = Context(root).build(threads=1)

    assert statuses(result) == {
        "orders": "success",
        "ids_positive": "success",
        "no_negative_totals": "error",
    }
    assert query(root, "select * from _sqlml_failures.no_negative_totals") == [(2, -3)]


def test_an_unknown_test_name_suggests_the_close_one(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/m.sql": "select 1 as id",
            "models/schema.yml": """\
                models:
                  - name: m
                    columns:
                      - name: id
                        data_tests: [not_null, uniqe]
            """,
        },
    )
    assert Context(root).run().success

    result = invoke(root, "test", "--threads", "1")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: models/schema.yml:5:32: unknown data test 'uniqe'\nhint: did you mean 'unique'?\n"
    )
    assert "OK    not_null_m_id (test: pass)" in result.stdout


def test_a_test_on_a_disabled_model_is_dropped(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/live.sql": "select 1 as id",
            "models/retired.sql": "{{ config(enabled=false) }}\nselect null as id",
            "models/schema.yml": """\
                models:
                  - name: live
                    columns:
                      - {name: id, data_tests: [not_null]}
                  - name: retired
                    columns:
                      - {name: id, data_tests: [not_null]}
            """,
        },
    )

    result = Context(root).build()

    assert statuses(result) == {"live": "success", "not_null_live_id": "success"}
    assert [n.name for n in Context(root).ls()] == ["live", "not_null_live_id"]
