"""Loading a project: defaults, folder config, properties files and vars."""

from __future__ import annotations

from pathlib import Path

from sqlml.project import Column, Target, load_project
from tests.projectfactory import MINIMAL_PROJECT, write_project


def test_minimal_project_gets_every_default(tmp_path: Path) -> None:
    write_project(tmp_path, {"project.yml": MINIMAL_PROJECT})

    project = load_project(tmp_path)

    root = tmp_path.resolve()
    assert project.root == root
    assert project.name == "demo"
    assert project.target == Target(
        name="dev",
        type="duckdb",
        path=root / "warehouse.duckdb",
        schema="main",
        threads=None,
        database="warehouse",
    )
    assert project.vars == {}
    assert project.models == ()
    assert project.macros == ()
    assert project.target_dir == root / "target"
    assert project.state_schema == "_sqlml"


def test_models_are_found_in_subfolders_sorted_by_name(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/staging/stg_b.sql": "select 2 as b",
            "models/a.sql": "select 1 as a",
            "models/notes.txt": "not a model",
        },
    )

    project = load_project(tmp_path)

    assert [(m.name, m.path, m.sql) for m in project.models] == [
        ("a", "models/a.sql", "select 1 as a"),
        ("stg_b", "models/staging/stg_b.sql", "select 2 as b"),
    ]
    assert all(m.config == {} for m in project.models)


def test_target_and_paths_come_from_project_yml(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "project.yml": """\
                name: demo
                target: prod
                targets:
                  dev: {}
                  prod:
                    path: build/prod.duckdb
                    schema: analytics
                    threads: 4
                paths:
                  models: [sql, more_sql]
                  macros: [jinja]
                  target: out
                state_schema: sqlml_state
            """,
            "sql/a.sql": "select 1 as a",
            "more_sql/b.sql": "select 2 as b",
            "jinja/m.sql": "{% macro m() %}1{% endmacro %}",
        },
    )

    project = load_project(tmp_path)

    root = tmp_path.resolve()
    assert project.target == Target(
        "prod", "duckdb", root / "build/prod.duckdb", "analytics", 4, database="prod"
    )
    assert [m.path for m in project.models] == ["sql/a.sql", "more_sql/b.sql"]
    assert [m.path for m in project.macros] == ["jinja/m.sql"]
    assert project.target_dir == root / "out"
    assert project.state_schema == "sqlml_state"


def test_target_argument_picks_another_target(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {"project.yml": "name: demo\ntargets:\n  dev: {}\n  ci:\n    schema: ci\n"},
    )

    assert load_project(tmp_path).target.schema == "main"
    assert load_project(tmp_path, target="ci").target.schema == "ci"


def test_folder_config_deeper_folders_win_and_tags_accumulate(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "project.yml": """\
                name: demo
                models:
                  +materialized: table
                  +tags: [nightly]
                  staging:
                    +materialized: view
                    +schema: staging
                    +tags: staging
                    web:
                      +schema: web
                      +tags: [pii, nightly]
            """,
            "models/top.sql": "select 1 as x",
            "models/staging/stg.sql": "select 1 as x",
            "models/staging/web/events.sql": "select 1 as x",
        },
    )

    configs = {m.name: m.config for m in load_project(tmp_path).models}

    assert configs == {
        "top": {"materialized": "table", "tags": ["nightly"]},
        "stg": {"materialized": "view", "schema": "staging", "tags": ["nightly", "staging"]},
        "events": {"materialized": "view", "schema": "web", "tags": ["nightly", "staging", "pii"]},
    }


def test_folder_config_applies_below_each_models_path(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "project.yml": """\
                name: demo
                paths:
                  models: [models, extra]
                models:
                  staging:
                    +materialized: view
            """,
            "models/staging/a.sql": "select 1 as x",
            "extra/staging/b.sql": "select 1 as x",
            "extra/c.sql": "select 1 as x",
        },
    )

    configs = {m.name: m.config for m in load_project(tmp_path).models}

    assert configs == {"a": {"materialized": "view"}, "b": {"materialized": "view"}, "c": {}}


def test_properties_file_adds_description_columns_and_config(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "project.yml": """\
                name: demo
                models:
                  +materialized: view
                  +schema: root
                  +tags: [r]
                  marts:
                    +schema: marts
                    +tags: m
            """,
            "models/marts/orders.sql": "select 1 as order_id",
            "models/marts/other.sql": "select 1 as x",
            "models/marts/_marts.yml": """\
                version: 2
                models:
                  - name: orders
                    description: One row per order.
                    config:
                      materialized: table
                      alias: fct_orders
                      tags: [y, r]
                      meta: {owner: finance}
                    columns:
                      - name: order_id
                        description: The key.
                        data_type: integer
                      - name: amount
            """,
        },
    )

    project = load_project(tmp_path)
    orders, other = project.models

    assert orders.description == "One row per order."
    assert orders.columns == (
        Column("order_id", "The key.", "integer"),
        Column("amount", None, None),
    )
    assert orders.properties_path == "models/marts/_marts.yml"
    # YAML config beats folder config, which beats the project root; tags accumulate.
    assert orders.config == {
        "materialized": "table",
        "schema": "marts",
        "tags": ["r", "m", "y"],
        "alias": "fct_orders",
        "meta": {"owner": "finance"},
    }
    assert other.description is None
    assert other.columns == ()
    assert other.properties_path is None
    assert other.config == {"materialized": "view", "schema": "marts", "tags": ["r", "m"]}


def test_description_may_sit_under_config(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/a.sql": "select 1 as x",
            "models/props.yaml": """\
                models:
                  - name: a
                    config:
                      description: Via config.
            """,
        },
    )

    assert load_project(tmp_path).models[0].description == "Via config."


def test_vars_argument_overrides_project_vars(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "project.yml": """\
                name: demo
                vars:
                  start: '2024-01-01'
                  countries: [NL, BE]
            """
        },
    )

    assert load_project(tmp_path).vars == {"start": "2024-01-01", "countries": ["NL", "BE"]}
    assert load_project(tmp_path, vars={"start": "2025-06-01", "extra": 3}).vars == {
        "start": "2025-06-01",
        "countries": ["NL", "BE"],
        "extra": 3,
    }


def test_environment_hash_follows_what_can_change_a_render(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "project.yml": "name: demo\ntargets:\n  dev: {}\n  ci: {}\n",
            "models/a.sql": "select 1 as x",
            "models/props.yml": "models:\n  - name: a\n",
            "macros/m.sql": "{% macro m() %}1{% endmacro %}",
        },
    )
    base = load_project(tmp_path).environment_hash

    assert load_project(tmp_path).environment_hash == base
    assert load_project(tmp_path, vars={"x": 1}).environment_hash != base
    assert load_project(tmp_path, target="ci").environment_hash != base
    # A model's own SQL is keyed separately, per file.
    write_project(tmp_path, {"models/a.sql": "select 2 as x"})
    assert load_project(tmp_path).environment_hash == base
    # Properties files do not take part in rendering: config is merged after it.
    write_project(tmp_path, {"models/props.yml": "models:\n  - name: a\n    description: d\n"})
    assert load_project(tmp_path).environment_hash == base
    for path, text in [
        ("macros/m.sql", "{% macro m() %}2{% endmacro %}"),
        ("project.yml", "name: demo\ntargets:\n  dev: {}\n  ci: {}\nvars: {y: 1}\n"),
    ]:
        write_project(tmp_path, {path: text})
        changed = load_project(tmp_path).environment_hash
        assert changed != base, path
        base = changed
