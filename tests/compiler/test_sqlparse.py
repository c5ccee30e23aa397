"""Parsing rendered SQL: tables read, output columns, and syntax errors in rendered coordinates."""

from __future__ import annotations

import pytest

from sqlml.compiler.sqlparse import parse_sql
from sqlml.compiler.types import Parsed, TableRead
from sqlml.errors import CompileError, Location

COMPILED = "target/compiled/models/m.sql"
SOURCE = "models/m.sql"


def parse(sql: str) -> Parsed:
    return parse_sql(sql, node="m", compiled_path=COMPILED, source_path=SOURCE)


def parse_error(sql: str) -> CompileError:
    with pytest.raises(CompileError) as caught:
        parse(sql)
    return caught.value


def test_tables_are_reported_with_their_position() -> None:
    parsed = parse('select o.id\nfrom "main"."orders" o\njoin  customers c using (id)')

    assert parsed.tables == (
        TableRead("main", "orders", 2, 6, len('"main"."orders"')),
        TableRead("", "customers", 3, 7, len("customers")),
    )


def test_ctes_and_file_reads_are_not_tables() -> None:
    parsed = parse(
        """\
        with recent as (select * from read_csv('data/orders.csv'))
        select *
        from recent
        join 'data/customers.parquet' using (customer_id)
        join read_parquet(['a.parquet', 'b.parquet']) using (customer_id)
        join range(10) r on true
        """
    )

    assert parsed.tables == ()
    assert parsed.starts_with_cte


def test_cte_names_match_case_insensitively() -> None:
    assert parse("with Recent as (select 1 as x) select x from RECENT").tables == ()


def test_a_table_named_like_a_cte_in_another_schema_is_still_a_table() -> None:
    parsed = parse("with orders as (select 1 as x) select x from raw.orders")

    assert parsed.tables == (TableRead("raw", "orders", 1, 46, len("raw.orders")),)


def test_columns_of_an_explicit_select_list() -> None:
    parsed = parse('select id, amount as total, o.customer_id, count(*) as n, "A B" from t o')

    assert parsed.columns == ("id", "total", "customer_id", "n", "A B")
    assert not parsed.starts_with_cte


def test_columns_after_a_with_clause() -> None:
    assert parse("with x as (select 1 as a) select a, a + 1 as b from x").columns == ("a", "b")


@pytest.mark.parametrize(
    "sql",
    [
        "select * from t",
        "select t.* from t",
        "select id, * from t",
        "select * exclude (id) from t",
        "select a from t union all select a from u",
    ],
)
def test_columns_are_unknown_for_star_and_set_operations(sql: str) -> None:
    assert parse(sql).columns == ()


def test_unaliased_expressions_never_get_invented_column_names() -> None:
    columns = parse("select 1 + 2, upper(name) from t").columns

    # Either unknown, or the names DuckDB gives such columns; never '1' or ''.
    assert columns in [(), ("(1 + 2)", 'upper("name")'), ("(1 + 2)", "upper(name)")]


def test_syntax_error_points_into_the_compiled_file_and_names_the_source() -> None:
    err = parse_error('select id\nfrom "main"."a" join')

    assert err.node == "m"
    assert err.location == Location(COMPILED, 2, 17)
    assert err.render() == (
        f"{COMPILED}:2:17: SQL syntax error in model 'm': "
        "Expected table name but got the end of the query\n"
        "1 | select id\n"
        '2 | from "main"."a" join\n'
        "  |                 ^^^^\n"
        f"(rendered from {SOURCE})\n"
        f"hint: fix the SQL in {SOURCE}"
    )


def test_syntax_error_underlines_the_token_where_parsing_stopped() -> None:
    err = parse_error("select id\nfrom t\nwhere (id = 1\norder by id")

    assert err.location == Location(COMPILED, 4, 1)
    assert err.render() == (
        f"{COMPILED}:4:1: SQL syntax error in model 'm': Expecting )\n"
        "3 | where (id = 1\n"
        "4 | order by id\n"
        "  | ^^^^^^^^\n"
        f"(rendered from {SOURCE})\n"
        f"hint: fix the SQL in {SOURCE}"
    )


def test_syntax_error_message_does_not_leak_parser_internals() -> None:
    err = parse_error("select id\nfrom t\nwhere amount >\norder by id")

    assert err.location == Location(COMPILED, 4, 1)
    assert "sqlglot" not in err.message
    assert "<class" not in err.message


def test_unterminated_string_is_a_syntax_error() -> None:
    err = parse_error("select 'abc")

    assert err.location == Location(COMPILED)
    assert err.render() == (
        f"{COMPILED}: SQL syntax error in model 'm': Error tokenizing 'select 'ab'\n"
        f"hint: look for an unterminated string or comment in {SOURCE}"
    )


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        ("create table x as select 1", "a CREATE statement"),
        ("insert into t select 1", "a INSERT statement"),
        ("select 1; select 2", "2 statements"),
        ("", "no statement"),
        ("-- only a comment", "no statement"),
    ],
)
def test_a_model_is_exactly_one_query(sql: str, found: str) -> None:
    err = parse_error(sql)

    assert err.location == Location(SOURCE)
    assert err.render() == (
        f"{SOURCE}: model 'm' must be exactly one SELECT query, found {found}\n"
        "hint: a model is a single query (SELECT, WITH ... SELECT, or a set operation); "
        "sqlml writes the CREATE statement"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "select 1 as x",
        "with a as (select 1 as x) select x from a",
        "select 1 as x union all select 2",
        "(select 1 as x)",
        "select 1 as x;",
    ],
)
def test_queries_of_every_shape_are_accepted(sql: str) -> None:
    parse(sql)
