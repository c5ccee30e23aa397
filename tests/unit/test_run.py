"""Unit tests of models, run on tiny projects written from strings."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

from sqlml.compiler import compile_project
from sqlml.project import load_project
from sqlml.unit import UnitTestResult, run_unit_tests
from tests.projectfactory import write_project

SHOP = {
    "project.yml": """
        name: shop
        vars:
          high_value: 100
    """,
    "models/sources.yml": """
        sources:
          - name: shop
            schema: raw
            tables:
              - name: orders
                columns:
                  - {name: order_id, data_type: integer}
                  - {name: customer_id, data_type: integer}
                  - {name: status, data_type: varchar}
                  - {name: placed_on, data_type: date}
              - name: items
    """,
    "models/stg_orders.sql": """
        select order_id, customer_id, lower(status) as status, placed_on
        from {{ source('shop', 'orders') }}
    """,
    "models/items.sql": """
        {{ config(materialized='ephemeral') }}
        select order_id, amount from {{ source('shop', 'items') }}
    """,
    "models/order_totals.sql": """
        select
            o.order_id,
            o.customer_id,
            sum(i.amount) as total,
            sum(i.amount) >= {{ var('high_value') }} as is_high_value
        from {{ ref('stg_orders') }} as o
        join {{ ref('items') }} as i on i.order_id = o.order_id
        group by all
    """,
}

# A passing test of order_totals, read through the ephemeral model `items`.
ORDER_TOTALS = """
    unit_tests:
      - name: totals
        model: order_totals
        given:
          - input: ref('stg_orders')
            rows:
              - {order_id: 1, customer_id: 7}
              - {order_id: 2, customer_id: 8}
          - input: source('shop', 'items')
            rows:
              - {order_id: 1, amount: 20}
              - {order_id: 1, amount: 10}
              - {order_id: 2, amount: 5}
        expect:
          rows:
            - {order_id: 1, total: 30, is_high_value: false}
            - {order_id: 2, total: 5, is_high_value: false}
"""


def run(
    tmp_path: Path,
    unit_tests: str,
    files: Mapping[str, str] | None = None,
    select: Collection[str] | None = None,
) -> dict[str, UnitTestResult]:
    root = write_project(
        tmp_path, {**SHOP, **(files or {}), "models/unit.yml": unit_tests.lstrip("\n")}
    )
    project = load_project(root)
    results = run_unit_tests(project, compile_project(project), select)
    return {r.name: r for r in results}


def only(results: dict[str, UnitTestResult]) -> UnitTestResult:
    assert len(results) == 1
    return next(iter(results.values()))


def test_passing_test_reads_through_an_ephemeral_parent(tmp_path: Path) -> None:
    result = only(run(tmp_path, ORDER_TOTALS))
    assert (result.name, result.model, result.status, result.message) == (
        "totals",
        "order_totals",
        "pass",
        None,
    )
    assert result.duration_s > 0


def test_model_reading_a_source(tmp_path: Path) -> None:
    result = only(
        run(
            tmp_path,
            """
            unit_tests:
              - name: lower_status
                model: stg_orders
                given:
                  - input: source('shop', 'orders')
                    rows: [{order_id: 1, status: PLACED}, {order_id: 2, status: null}]
                expect:
                  rows: [{order_id: 1, status: placed}, {order_id: 2, status: null}]
            """,
        )
    )
    assert result.status == "pass", result.message


def test_failing_test_shows_missing_and_unexpected_rows(tmp_path: Path) -> None:
    result = only(
        run(
            tmp_path,
            ORDER_TOTALS.replace("{order_id: 1, total: 30,", "{order_id: 1, total: 31,").replace(
                "- {order_id: 2, total: 5, is_high_value: false}",
                "- {order_id: 3, total: 5, is_high_value: false}\n"
                "            - {order_id: 4, total: 12, is_high_value: null}",
            ),
        )
    )
    assert result.status == "fail"
    assert result.message == (
        "expected 3 rows, got 2; compared on order_id, total, is_high_value\n"
        "3 missing rows (expected, not returned):\n"
        "  order_id | total | is_high_value\n"
        "  ---------+-------+--------------\n"
        "         1 |    31 | false\n"
        "         3 |     5 | false\n"
        "         4 |    12 | null\n"
        "2 unexpected rows (returned, not expected):\n"
        "  order_id | total | is_high_value\n"
        "  ---------+-------+--------------\n"
        "         1 |    30 | false\n"
        "         2 |     5 | false"
    )


def test_rows_compare_as_a_multiset(tmp_path: Path) -> None:
    test = """
        unit_tests:
          - name: multiset
            model: stg_orders
            given:
              - input: source('shop', 'orders')
                rows: [{order_id: 1, status: a}, {order_id: 1, status: a}, {order_id: 2}]
            expect:
              rows: {expected}
    """
    reordered = "[{order_id: 2}, {order_id: 1, status: a}, {order_id: 1, status: a}]"
    assert only(run(tmp_path, test.replace("{expected}", reordered))).status == "pass"

    once = only(run(tmp_path, test.replace("{expected}", "[{order_id: 2}, {order_id: 1}]")))
    assert once.status == "fail"
    assert once.message == (
        "expected 2 rows, got 3; compared on order_id\n"
        "1 unexpected row (returned, not expected):\n"
        "  order_id\n"
        "  --------\n"
        "         1"
    )


def test_expecting_no_rows_compares_every_column(tmp_path: Path) -> None:
    result = only(
        run(
            tmp_path,
            """
            unit_tests:
              - name: nothing
                model: stg_orders
                given:
                  - input: source('shop', 'orders')
                    rows: [{order_id: 1, status: ' x', placed_on: 2024-03-01}]
                expect:
                  rows: []
            """,
        )
    )
    assert result.message == (
        "expected 0 rows, got 1; compared on every column\n"
        "1 unexpected row (returned, not expected):\n"
        "  order_id | customer_id | status | placed_on\n"
        "  ---------+-------------+--------+-----------\n"
        "         1 |        null | ' x'   | 2024-03-01"
    )


def test_vars_override_the_projects_for_one_test(tmp_path: Path) -> None:
    with_vars = ORDER_TOTALS.replace(
        "model: order_totals", "model: order_totals\n        vars: {high_value: 10}"
    ).replace("total: 30, is_high_value: false", "total: 30, is_high_value: true")
    both = with_vars + ORDER_TOTALS.replace("name: totals", "name: totals_default").replace(
        "unit_tests:", ""
    )
    results = run(tmp_path, both)
    assert {n: r.status for n, r in results.items()} == {"totals": "pass", "totals_default": "pass"}
    compiled = (tmp_path / "target/compiled/models/order_totals.sql").read_text()
    assert ">= 100" in compiled  # the test's vars never reach target/compiled/


def test_declared_types_type_the_fixture_and_omitted_columns_are_null(tmp_path: Path) -> None:
    types = """
        select distinct typeof(order_id) as id, typeof(customer_id) as customer,
            typeof(status) as status, typeof(placed_on) as placed,
            placed_on + 1 as next_day, customer_id is null as no_customer
        from {{ source('shop', 'orders') }}
    """
    result = only(
        run(
            tmp_path,
            """
            unit_tests:
              - name: typed
                model: types
                given:
                  - input: source('shop', 'orders')
                    rows: [{order_id: '1', placed_on: '2024-02-29'}]
                expect:
                  rows:
                    - id: INTEGER
                      customer: INTEGER
                      status: VARCHAR
                      placed: DATE
                      next_day: 2024-03-01
                      no_customer: true
            """,
            {"models/types.sql": types},
        )
    )
    assert result.status == "pass", result.message


def test_undeclared_types_are_inferred_from_the_values(tmp_path: Path) -> None:
    types = """
        select distinct typeof(order_id) as id, typeof(amount) as amount, typeof(note) as note,
            typeof(day) as day, typeof(missing) as missing, typeof(mixed) as mixed
        from {{ source('shop', 'items') }}
    """
    result = only(
        run(
            tmp_path,
            """
            unit_tests:
              - name: inferred
                model: types
                given:
                  - input: source('shop', 'items')
                    rows:
                      - {order_id: 1, amount: 2.5, note: hi, day: 2024-01-01, missing: null}
                      - {order_id: 2, amount: 3, mixed: 1}
                      - {order_id: 3, mixed: x}
                expect:
                  rows:
                    - id: BIGINT
                      amount: DOUBLE
                      note: VARCHAR
                      day: DATE
                      missing: '"NULL"'
                      mixed: VARCHAR
            """,
            {"models/types.sql": types},
        )
    )
    assert result.status == "pass", result.message


def test_seed_column_types_type_the_fixture(tmp_path: Path) -> None:
    result = only(
        run(
            tmp_path,
            """
            unit_tests:
              - name: seeded
                model: from_seed
                given:
                  - input: ref('countries')
                    rows: [{code: 1, name: France}]
                expect:
                  rows: [{code_type: VARCHAR, name_type: VARCHAR}]
            """,
            {
                "seeds/countries.csv": "code,name\nfr,France\n",
                "seeds/seeds.yml": """
                    seeds:
                      - name: countries
                        config: {column_types: {code: varchar}}
                """,
                "models/from_seed.sql": "select typeof(code) as code_type,"
                " typeof(name) as name_type from {{ ref('countries') }}",
            },
        )
    )
    assert result.status == "pass", result.message


def test_input_naming_no_node_is_an_error(tmp_path: Path) -> None:
    result = only(run(tmp_path, ORDER_TOTALS.replace("source('shop', 'items')", "ref('nothere')")))
    assert result.status == "error"
    assert result.message == (
        "models/unit.yml:2: unit test 'totals': input ref('nothere') names no model or seed\n"
        "hint: 'order_totals' reads ref('stg_orders'), source('shop', 'items')"
    )
    source = only(
        run(tmp_path, ORDER_TOTALS.replace("source('shop', 'items')", "source('shop', 'item')"))
    )
    assert source.message is not None
    assert "hint: did you mean 'shop.items'" in source.message


def test_missing_fixture_is_an_error(tmp_path: Path) -> None:
    without = (
        ORDER_TOTALS.split("          - input: source")[0]
        + ORDER_TOTALS.split("              - {order_id: 2, amount: 5}\n")[1]
    )
    result = only(run(tmp_path, without))
    assert result.status == "error"
    assert result.message == (
        "models/unit.yml:2: unit test 'totals': missing fixture for source('shop', 'items') "
        "(read through ephemeral 'items')\n"
        "hint: give rows for every input under `given:` (`rows: []` for an empty table)"
    )


def test_input_the_model_does_not_read_is_an_error(tmp_path: Path) -> None:
    result = only(
        run(
            tmp_path,
            """
            unit_tests:
              - name: extra
                model: stg_orders
                given:
                  - input: source('shop', 'orders')
                    rows: []
                  - input: source('shop','items')
                    rows: []
                expect:
                  rows: []
            """,
        )
    )
    assert result.status == "error"
    assert result.message == (
        "models/unit.yml:2: unit test 'extra' gives rows for source('shop', 'items'), which "
        "model 'stg_orders' does not read\n"
        "hint: remove this input; 'stg_orders' reads source('shop', 'orders')"
    )


def test_ephemeral_parent_cannot_be_given(tmp_path: Path) -> None:
    result = only(run(tmp_path, ORDER_TOTALS.replace("source('shop', 'items')", "ref('items')")))
    assert result.message == (
        "models/unit.yml:2: unit test 'totals' gives rows for ref('items'), an ephemeral model "
        "inlined into 'order_totals'\n"
        "hint: give rows for what it reads instead: source('shop', 'items')"
    )


def test_malformed_and_repeated_inputs_are_errors(tmp_path: Path) -> None:
    bad = only(run(tmp_path, ORDER_TOTALS.replace("ref('stg_orders')", "stg_orders")))
    assert bad.message is not None
    assert "cannot read input 'stg_orders'" in bad.message
    assert "hint: write ref('model_name') or source('source_name', 'table_name'); " in bad.message
    twice = only(
        run(tmp_path, ORDER_TOTALS.replace("source('shop', 'items')", "ref( 'stg_orders' )"))
    )
    assert twice.message is not None
    assert "unit test 'totals' gives rows for ref('stg_orders') twice" in twice.message


def test_unknown_model_suggests_a_name(tmp_path: Path) -> None:
    result = only(run(tmp_path, ORDER_TOTALS.replace("model: order_totals", "model: order_total")))
    assert result.model == "order_total"
    assert result.status == "error"
    assert result.message == (
        "models/unit.yml:2: unit test 'totals' is about model 'order_total', which does not "
        "exist\n"
        "hint: did you mean 'order_totals'?"
    )


def test_disabled_model_is_an_error(tmp_path: Path) -> None:
    disabled = {"models/stg_orders.sql": "{{ config(enabled=false) }} select 1 as order_id"}
    test = ORDER_TOTALS.replace("model: order_totals", "model: stg_orders")
    result = only(run(tmp_path, test, {**disabled, "models/order_totals.sql": "select 1 as x"}))
    assert result.message == (
        "models/unit.yml:2: unit test 'totals' is about model 'stg_orders', which is disabled\n"
        "hint: enable 'stg_orders' or remove the test"
    )


def test_model_that_does_not_compile_is_an_error(tmp_path: Path) -> None:
    result = only(
        run(tmp_path, ORDER_TOTALS, {"models/stg_orders.sql": "select * from {{ ref('nope') }}"})
    )
    assert result.model == "order_totals"  # a broken parent does not matter: its rows are given
    assert result.status == "pass"
    broken = only(
        run(
            tmp_path,
            ORDER_TOTALS.replace("model: order_totals", "model: stg_orders"),
            {"models/stg_orders.sql": "select * from {{ ref('nope') }}"},
        )
    )
    assert broken.status == "error"
    assert broken.message is not None
    assert broken.message.startswith(
        "models/unit.yml:2: unit test 'totals': model 'stg_orders' does not compile:\n"
        "models/stg_orders.sql:1:15: unknown ref 'nope' in model 'stg_orders'"
    )


def test_value_that_cannot_be_cast_to_the_declared_type_is_an_error(tmp_path: Path) -> None:
    result = only(
        run(
            tmp_path,
            """
            unit_tests:
              - name: uncastable
                model: stg_orders
                given:
                  - input: source('shop', 'orders')
                    rows: [{order_id: 1}, {order_id: 2, placed_on: someday}]
                expect:
                  rows: []
            """,
        )
    )
    assert result.status == "error"
    assert result.message == (
        "models/unit.yml:2: unit test 'uncastable', input source('shop', 'orders'), row 2: "
        "value 'someday' of column 'placed_on' cannot be cast to date\n"
        "hint: give a value of that type, or change the column's data_type on 'shop.orders'"
    )


def test_unknown_declared_type_is_an_error(tmp_path: Path) -> None:
    sources = SHOP["models/sources.yml"].replace("data_type: date", "data_type: dat")
    result = only(
        run(
            tmp_path,
            """
            unit_tests:
              - name: badtype
                model: stg_orders
                given:
                  - input: source('shop', 'orders')
                    rows: [{order_id: 1}]
                expect:
                  rows: []
            """,
            {"models/sources.yml": sources},
        )
    )
    assert result.message is not None
    assert "column 'placed_on' has type 'dat', which DuckDB does not know" in result.message


def test_expected_value_that_cannot_be_cast_is_an_error(tmp_path: Path) -> None:
    result = only(run(tmp_path, ORDER_TOTALS.replace("total: 30,", "total: thirty,")))
    assert result.status == "error"
    assert result.message == (
        "models/unit.yml:2: unit test 'totals', expected rows, row 1: value 'thirty' of column "
        "'total' cannot be cast to HUGEINT\n"
        "hint: give a value of the type the model returns for this column"
    )


def test_number_that_a_type_would_round_is_an_error(tmp_path: Path) -> None:
    result = only(run(tmp_path, ORDER_TOTALS.replace("total: 30,", "total: 30.5,")))
    assert result.message == (
        "models/unit.yml:2: unit test 'totals', expected rows, row 1: value 30.5 of column "
        "'total' does not fit HUGEINT (it would become 30)\n"
        "hint: give a value of the type the model returns for this column"
    )


def test_expected_column_the_model_lacks_is_an_error(tmp_path: Path) -> None:
    result = only(run(tmp_path, ORDER_TOTALS.replace("total: 30,", "totl: 30,")))
    assert result.status == "error"
    assert result.message == (
        "models/unit.yml:2: unit test 'totals': model 'order_totals' does not return column "
        "'totl'\n"
        "hint: did you mean 'total'? 'order_totals' returns order_id, customer_id, total, "
        "is_high_value"
    )


def test_expected_rows_naming_no_column_are_an_error(tmp_path: Path) -> None:
    no_columns = ORDER_TOTALS.split("        expect:")[0] + "        expect: {rows: [{}]}\n"
    result = only(run(tmp_path, no_columns))
    assert result.message == (
        "models/unit.yml:2: unit test 'totals': the expected rows name no columns\n"
        "hint: name the columns to compare in each row under `expect: rows:`"
    )


def test_sql_failing_on_the_given_rows_is_an_error(tmp_path: Path) -> None:
    result = only(run(tmp_path, ORDER_TOTALS.replace("amount: 20", "amount: twenty")))
    assert result.status == "error"
    assert result.message is not None
    assert result.message.startswith(
        "models/unit.yml:2: unit test 'totals': model 'order_totals' failed on the given rows: "
    )


def test_select_runs_the_tests_of_chosen_models(tmp_path: Path) -> None:
    assert run(tmp_path, ORDER_TOTALS, select={"stg_orders"}) == {}
    assert set(run(tmp_path, ORDER_TOTALS, select={"order_totals"})) == {"totals"}


def test_in_memory_target_and_the_warehouse_file_is_never_created(tmp_path: Path) -> None:
    again = ORDER_TOTALS.replace("name: totals", "name: again").replace("unit_tests:", "")
    results = run(tmp_path, ORDER_TOTALS + again)
    assert [r.status for r in results.values()] == ["pass", "pass"]
    assert not (tmp_path / "warehouse.duckdb").exists()
    memory = {
        "project.yml": "name: shop\nvars: {high_value: 100}\ntargets: {dev: {path: ':memory:'}}\n"
    }
    assert only(run(tmp_path / "memory", ORDER_TOTALS, memory)).status == "pass"
