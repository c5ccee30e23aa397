"""Compiling a project: refs, relations, config, cross-checks, error isolation, written files."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlml.compiler.sqlparse import parse_sql
from sqlml.errors import CompileError, GraphError, Location, SqlmlError
from sqlml.project import NodeConfig
from sqlml.relation import Relation
from tests.compiler.conftest import CompileFiles


def error_of(compile_files: CompileFiles, files: dict[str, str], node: str) -> SqlmlError:
    error = compile_files(files).nodes[node].error
    assert error is not None, f"expected {node} to fail"
    return error


def test_a_small_project_compiles(compile_files: CompileFiles) -> None:
    compiled = compile_files(
        {
            "models/orders.sql": "select 1 as order_id, 2 as customer_id",
            "models/customers.sql": "select 2 as customer_id",
            "models/joined.sql": """\
                select o.order_id, c.customer_id
                from {{ ref('orders') }} o
                join {{ ref('customers') }} c using (customer_id)
            """,
        }
    )

    assert compiled.errors == {}
    assert sorted(compiled.nodes) == ["customers", "joined", "orders"]
    joined = compiled.nodes["joined"]
    assert joined.kind == "model"
    assert joined.path == "models/joined.sql"
    assert joined.sql == (
        'select o.order_id, c.customer_id\nfrom "warehouse"."main"."orders" o\n'
        'join "warehouse"."main"."customers" c using (customer_id)'
    )
    assert joined.body_sql == joined.sql
    assert joined.depends_on == ("orders", "customers")
    assert joined.relation == Relation("main", "joined", database="warehouse")
    assert joined.config == NodeConfig()
    assert joined.columns == ("order_id", "customer_id")
    assert joined.compiled_path == "target/compiled/models/joined.sql"


def test_repeated_refs_are_one_dependency(compile_files: CompileFiles) -> None:
    compiled = compile_files(
        {
            "models/a.sql": "select 1 as x",
            "models/b.sql": "select * from {{ ref('a') }} union all select * from {{ ref('a') }}",
        }
    )

    assert compiled.nodes["b"].depends_on == ("a",)


def test_schema_and_alias_decide_the_relation(compile_files: CompileFiles) -> None:
    compiled = compile_files(
        {
            "project.yml": """\
                name: demo
                targets:
                  dev:
                    schema: analytics
                models:
                  marts:
                    +schema: marts
            """,
            "models/plain.sql": "select 1 as x",
            "models/marts/totals.sql": "{{ config(alias='customer_totals') }}\nselect 1 as x",
            "models/reader.sql": "select * from {{ ref('totals') }}, {{ ref('plain') }}",
        }
    )

    assert compiled.nodes["plain"].relation == Relation("analytics", "plain", database="warehouse")
    assert compiled.nodes["totals"].relation == Relation(
        "marts", "customer_totals", database="warehouse"
    )
    assert compiled.nodes["reader"].sql == (
        'select * from "warehouse"."marts"."customer_totals", "warehouse"."analytics"."plain"'
    )


def test_config_precedence_file_over_yaml_over_folder_over_root(
    compile_files: CompileFiles,
) -> None:
    compiled = compile_files(
        {
            "project.yml": """\
                name: demo
                models:
                  +materialized: view
                  +schema: root
                  +alias: root_alias
                  +tags: [r]
                  staging:
                    +materialized: ephemeral
                    +schema: folder
                    +alias: folder_alias
                    +tags: f
            """,
            "models/staging/a.sql": """\
                {{ config(materialized='table', tags='c') }}
                select 1 as x
            """,
            "models/staging/props.yml": """\
                models:
                  - name: a
                    config:
                      materialized: view
                      alias: yaml_alias
                      tags: [y]
            """,
        }
    )

    assert compiled.nodes["a"].config == NodeConfig(
        materialized="table", schema="folder", alias="yaml_alias", tags=("r", "f", "y", "c")
    )
    assert compiled.nodes["a"].tags == ("r", "f", "y", "c")


def test_description_and_declared_columns_reach_the_node(compile_files: CompileFiles) -> None:
    compiled = compile_files(
        {
            "models/a.sql": "select 1 as x",
            "models/a.yml": "models:\n  - name: a\n    description: A.\n    columns:\n"
            "      - name: x\n        description: The x.\n",
        }
    )

    node = compiled.nodes["a"]
    assert node.description == "A."
    assert [(c.name, c.description) for c in node.declared_columns] == [("x", "The x.")]


def test_disabled_models_are_left_out(compile_files: CompileFiles) -> None:
    compiled = compile_files(
        {
            "project.yml": "name: demo\nmodels:\n  old:\n    +enabled: false\n",
            "models/old/legacy.sql": "select * from nowhere",
            "models/off.sql": "{{ config(enabled=false) }}\nselect * from nowhere",
            "models/on.sql": "select 1 as x",
        }
    )

    assert list(compiled.nodes) == ["on"]
    assert compiled.errors == {}


def test_unknown_config_key_in_config_call(compile_files: CompileFiles) -> None:
    err = error_of(
        compile_files, {"models/a.sql": "\n{{ config(materialzed='view') }}\nselect 1"}, "a"
    )

    assert isinstance(err, CompileError)
    assert err.render() == (
        "models/a.sql:2: unknown config key 'materialzed' in config()\n"
        "hint: did you mean 'materialized'?"
    )


def test_invalid_config_value_in_config_call(compile_files: CompileFiles) -> None:
    err = error_of(compile_files, {"models/a.sql": "{{ config(materialized='tabel') }}"}, "a")

    assert err.render() == (
        "models/a.sql:1: invalid config 'materialized': "
        "Input should be 'view', 'table', 'ephemeral' or 'incremental'"
    )


def test_unknown_ref_has_position_and_suggestion(compile_files: CompileFiles) -> None:
    err = error_of(
        compile_files,
        {
            "models/orders.sql": "select 1 as x",
            "models/b.sql": "select *\nfrom   {{ ref('order') }}",
        },
        "b",
    )

    assert isinstance(err, GraphError)
    assert err.node == "b"
    assert err.location == Location("models/b.sql", 2, 8)
    assert err.render() == (
        "models/b.sql:2:8: unknown ref 'order' in model 'b'\nhint: did you mean 'orders'?"
    )


def test_unknown_ref_through_jinja_has_its_line(compile_files: CompileFiles) -> None:
    template = "{% if true %}\nselect *\nfrom {{ ref('order') }}\n{% endif %}"
    err = error_of(
        compile_files, {"models/orders.sql": "select 1 as x", "models/b.sql": template}, "b"
    )

    assert err.location is not None
    assert (err.location.path, err.location.line) == ("models/b.sql", 3)
    assert err.message == "unknown ref 'order' in model 'b'"


def test_unknown_ref_without_close_name(compile_files: CompileFiles) -> None:
    err = error_of(compile_files, {"models/b.sql": "select * from {{ ref('zzz') }}"}, "b")

    assert err.render() == (
        "models/b.sql:1:15: unknown ref 'zzz' in model 'b'\n"
        "hint: no model or seed of that name exists"
    )


def test_ref_to_a_disabled_model(compile_files: CompileFiles) -> None:
    err = error_of(
        compile_files,
        {
            "models/a.sql": "{{ config(enabled=false) }}\nselect 1 as x",
            "models/b.sql": "select *\nfrom {{ ref('a') }}",
        },
        "b",
    )

    assert isinstance(err, GraphError)
    assert err.render() == (
        "models/b.sql:2:6: model 'b' refers to disabled model 'a'\n"
        "hint: enable 'a' or remove the ref"
    )


def test_sql_syntax_error_is_reported_in_rendered_coordinates(compile_files: CompileFiles) -> None:
    compiled = compile_files(
        {"models/a.sql": "select 1 as id", "models/b.sql": "select id\nfrom {{ ref('a') }} join\n"}
    )

    err = compiled.nodes["b"].error
    assert isinstance(err, CompileError)
    # Column 29 of the rendered line, not 21 of the template line.
    assert err.location == Location("target/compiled/models/b.sql", 2, 29)
    assert err.render() == (
        "target/compiled/models/b.sql:2:29: SQL syntax error in model 'b': "
        "Expected table name but got the end of the query\n"
        "1 | select id\n"
        '2 | from "warehouse"."main"."a" join\n'
        "  |                             ^^^^\n"
        "(rendered from models/b.sql)\n"
        "hint: fix the SQL in models/b.sql"
    )
    # The file the location names exists and holds what the excerpt shows.
    written = compiled.project.root / "target/compiled/models/b.sql"
    assert written.read_text().splitlines()[1] == 'from "warehouse"."main"."a" join'


def test_table_read_without_ref_is_an_error_with_position(compile_files: CompileFiles) -> None:
    err = error_of(
        compile_files,
        {
            "models/a.sql": "select o.id\nfrom {{ ref('b') }} b\njoin orders o using (id)",
            "models/b.sql": "select 1 as id",
        },
        "a",
    )

    assert isinstance(err, CompileError)
    assert err.location == Location("target/compiled/models/a.sql", 3, 6)
    assert err.render() == (
        "target/compiled/models/a.sql:3:6: model 'a' reads table 'orders', which is not "
        "declared with ref() or source()\n"
        '2 | from "warehouse"."main"."b" b\n'
        "3 | join orders o using (id)\n"
        "  |      ^^^^^^\n"
        "(rendered from models/a.sql)\n"
        "hint: declare what a model reads with ref() or source(); read files with "
        "read_csv(), read_parquet() or read_json()"
    )


def test_reading_a_model_by_name_suggests_ref(compile_files: CompileFiles) -> None:
    err = error_of(
        compile_files,
        {"models/orders.sql": "select 1 as id", "models/a.sql": "select id from orders"},
        "a",
    )

    assert err.hint == "write {{ ref('orders') }} instead of orders"


def test_schema_qualified_undeclared_table_is_underlined_whole(
    compile_files: CompileFiles,
) -> None:
    err = error_of(compile_files, {"models/a.sql": "select 1 as x\nfrom raw.orders"}, "a")

    assert err.location == Location("target/compiled/models/a.sql", 2, 6)
    assert err.excerpt == (
        "1 | select 1 as x\n2 | from raw.orders\n  |      ^^^^^^^^^^\n(rendered from models/a.sql)"
    )


def test_ctes_file_reads_and_this_are_allowed(compile_files: CompileFiles) -> None:
    compiled = compile_files(
        {
            "models/a.sql": """\
                with recent as (select * from read_csv('data/orders.csv'))
                select r.id
                from recent r
                join 'data/customers.parquet' c using (id)
                where r.id not in (select id from {{ this }})
            """
        }
    )

    assert compiled.errors == {}
    assert compiled.nodes["a"].depends_on == ()


@pytest.mark.parametrize(
    ("sql", "found"),
    [("create table t as select 1", "a CREATE statement"), ("select 1; select 2", "2 statements")],
)
def test_a_model_must_be_one_select(compile_files: CompileFiles, sql: str, found: str) -> None:
    err = error_of(compile_files, {"models/a.sql": sql}, "a")

    assert err.render() == (
        f"models/a.sql: model 'a' must be exactly one SELECT query, found {found}\n"
        "hint: a model is a single query (SELECT, WITH ... SELECT, or a set operation); "
        "sqlml writes the CREATE statement"
    )


def test_one_broken_model_does_not_stop_the_others(compile_files: CompileFiles) -> None:
    compiled = compile_files(
        {
            "models/good.sql": "select 1 as x",
            "models/bad_template.sql": "select {{ nope }}",
            "models/bad_sql.sql": "select from from",
            "models/bad_ref.sql": "select * from {{ ref('missing') }}",
            "models/after_bad.sql": "select * from {{ ref('bad_sql') }}",
            "models/after_good.sql": "select * from {{ ref('good') }}",
        }
    )

    assert sorted(compiled.errors) == ["bad_ref", "bad_sql", "bad_template"]
    assert all(compiled.errors[name].node == name for name in compiled.errors)
    assert sorted(compiled.nodes) == [
        "after_bad",
        "after_good",
        "bad_ref",
        "bad_sql",
        "bad_template",
        "good",
    ]
    # A node downstream of a failed table compiles; running it is the runner's decision.
    assert compiled.nodes["after_bad"].error is None
    assert compiled.nodes["after_bad"].depends_on == ("bad_sql",)
    assert compiled.nodes["after_good"].sql == 'select * from "warehouse"."main"."good"'
    for name in compiled.errors:
        assert compiled.nodes[name].sql == ""
        assert compiled.nodes[name].fingerprint == ""


def test_a_failed_template_keeps_its_known_config(compile_files: CompileFiles) -> None:
    compiled = compile_files(
        {
            "project.yml": "name: demo\nmodels:\n  +materialized: view\n  +tags: [t]\n",
            "models/a.sql": "select {{ nope }}",
        }
    )

    assert compiled.nodes["a"].config == NodeConfig(materialized="view", tags=("t",))
    assert compiled.nodes["a"].relation == Relation("main", "a", database="warehouse")


def test_model_inlining_a_failed_ephemeral_fails(compile_files: CompileFiles) -> None:
    compiled = compile_files(
        {
            "project.yml": "name: demo\nmodels:\n  eph:\n    +materialized: ephemeral\n",
            "models/eph/base.sql": "select from from",
            "models/eph/mid.sql": "select * from {{ ref('base') }}",
            "models/top.sql": "select * from {{ ref('mid') }}",
        }
    )

    assert sorted(compiled.errors) == ["base", "mid", "top"]
    assert compiled.errors["mid"].render() == (
        "models/eph/mid.sql: model 'mid' inlines ephemeral model 'base', which failed\n"
        "hint: fix 'base' first"
    )
    assert compiled.errors["top"].message == (
        "model 'top' inlines ephemeral model 'mid', which failed"
    )


def test_ephemeral_declared_in_its_failing_template_still_fails_its_readers(
    compile_files: CompileFiles,
) -> None:
    compiled = compile_files(
        {
            "models/a.sql": "{{ config(materialized='ephemeral') }}\nselect {{ var('nope') }} as x",
            "models/b.sql": "select x from {{ ref('a') }}",
        }
    )

    assert compiled.nodes["b"].error is not None
    assert compiled.errors["b"].render() == (
        "models/b.sql: model 'b' inlines ephemeral model 'a', which failed\nhint: fix 'a' first"
    )


def test_dependency_cycle_raises(compile_files: CompileFiles) -> None:
    with pytest.raises(GraphError) as caught:
        compile_files(
            {
                "models/a.sql": "select * from {{ ref('c') }}",
                "models/b.sql": "select * from {{ ref('a') }}",
                "models/c.sql": "select * from {{ ref('b') }}",
            }
        )

    assert caught.value.render() == (
        "models/b.sql: dependency cycle: b -> c -> a -> b\n"
        "hint: a model cannot depend on itself, directly or through others; "
        "remove one ref() in the cycle"
    )


def test_compiled_sql_is_written_under_target(compile_files: CompileFiles) -> None:
    compiled = compile_files(
        {
            "models/a.sql": "select 1 as x",
            "models/staging/b.sql": "select x from {{ ref('a') }}",
            "models/bad.sql": "select {{ nope }}",
        }
    )

    root: Path = compiled.project.root
    assert (root / "target/compiled/models/a.sql").read_text() == "select 1 as x\n"
    assert (root / "target/compiled/models/staging/b.sql").read_text() == (
        'select x from "warehouse"."main"."a"\n'
    )
    assert not (root / "target/compiled/models/bad.sql").exists()


def test_compiled_file_follows_edits(compile_files: CompileFiles) -> None:
    compile_files({"models/a.sql": "select 1 as x"})
    compiled = compile_files({"models/a.sql": "select 2 as x"})

    assert (compiled.project.root / "target/compiled/models/a.sql").read_text() == (
        "select 2 as x\n"
    )


def test_compiled_file_is_restored_if_deleted(compile_files: CompileFiles) -> None:
    compiled = compile_files({"models/a.sql": "select 1 as x"})
    written = compiled.project.root / "target/compiled/models/a.sql"
    written.unlink()

    compile_files()

    assert written.read_text() == "select 1 as x\n"


def test_columns_explicit_list_and_star(compile_files: CompileFiles) -> None:
    compiled = compile_files(
        {
            "models/a.sql": "select 1 as id, 'x' as name",
            "models/b.sql": "select * from {{ ref('a') }}",
            "models/c.sql": "select b.id, upper(b.name) as name_upper from {{ ref('b') }} b",
        }
    )

    assert compiled.nodes["a"].columns == ("id", "name")
    assert compiled.nodes["b"].columns == ()
    assert compiled.nodes["c"].columns == ("id", "name_upper")


def test_inlined_ephemeral_ending_in_a_semicolon_stays_valid_sql(
    compile_files: CompileFiles,
) -> None:
    compiled = compile_files(
        {
            "models/a.sql": "{{ config(materialized='ephemeral') }}\nselect 1 as x;\n",
            "models/b.sql": "select x from {{ ref('a') }}",
        }
    )

    sql = compiled.nodes["b"].sql
    assert compiled.errors == {}
    parse_sql(sql, node="b", compiled_path="target/compiled/models/b.sql", source_path="b.sql")
