"""Generic data tests: YAML entries, failing-rows queries run on real DuckDB, thresholds, names.

The SQL of each built-in is also kept as a golden file in `datatests_golden/`; to accept new
output after an intended change, run with ``SQLML_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import datetime
import operator
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqlml.compiler import datatests
from sqlml.compiler.datatests import (
    BUILTIN_TESTS,
    TestConfig,
    builtin_test_sql,
    parse_test_entry,
)
from sqlml.errors import ConfigError, GraphError, Location
from sqlml.thresholds import count_is_failure

GOLDEN = Path(__file__).parent / "datatests_golden"
UPDATE = os.environ.get("SQLML_UPDATE_GOLDEN") == "1"
LOC = Location("models/schema.yml", 12, 9)
ORDERS = '"memory"."main"."orders"'
EMPTY = '"memory"."main"."empty"'
RELATIONS = {
    "ref('customers')": '"memory"."main"."customers"',
    "source('crm', 'accounts')": '"memory"."crm"."accounts"',
}
SETUP = """
create table orders (
    id integer, order_id integer, line_no integer, status varchar, customer_id integer,
    amount double, placed date, code varchar, "order" integer, "my col" varchar,
    "we""ird" integer
);
insert into orders values
    (1, 1, 1, 'placed',    10,   5.0,   '2024-01-01', 'a',  1,    'a',       1),
    (2, 1, 2, 'shipped',   10,   0.0,   '2024-01-02', 'b',  2,    'b',       1),
    (3, 2, 1, 'cancelled', 99,   -1.0,  '2024-02-01', null, 2,    'O''Brien', 1),
    (4, 3, 1, null,        null, 100.0, null,         null, null, null,      1),
    (5, 3, 1, 'placed',    20,   null,  '2023-12-31', 'c',  3,    'a',       null);
create table customers (id integer, "select" integer);
insert into customers values (10, 10), (20, 20), (null, null);
create schema crm;
create table crm.accounts (account_id integer);
insert into crm.accounts values (10), (99);
create table empty (x integer);
"""


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute(SETUP)
    yield connection
    connection.close()


def resolve(call: str) -> str:
    if call not in RELATIONS:
        raise GraphError(f"unknown relation {call}")
    return RELATIONS[call]


def sql(
    test: str,
    column: str | None = None,
    *,
    where: str | None = None,
    relation: str = ORDERS,
    **args: Any,
) -> str:
    return builtin_test_sql(
        test, relation, column, args, where=where, resolve=resolve, location=LOC
    )


def rows(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[Any, ...]]:
    return sorted(con.execute(query).fetchall(), key=repr)


def ids(
    con: duckdb.DuckDBPyConnection, test: str, column: str | None = None, **kw: Any
) -> list[int]:
    """The `id`s of the failing rows of a test returning whole rows of `orders`."""
    return sorted(
        row[0] for row in con.execute(f"select id from ({sql(test, column, **kw)})").fetchall()
    )


def config_error(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        call(*args, **kwargs)
    return caught.value.render()


def sql_error(test: str, column: str | None = None, **args: Any) -> str:
    return config_error(sql, test, column, **args)


def entry_error(entry: Any) -> str:
    return config_error(parse_test_entry, entry, location=LOC)


# --- failing rows on real DuckDB ---------------------------------------------------------------


def test_builtin_names() -> None:
    assert {
        "not_null",
        "unique",
        "accepted_values",
        "relationships",
        "accepted_range",
        "expression_is_true",
        "unique_combination",
        "row_count",
    } == BUILTIN_TESTS


def test_not_null(con: duckdb.DuckDBPyConnection) -> None:
    assert ids(con, "not_null", "id") == []
    assert ids(con, "not_null", "status") == [4]
    assert ids(con, "not_null", "code") == [3, 4]
    assert ids(con, "not_null", "code", where="id <> 3") == [4]


def test_not_null_quotes_odd_column_names(con: duckdb.DuckDBPyConnection) -> None:
    assert ids(con, "not_null", "order") == [4]
    assert ids(con, "not_null", "my col") == [4]
    assert ids(con, "not_null", 'we"ird') == [5]


def test_unique_returns_each_duplicated_value_with_its_count(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert rows(con, sql("unique", "id")) == []
    assert rows(con, sql("unique", "order_id")) == [(1, 2), (3, 2)]
    assert rows(con, sql("unique", "order")) == [(2, 2)]
    assert rows(con, sql("unique", "my col")) == [("a", 2)]


def test_unique_lets_nulls_pass(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, sql("unique", "code")) == []  # two NULLs


def test_unique_with_where(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, sql("unique", "order_id", where="status = 'placed'")) == []
    assert rows(con, sql("unique", "order_id", where="id in (1, 2)")) == [(1, 2)]


def test_accepted_values_returns_each_bad_value_with_its_count(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # status is NULL in one row: NULLs pass.
    assert rows(con, sql("accepted_values", "status", values=["placed", "shipped"])) == [
        ("cancelled", 1)
    ]
    assert (
        rows(con, sql("accepted_values", "status", values=["placed", "shipped", "cancelled"])) == []
    )
    assert rows(con, sql("accepted_values", "my col", values=["b"])) == [("O'Brien", 1), ("a", 2)]


def test_accepted_values_escapes_quotes(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, sql("accepted_values", "my col", values=["a", "b", "O'Brien"])) == []


def test_accepted_values_quotes_numbers_by_default(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, sql("accepted_values", "order", values=[1, 2])) == [(3, 1)]
    assert "('1', '2')" in sql("accepted_values", "order", values=[1, 2])


def test_accepted_values_unquoted_are_sql_as_written(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, sql("accepted_values", "order_id", values=[1, 2], quote=False)) == [(3, 2)]
    assert rows(con, sql("accepted_values", "order_id", values=["1 + 1", "3"], quote=False)) == [
        (1, 2)
    ]
    statuses = ["'placed'", "'shipped'", "upper('cancelled')"]
    assert rows(con, sql("accepted_values", "status", values=statuses, quote=False)) == [
        ("cancelled", 1)
    ]


def test_accepted_values_of_dates_and_booleans(con: duckdb.DuckDBPyConnection) -> None:
    dates = [datetime.date(2024, 1, 1), datetime.date(2024, 1, 2), datetime.date(2024, 2, 1)]
    assert rows(con, sql("accepted_values", "placed", values=dates)) == [
        (datetime.date(2023, 12, 31), 1)
    ]
    assert rows(con, sql("accepted_values", "placed", values=dates, quote=False)) == [
        (datetime.date(2023, 12, 31), 1)
    ]
    query = sql("accepted_values", "status", values=[True], quote=False)
    assert "not in (true)" in query


def test_accepted_values_with_where(con: duckdb.DuckDBPyConnection) -> None:
    query = sql("accepted_values", "status", values=["placed"], where="id not in (2, 3)")
    assert rows(con, query) == []


def test_relationships_returns_child_rows_without_a_parent(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # Row 4 has no customer_id: NULLs pass. The parent's NULL key matches nothing.
    assert ids(con, "relationships", "customer_id", to="ref('customers')", field="id") == [3]
    kw = {"to": "source('crm', 'accounts')", "field": "account_id"}
    assert ids(con, "relationships", "customer_id", **kw) == [5]


def test_relationships_with_odd_column_names(con: duckdb.DuckDBPyConnection) -> None:
    assert ids(con, "relationships", "order", to="ref('customers')", field="select") == [1, 2, 3, 5]


def test_relationships_with_where(con: duckdb.DuckDBPyConnection) -> None:
    kw = {"to": "ref('customers')", "field": "id"}
    assert ids(con, "relationships", "customer_id", where="status <> 'cancelled'", **kw) == []


def test_relationships_lets_resolve_errors_through() -> None:
    with pytest.raises(GraphError, match="unknown relation ref"):
        sql("relationships", "customer_id", to="ref('nope')", field="id")


def test_accepted_range(con: duckdb.DuckDBPyConnection) -> None:
    # Row 5 has no amount: NULLs pass.
    assert ids(con, "accepted_range", "amount", min_value=0, max_value=100) == [3]
    exclusive = {"min_value": 0, "max_value": 100, "inclusive": False}
    assert ids(con, "accepted_range", "amount", **exclusive) == [2, 3, 4]
    assert ids(con, "accepted_range", "amount", min_value=0.5) == [2, 3]
    assert ids(con, "accepted_range", "amount", max_value=50) == [4]
    assert ids(con, "accepted_range", "amount", max_value=50, where="id < 4") == []


def test_accepted_range_of_dates(con: duckdb.DuckDBPyConnection) -> None:
    assert ids(con, "accepted_range", "placed", min_value=datetime.date(2024, 1, 1)) == [5]
    assert ids(con, "accepted_range", "placed", max_value="2024-01-15") == [3]
    noon = datetime.datetime(2024, 1, 1, 12, 0)
    assert ids(con, "accepted_range", "placed", min_value=noon) == [1, 5]


def test_expression_is_true_at_table_level(con: duckdb.DuckDBPyConnection) -> None:
    # Row 5's amount is NULL: an unknown result passes.
    assert ids(con, "expression_is_true", expression="amount >= 0") == [3]
    assert ids(con, "expression_is_true", expression="amount >= 0 or status = 'cancelled'") == []
    assert ids(con, "expression_is_true", expression="amount >= 0", where="id <> 3") == []


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (">= 0", [3]),
        ("  >0", [2, 3]),
        ("<> 0", [2]),
        ("!= 0", [2]),
        ("= 5", [2, 3, 4]),
        ("is not null", [5]),
        ("IS NOT NULL", [5]),
        ("in (5, 0)", [3, 4]),
        ("not in (5)", [1]),
        ("between 0 and 50", [3, 4]),
        ("not between 0 and 50", [1, 2]),
        # Standalone expressions: they name the column themselves.
        ("amount < order_id * 10", [4]),
        ("not amount > 50", [4]),
        ("abs(amount) < 50", [4]),
        ("amount is not null", [5]),
    ],
)
def test_expression_is_true_at_column_level(
    con: duckdb.DuckDBPyConnection, expression: str, expected: list[int]
) -> None:
    assert ids(con, "expression_is_true", "amount", expression=expression) == expected


def test_expression_is_true_continues_odd_column_names(con: duckdb.DuckDBPyConnection) -> None:
    assert ids(con, "expression_is_true", "order", expression="> 1") == [1]
    assert ids(con, "expression_is_true", "my col", expression="like 'a%'") == [2, 3]
    assert ids(con, "expression_is_true", "status", expression="ilike 'P%'") == [2, 3]


def test_unique_combination(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, sql("unique_combination", columns=["order_id", "line_no"])) == [(3, 1, 2)]
    assert rows(con, sql("unique_combination", columns=["order_id"])) == [(1, 2), (3, 2)]
    assert rows(con, sql("unique_combination", columns=["id", "order_id"])) == []
    assert rows(con, sql("unique_combination", columns=["order", "my col"])) == []
    query = sql("unique_combination", columns=["order_id", "line_no"], where="id <> 5")
    assert rows(con, query) == []


def test_unique_combination_counts_nulls_as_duplicates(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, sql("unique_combination", columns=["code"])) == [(None, 2)]


def test_row_count(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, sql("row_count", min=1, max=10)) == []
    assert rows(con, sql("row_count", min=5, max=5)) == []
    assert rows(con, sql("row_count", min=6)) == [(5,)]
    assert rows(con, sql("row_count", max=4)) == [(5,)]
    assert rows(con, sql("row_count", max=1, where="id > 3")) == [(2,)]
    assert rows(con, sql("row_count", min=0, max=0, where="false")) == []


def test_row_count_of_an_empty_table(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, sql("row_count", relation=EMPTY, min=1)) == [(0,)]
    assert rows(con, sql("row_count", relation=EMPTY, max=0)) == []


# --- golden SQL --------------------------------------------------------------------------------

GOLDEN_CASES: dict[str, tuple[str, str | None, dict[str, Any], str | None]] = {
    "not_null": ("not_null", "order_id", {}, None),
    "not_null_where": ("not_null", "order", {}, "status <> 'cancelled'"),
    "unique": ("unique", "order_id", {}, None),
    "accepted_values": ("accepted_values", "status", {"values": ["placed", "it's"]}, None),
    "accepted_values_unquoted": (
        "accepted_values",
        "order_id",
        {"values": [1, 2.5, True, "1 + 1"], "quote": False},
        None,
    ),
    "relationships": (
        "relationships",
        "customer_id",
        {"to": "ref('customers')", "field": "id"},
        None,
    ),
    "relationships_where": (
        "relationships",
        "customer_id",
        {"to": "ref('customers')", "field": "id"},
        "status <> 'cancelled'",
    ),
    "accepted_range": ("accepted_range", "amount", {"min_value": 0, "max_value": 100}, None),
    "accepted_range_exclusive": (
        "accepted_range",
        "placed",
        {"min_value": datetime.date(2024, 1, 1), "max_value": "2024-12-31", "inclusive": False},
        None,
    ),
    "expression_is_true": ("expression_is_true", None, {"expression": "amount >= 0"}, None),
    "expression_is_true_column": ("expression_is_true", "amount", {"expression": ">= 0"}, None),
    "unique_combination": (
        "unique_combination",
        None,
        {"columns": ["order_id", "line_no"]},
        None,
    ),
    "row_count": ("row_count", None, {"min": 1, "max": 1000000}, None),
}


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden(con: duckdb.DuckDBPyConnection, case: str) -> None:
    test, column, args, where = GOLDEN_CASES[case]
    query = sql(test, column, where=where, **args)
    path = GOLDEN / f"{case}.sql"
    if UPDATE:
        path.write_text(query + "\n", encoding="utf-8")

    assert query + "\n" == path.read_text(encoding="utf-8")
    con.execute(f"select count(*) from ({query})")  # and it runs


def test_every_golden_file_is_a_case() -> None:
    assert {p.stem for p in GOLDEN.glob("*.sql")} == set(GOLDEN_CASES)


# --- errors of built-in tests ------------------------------------------------------------------


def test_unknown_test() -> None:
    assert sql_error("not_nul", "id") == (
        "models/schema.yml:12:9: unknown data test 'not_nul'\n"
        "hint: did you mean 'not_null'? built-in tests: accepted_range, accepted_values, "
        "expression_is_true, not_null, relationships, row_count, unique, unique_combination"
    )


def test_column_test_at_table_level() -> None:
    assert sql_error("not_null") == (
        "models/schema.yml:12:9: data test 'not_null' tests a column, not a whole table\n"
        "hint: move it to the data_tests of one of the table's columns"
    )


def test_table_test_at_column_level() -> None:
    assert sql_error("row_count", "order_id", min=1) == (
        "models/schema.yml:12:9: data test 'row_count' tests a whole table, not a column\n"
        "hint: move it from column 'order_id' to the data_tests of its model, seed or source"
    )


def test_unknown_argument_suggests_the_closest() -> None:
    assert sql_error("accepted_values", "status", valuse=["a"]) == (
        "models/schema.yml:12:9: unknown argument 'valuse' for data test 'accepted_values'\n"
        "hint: did you mean 'values'? arguments: values, quote"
    )
    assert sql_error("accepted_range", "amount", min=1) == (
        "models/schema.yml:12:9: unknown argument 'min' for data test 'accepted_range'\n"
        "hint: arguments: min_value, max_value, inclusive"
    )


def test_argument_to_a_test_without_arguments() -> None:
    assert sql_error("not_null", "id", values=[1]) == (
        "models/schema.yml:12:9: unknown argument 'values' for data test 'not_null'\n"
        "hint: 'not_null' takes no arguments"
    )


def test_missing_argument() -> None:
    assert sql_error("accepted_values", "status") == (
        "models/schema.yml:12:9: data test 'accepted_values' needs the argument 'values'\n"
        "hint: arguments: values (required), quote"
    )
    assert sql_error("relationships", "customer_id", to="ref('customers')") == (
        "models/schema.yml:12:9: data test 'relationships' needs the argument 'field'\n"
        "hint: arguments: to (required), field (required)"
    )
    assert sql_error("expression_is_true") == (
        "models/schema.yml:12:9: data test 'expression_is_true' needs the argument 'expression'\n"
        "hint: arguments: expression (required)"
    )


@pytest.mark.parametrize(
    ("test", "column", "args", "message"),
    [
        (
            "accepted_values",
            "status",
            {"values": "placed"},
            "argument 'values' of data test 'accepted_values' must be a non-empty list of values "
            "(strings, numbers, booleans or dates), not the string 'placed'",
        ),
        (
            "accepted_values",
            "status",
            {"values": []},
            "argument 'values' of data test 'accepted_values' must be a non-empty list of values "
            "(strings, numbers, booleans or dates), not an empty list",
        ),
        (
            "accepted_values",
            "status",
            {"values": ["a", ["b"]]},
            "argument 'values' of data test 'accepted_values' must be a non-empty list of values "
            "(strings, numbers, booleans or dates), not a list holding a list",
        ),
        (
            "accepted_values",
            "status",
            {"values": ["a"], "quote": "no"},
            "argument 'quote' of data test 'accepted_values' must be true or false, "
            "not the string 'no'",
        ),
        (
            "relationships",
            "customer_id",
            {"to": 5, "field": "id"},
            "argument 'to' of data test 'relationships' must be a ref('...') or "
            "source('...', '...'), not the number 5",
        ),
        (
            "relationships",
            "customer_id",
            {"to": "ref('customers')", "field": None},
            "argument 'field' of data test 'relationships' must be a column name, not null",
        ),
        (
            "accepted_range",
            "amount",
            {"min_value": True},
            "argument 'min_value' of data test 'accepted_range' must be a number, a date or "
            "a string, not true",
        ),
        (
            "accepted_range",
            "amount",
            {"max_value": {"a": 1}},
            "argument 'max_value' of data test 'accepted_range' must be a number, a date or "
            "a string, not a mapping",
        ),
        (
            "expression_is_true",
            None,
            {"expression": " "},
            "argument 'expression' of data test 'expression_is_true' must be a SQL expression, "
            "not an empty string",
        ),
        (
            "unique_combination",
            None,
            {"columns": "order_id"},
            "argument 'columns' of data test 'unique_combination' must be a non-empty list of "
            "column names, not the string 'order_id'",
        ),
        (
            "unique_combination",
            None,
            {"columns": ["order_id", 3]},
            "argument 'columns' of data test 'unique_combination' must be a non-empty list of "
            "column names, not a list holding the number 3",
        ),
        (
            "row_count",
            None,
            {"min": -1},
            "argument 'min' of data test 'row_count' must be a whole number, 0 or more, "
            "not the number -1",
        ),
        (
            "row_count",
            None,
            {"max": 1.5},
            "argument 'max' of data test 'row_count' must be a whole number, 0 or more, "
            "not the number 1.5",
        ),
    ],
)
def test_mistyped_argument(
    test: str, column: str | None, args: dict[str, Any], message: str
) -> None:
    assert sql_error(test, column, **args) == f"models/schema.yml:12:9: {message}"


def test_null_among_accepted_values() -> None:
    assert sql_error("accepted_values", "status", values=["a", None]) == (
        "models/schema.yml:12:9: argument 'values' of data test 'accepted_values' must be a "
        "non-empty list of values (strings, numbers, booleans or dates), not a list holding null\n"
        "hint: NULLs always pass accepted_values; test them with not_null"
    )


def test_bounds_need_one_side() -> None:
    assert sql_error("accepted_range", "amount", inclusive=False) == (
        "models/schema.yml:12:9: data test 'accepted_range' needs 'min_value', 'max_value' "
        "or both\n"
        "hint: arguments: min_value, max_value, inclusive"
    )
    assert sql_error("row_count", min=None) == (
        "models/schema.yml:12:9: data test 'row_count' needs 'min', 'max' or both\n"
        "hint: arguments: min, max"
    )


def test_bounds_in_the_wrong_order() -> None:
    assert sql_error("accepted_range", "amount", min_value=5, max_value=1.5) == (
        "models/schema.yml:12:9: data test 'accepted_range' has 'min_value' (5) greater than "
        "'max_value' (1.5)\n"
        "hint: every row would fail; swap the two bounds"
    )
    assert sql_error("row_count", min=10, max=1) == (
        "models/schema.yml:12:9: data test 'row_count' has 'min' (10) greater than 'max' (1)\n"
        "hint: every row would fail; swap the two bounds"
    )
    late, early = datetime.date(2024, 2, 1), datetime.date(2024, 1, 1)
    assert "greater than" in sql_error("accepted_range", "placed", min_value=late, max_value=early)
    # Strings are compared by DuckDB, not here.
    sql("accepted_range", "placed", min_value="2024-02-01", max_value="2024-01-01")


# --- parsing entries ---------------------------------------------------------------------------


def test_a_bare_name() -> None:
    assert parse_test_entry("not_null", location=LOC) == ("not_null", {}, TestConfig())
    assert parse_test_entry({"not_null": None}, location=LOC) == ("not_null", {}, TestConfig())
    assert parse_test_entry({"not_null": {}}, location=LOC) == ("not_null", {}, TestConfig())


def test_arguments_and_config() -> None:
    entry = {
        "accepted_values": {
            "values": ["placed", "shipped"],
            "quote": True,
            "config": {
                "severity": "WARN",
                "where": "status <> 'cancelled'",
                "warn_if": ">10",
                "error_if": "  >=   100 ",
                "store_failures": False,
                "limit": 5,
            },
        }
    }

    assert parse_test_entry(entry, location=LOC) == (
        "accepted_values",
        {"values": ["placed", "shipped"], "quote": True},
        TestConfig("warn", "> 10", ">= 100", "status <> 'cancelled'", False, 5),
    )


def test_arguments_under_arguments_like_dbt_1_10() -> None:
    entry = {"relationships": {"arguments": {"to": "ref('c')", "field": "id"}, "config": None}}

    assert parse_test_entry(entry, location=LOC) == (
        "relationships",
        {"to": "ref('c')", "field": "id"},
        TestConfig(),
    )


def test_config_beside_the_arguments_like_older_dbt() -> None:
    entry = {"unique": {"severity": "warn", "where": "x > 1", "config": {"limit": 0}}}

    assert parse_test_entry(entry, location=LOC) == (
        "unique",
        {},
        TestConfig(severity="warn", where="x > 1", limit=0),
    )


def test_unknown_tests_parse_too() -> None:
    entry = {"dbt_utils.at_least_one": {"group_by_columns": ["a"]}}

    assert parse_test_entry(entry, location=LOC)[:2] == (
        "dbt_utils.at_least_one",
        {"group_by_columns": ["a"]},
    )


def test_a_key_set_twice() -> None:
    assert entry_error({"not_null": {"severity": "warn", "config": {"severity": "error"}}}) == (
        "models/schema.yml:12:9: data test 'not_null' sets 'severity' twice\n"
        "hint: set it once, under `config:`"
    )
    assert entry_error({"accepted_values": {"arguments": {"values": [1]}, "values": [2]}}) == (
        "models/schema.yml:12:9: data test 'accepted_values' sets 'values' twice\n"
        "hint: set it once, under `arguments:`"
    )


@pytest.mark.parametrize(
    "entry", [5, None, ["not_null"], {"a": None, "b": None}, {}, " ", {3: None}]
)
def test_malformed_entry(entry: Any) -> None:
    assert entry_error(entry) == (
        "models/schema.yml:12:9: a data test must be a test name or a mapping of one test name "
        "to its arguments\n"
        "hint: write `- not_null` or `- accepted_values: {values: [a, b]}`"
    )


def test_arguments_that_are_not_a_mapping() -> None:
    assert entry_error({"accepted_values": ["a", "b"]}) == (
        "models/schema.yml:12:9: the arguments of data test 'accepted_values' must be a mapping, "
        "not a list\n"
        "hint: write `- accepted_values: {argument: value}`"
    )
    assert entry_error({"not_null": {"config": "warn"}}) == (
        "models/schema.yml:12:9: 'config' of data test 'not_null' must be a mapping, "
        "not the string 'warn'\n"
        "hint: write `config: {key: value}`"
    )


def test_unknown_config_key() -> None:
    assert entry_error({"not_null": {"config": {"severty": "warn"}}}) == (
        "models/schema.yml:12:9: unknown config key 'severty' for data test 'not_null'\n"
        "hint: did you mean 'severity'? config keys: severity, warn_if, error_if, where, "
        "store_failures, limit"
    )
    assert entry_error({"not_null": {"config": {"tags": ["x"]}}}) == (
        "models/schema.yml:12:9: unknown config key 'tags' for data test 'not_null'\n"
        "hint: config keys: severity, warn_if, error_if, where, store_failures, limit"
    )


THRESHOLD_HINT = (
    "hint: write an operator and a whole number, e.g. '> 10', '>= 1' or '!= 0'; "
    "operators: >, >=, <, <=, =, ==, !=, <>"
)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"severity": "fatal"},
            "config 'severity' of data test 'not_null' must be 'error' or 'warn', "
            "not the string 'fatal'",
        ),
        (
            {"severity": None},
            "config 'severity' of data test 'not_null' must be 'error' or 'warn', not null",
        ),
        (
            {"warn_if": "more than 10"},
            "config 'warn_if' of data test 'not_null' must be a comparison with a count, "
            f"not the string 'more than 10'\n{THRESHOLD_HINT}",
        ),
        (
            {"error_if": 10},
            "config 'error_if' of data test 'not_null' must be a comparison with a count, "
            f"not the number 10\n{THRESHOLD_HINT}",
        ),
        (
            {"error_if": "> -1"},
            "config 'error_if' of data test 'not_null' must be a comparison with a count, "
            f"not the string '> -1'\n{THRESHOLD_HINT}",
        ),
        (
            {"warn_if": "=> 1"},
            "config 'warn_if' of data test 'not_null' must be a comparison with a count, "
            f"not the string '=> 1'\n{THRESHOLD_HINT}",
        ),
        (
            {"where": ""},
            "config 'where' of data test 'not_null' must be a SQL condition, not an empty string\n"
            "hint: e.g. where: \"status <> 'cancelled'\"",
        ),
        (
            {"store_failures": "yes"},
            "config 'store_failures' of data test 'not_null' must be true or false, "
            "not the string 'yes'",
        ),
        (
            {"limit": -1},
            "config 'limit' of data test 'not_null' must be a whole number of rows, 0 or more, "
            "not the number -1",
        ),
        (
            {"limit": True},
            "config 'limit' of data test 'not_null' must be a whole number of rows, 0 or more, "
            "not true",
        ),
    ],
)
def test_bad_config_value(config: dict[str, Any], message: str) -> None:
    assert entry_error({"not_null": {"config": config}}) == f"models/schema.yml:12:9: {message}"


# --- thresholds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "condition", "failed"),
    [
        (0, "!= 0", False),
        (1, "!= 0", True),
        (1, "!=0", True),
        (1, "<> 0", True),
        (0, "<>0", False),
        (10, "> 10", False),
        (11, ">10", True),
        (10, ">= 10", True),
        (9, " >=10 ", False),
        (4, "< 5", True),
        (5, "<5", False),
        (5, "<= 5", True),
        (6, "\t<=\t5\n", False),
        (3, "= 3", True),
        (4, "=3", False),
        (3, "== 3", True),
        (0, "==3", False),
        (100, ">   99", True),
    ],
)
def test_count_is_failure(count: int, condition: str, failed: bool) -> None:
    assert count_is_failure(count, condition) is failed


def test_defaults_fail_on_any_row() -> None:
    config = TestConfig()

    assert not count_is_failure(0, config.error_if)
    assert count_is_failure(1, config.warn_if)


@pytest.mark.parametrize("condition", ["", "10", "> ten", "~= 1", "> 1.5", ">= -1", "> 1 and < 5"])
def test_invalid_threshold(condition: str) -> None:
    assert config_error(count_is_failure, 1, condition) == (
        f"invalid test threshold {condition!r}\n{THRESHOLD_HINT}"
    )


PYTHON_OPERATORS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    "<>": operator.ne,
}


@given(st.integers(0, 1000), st.sampled_from(sorted(PYTHON_OPERATORS)), st.integers(0, 1000))
def test_count_is_failure_agrees_with_python(count: int, op: str, n: int) -> None:
    assert count_is_failure(count, f"{op} {n}") is PYTHON_OPERATORS[op](count, n)


# --- names -------------------------------------------------------------------------------------


def test_node_names_without_arguments_are_plain() -> None:
    assert (
        datatests.test_node_name("not_null", "orders", "order_id", {}) == "not_null_orders_order_id"
    )
    assert datatests.test_node_name("unique", "Orders", "ID", {}) == "unique_orders_id"
    assert datatests.test_node_name("custom", "orders", None, {}) == "custom_orders"


def test_node_names_with_arguments_end_in_a_stable_hash() -> None:
    name = datatests.test_node_name("accepted_values", "orders", "status", {"values": ["a", "b"]})

    assert name == "accepted_values_orders_status_2b4701a0"
    assert name == datatests.test_node_name(
        "accepted_values", "orders", "status", {"values": ["a", "b"]}
    )


def test_node_names_differ_with_arguments_but_not_their_order() -> None:
    name = datatests.test_node_name
    a = name("accepted_range", "orders", "amount", {"min_value": 0, "max_value": 9})
    b = name("accepted_range", "orders", "amount", {"max_value": 9, "min_value": 0})
    c = name("accepted_range", "orders", "amount", {"min_value": 9})
    d = name("accepted_range", "orders", "amount", {"max_value": 9})
    dated = name("accepted_range", "orders", "placed", {"min_value": datetime.date(2024, 1, 1)})

    assert a == b
    assert len({a, c, d}) == 3
    assert dated.startswith("accepted_range_orders_placed_")


def test_node_names_of_odd_names_are_safe_and_distinct() -> None:
    spaced = datatests.test_node_name("not_null", "orders", "my col", {})
    underscored = datatests.test_node_name("not_null", "orders", "my_col", {})
    quoted = datatests.test_node_name("not_null", "orders", 'we"ird', {})

    assert underscored == "not_null_orders_my_col"
    assert re.fullmatch(r"not_null_orders_my_col_[0-9a-f]{8}", spaced)
    assert re.fullmatch(r"not_null_orders_we_ird_[0-9a-f]{8}", quoted)
    assert re.fullmatch(
        r"t_1x_orders_[0-9a-f]{8}", datatests.test_node_name("1x", "orders", None, {})
    )


def test_long_node_names_are_shortened_and_distinct() -> None:
    model = "a_model_with_a_very_long_name_indeed_for_sure"
    first = datatests.test_node_name("not_null", model, "first_column_of_many", {})
    second = datatests.test_node_name("not_null", model, "first_column_of_many_more", {})

    assert len(first) == len(second) == 63
    assert first != second
    assert first.startswith("not_null_a_model_with_a_very_long_name")


@given(
    st.text(),
    st.text(),
    st.none() | st.text(),
    st.dictionaries(st.text() | st.integers(), st.integers() | st.lists(st.text()) | st.dates()),
)
def test_node_names_are_identifiers(test: str, model: str, column: str | None, args: Any) -> None:
    name = datatests.test_node_name(test, model, column, args)

    assert re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name)


def test_comments_in_sql_from_yaml_do_not_swallow_the_query(con: duckdb.DuckDBPyConnection) -> None:
    expression = "amount >= 0 -- refunds are negative"
    assert ids(con, "expression_is_true", expression=expression, where="id > 1 -- skip") == [3]
