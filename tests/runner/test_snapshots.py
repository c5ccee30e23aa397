"""Snapshots on a real DuckDB file: history recorded run after run, in one transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sqlml import Context
from sqlml.errors import CompileError
from tests.data.helpers import by_node, invoke, message, statuses, timeless
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import query

PEOPLE_TYPES = """\
    seeds:
      - name: people
        config:
          column_types: {id: integer, name: varchar, country: varchar, updated_at: timestamp}
"""
TIMESTAMP = """\
    {{ config(unique_key='id', strategy='timestamp', updated_at='updated_at') }}
    select * from {{ ref('people') }}
"""
V1 = "id,name,country,updated_at\n1,Ann,DE,2026-01-01\n2,Bob,FR,2026-01-01\n"


def project(tmp_path: Path, snapshot: str = TIMESTAMP, data: str = V1, **files: str) -> Path:
    return write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "seeds/people.csv": data,
            "seeds/_seeds.yml": PEOPLE_TYPES,
            "snapshots/history.sql": snapshot,
            **files,
        },
    )


def rerun(root: Path, data: str) -> Any:
    write_project(root, {"seeds/people.csv": data})
    return Context(root).run()


def history(root: Path, columns: str = "id, country") -> list[tuple[Any, ...]]:
    return query(
        root,
        f"select {columns}, sqlml_valid_from::varchar, sqlml_valid_to::varchar "
        "from main.history order by id, sqlml_valid_from",
    )


def test_the_first_run_records_every_row_as_current(tmp_path: Path) -> None:
    root = project(tmp_path)

    result = Context(root).run()

    assert statuses(result) == {"people": "success", "history": "success"}
    assert by_node(result)["history"].rows == 2
    assert history(root) == [
        (1, "DE", "2026-01-01 00:00:00", None),
        (2, "FR", "2026-01-01 00:00:00", None),
    ]
    columns = query(root, "select column_name, column_type from (describe main.history)")
    assert columns == [
        ("id", "INTEGER"),
        ("name", "VARCHAR"),
        ("country", "VARCHAR"),
        ("updated_at", "TIMESTAMP"),
        ("sqlml_scd_id", "VARCHAR"),
        ("sqlml_updated_at", "TIMESTAMP"),
        ("sqlml_valid_from", "TIMESTAMP"),
        ("sqlml_valid_to", "TIMESTAMP"),
    ]


def test_a_change_closes_the_old_version_where_the_new_one_starts(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert Context(root).run().success

    result = rerun(
        root,
        "id,name,country,updated_at\n1,Ann,NL,2026-02-01\n2,Bob,FR,2026-01-01\n"
        "3,Cid,IT,2026-02-03\n",
    )

    assert result.success
    assert by_node(result)["history"].message == "1 new, 1 changed"
    assert history(root) == [
        (1, "DE", "2026-01-01 00:00:00", "2026-02-01 00:00:00"),
        (1, "NL", "2026-02-01 00:00:00", None),
        (2, "FR", "2026-01-01 00:00:00", None),
        (3, "IT", "2026-02-03 00:00:00", None),
    ]
    ids = query(root, "select count(distinct sqlml_scd_id), count(*) from main.history")
    assert ids == [(4, 4)]


def test_a_run_without_changes_changes_nothing(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert Context(root).run().success
    assert rerun(root, V1.replace("Ann,DE,2026-01-01", "Ann,NL,2026-02-01")).success
    before = query(root, "select * from main.history order by all")

    result = Context(root).run()

    assert by_node(result)["history"].rows == 0
    assert by_node(result)["history"].message == "0 new, 0 changed"
    assert query(root, "select * from main.history order by all") == before


def test_an_older_or_equal_updated_at_is_no_change(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert Context(root).run().success

    result = rerun(root, "id,name,country,updated_at\n1,Ann,NL,2025-12-01\n2,Bob,ES,2026-01-01\n")

    assert by_node(result)["history"].rows == 0
    assert [row[:2] for row in history(root)] == [(1, "DE"), (2, "FR")]


def test_vanished_keys_stay_current_unless_invalidated(tmp_path: Path) -> None:
    invalidating = TIMESTAMP.replace("updated_at')", "updated_at', hard_deletes='invalidate')")
    kept = project(tmp_path / "kept")
    closed = project(tmp_path / "closed", invalidating)
    only_ann = "id,name,country,updated_at\n1,Ann,DE,2026-01-01\n"
    for root in (kept, closed):
        assert Context(root).run().success
        assert rerun(root, only_ann).success

    assert history(kept) == [
        (1, "DE", "2026-01-01 00:00:00", None),
        (2, "FR", "2026-01-01 00:00:00", None),
    ]
    rows = history(closed)
    assert rows[0] == (1, "DE", "2026-01-01 00:00:00", None)
    assert rows[1][:3] == (2, "FR", "2026-01-01 00:00:00")
    assert rows[1][3] is not None and rows[1][3] > "2026-11"  # closed when the run started

    # Bob comes back unchanged: a new version, starting no earlier than the last one ended.
    result = rerun(closed, V1)
    assert by_node(result)["history"].message == "1 new, 0 changed, 0 invalidated"
    bob = [row for row in history(closed) if row[0] == 2]
    assert len(bob) == 2 and bob[1][3] is None
    assert bob[1][2] == bob[0][3]


def test_a_change_dated_before_a_returned_key_started_starts_when_it_is_seen(
    tmp_path: Path,
) -> None:
    invalidating = TIMESTAMP.replace("updated_at')", "updated_at', hard_deletes='invalidate')")
    root = project(tmp_path, invalidating)
    only_ann = "id,name,country,updated_at\n1,Ann,DE,2026-01-01\n"
    assert Context(root).run().success
    assert rerun(root, only_ann).success  # Bob vanishes: closed when that run started
    assert rerun(root, V1).success  # Bob returns with his old updated_at

    # Bob moves, dated after his first version but before his return's version started.
    result = rerun(root, V1.replace("Bob,FR,2026-01-01", "Bob,ES,2026-02-01"))

    assert by_node(result)["history"].message == "0 new, 1 changed, 0 invalidated"
    bob = [row for row in history(root) if row[0] == 2]
    assert [row[1] for row in bob] == ["FR", "FR", "ES"]
    assert bob[2][3] is None
    for row in bob[:2]:
        assert row[2] < row[3], row  # every closed version ends after it starts
    assert bob[1][2] == bob[0][3] and bob[2][2] == bob[1][3]  # no gap, no overlap
    ids = query(root, "select count(distinct sqlml_scd_id), count(*) from main.history")
    assert ids == [(4, 4)]


CHECK = """\
    {{ config(unique_key='id', strategy='check', check_cols=['country', 'name']) }}
    select id, name, country, updated_at from {{ ref('people') }}
"""


def test_the_check_strategy_compares_columns_with_nulls_equal(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        CHECK,
        "id,name,country,updated_at\n1,Ann,,2026-01-01\n2,Bob,FR,2026-01-01\n"
        "3,Cid,,2026-01-01\n4,Dan,IT,2026-01-01\n",
    )
    assert Context(root).run().success

    # 1: NULL stays NULL (no change); 2: only updated_at moves, not a checked column;
    # 3: NULL becomes a value; 4: a value becomes NULL.
    result = rerun(
        root,
        "id,name,country,updated_at\n1,Ann,,2026-03-01\n2,Bob,FR,2026-03-01\n"
        "3,Cid,ES,2026-03-01\n4,Dan,,2026-03-01\n",
    )

    assert by_node(result)["history"].message == "0 new, 2 changed"
    versions = query(
        root,
        "select id, country, sqlml_valid_to is null from main.history "
        "order by id, sqlml_valid_from",
    )
    assert versions == [
        (1, None, True),
        (2, "FR", True),
        (3, None, False),
        (3, "ES", True),
        (4, "IT", False),
        (4, None, True),
    ]
    types = query(root, "select typeof(sqlml_valid_from) from main.history limit 1")
    assert types == [("TIMESTAMP WITH TIME ZONE",)]
    # The closed version ends exactly where the new one starts.
    gaps = query(
        root,
        "select count(*) from main.history old join main.history new using (id) "
        "where old.sqlml_valid_to = new.sqlml_valid_from",
    )
    assert gaps == [(2,)]


def test_check_cols_all_and_a_composite_key(tmp_path: Path) -> None:
    snapshot = """\
        {{ config(unique_key=['country', 'id'], strategy='check', check_cols='all') }}
        select id, country, name from {{ ref('people') }}
    """
    root = project(
        tmp_path,
        snapshot,
        "id,name,country,updated_at\n1,Ann,DE,2026-01-01\n1,Bea,FR,2026-01-01\n",
    )
    assert Context(root).run().success

    result = rerun(
        root,
        "id,name,country,updated_at\n1,Ann,DE,2026-01-01\n1,Bee,FR,2026-01-01\n"
        "2,Ann,DE,2026-01-01\n",
    )

    assert by_node(result)["history"].message == "1 new, 1 changed"
    rows = query(
        root,
        "select country, id, name, sqlml_valid_to is null from main.history "
        "order by country, id, sqlml_valid_from",
    )
    assert rows == [
        ("DE", 1, "Ann", True),
        ("DE", 2, "Ann", True),
        ("FR", 1, "Bea", False),
        ("FR", 1, "Bee", True),
    ]


def test_duplicate_keys_fail_naming_the_file_and_the_keys(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert Context(root).run().success
    before = query(root, "select * from main.history order by all")

    result = rerun(root, V1 + "2,Bob,ES,2026-02-01\n2,Bob,PT,2026-03-01\n")

    assert statuses(result)["history"] == "error"
    text = message(result, "history")
    assert "snapshots/history.sql returns unique_key (id) more than once: id=2 (3 rows)" in text
    assert "qualify row_number()" in text
    assert query(root, "select * from main.history order by all") == before


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (V1 + ",Nobody,DE,2026-01-01\n", "1 row(s) with a NULL in unique_key (id)"),
        (V1 + "3,Cid,DE,\n", "1 row(s) with a NULL updated_at ('updated_at')"),
    ],
)
def test_null_keys_and_null_times_are_errors(tmp_path: Path, data: str, expected: str) -> None:
    root = project(tmp_path, data=data)

    result = Context(root).run()

    assert statuses(result)["history"] == "error"
    assert expected in message(result, "history")
    assert query(root, "select count(*) from duckdb_tables() where table_name = 'history'") == [
        (0,)
    ]


def test_a_failure_mid_run_leaves_the_snapshot_unchanged(tmp_path: Path) -> None:
    numeric = PEOPLE_TYPES.replace("country: varchar", "country: integer")
    root = project(tmp_path, data=V1.replace("DE", "49").replace("FR", "33"))
    write_project(root, {"seeds/_seeds.yml": numeric})
    assert Context(root).run().success
    before = query(root, "select * from main.history order by all")
    # The run adds a column and closes Bob's version before it inserts the new one, which
    # fails: 'NL' is no integer. All of it must be undone.
    write_project(
        root,
        {
            "snapshots/history.sql": TIMESTAMP.replace("select *", "select *, 1 as extra"),
            "seeds/_seeds.yml": PEOPLE_TYPES,
            "seeds/people.csv": V1.replace("DE", "49").replace("FR,2026-01-01", "NL,2026-05-01"),
        },
    )

    result = Context(root).run()

    assert statuses(result)["history"] == "error"
    assert "Could not convert string 'NL' to INT32" in message(result, "history")
    assert query(root, "select * from main.history order by all") == before


def test_models_read_a_snapshot_after_it_ran(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        **{
            "models/current_people.sql": "select id, country from {{ ref('history') }} "
            "where sqlml_valid_to is null",
            "models/other.sql": "select 1 as one",
        },
    )

    result = invoke(root, "run", "--threads", "1")

    assert result.exit_code == 0, result.output
    assert [line.split()[2] for line in result.stdout.splitlines()[1:-1]] == [
        "other",
        "people",
        "history",
        "current_people",
    ]
    assert query(root, "select * from main.current_people order by id") == [(1, "DE"), (2, "FR")]

    only = invoke(root, "snapshot")
    assert only.exit_code == 0, only.output
    assert timeless(only.stdout) == (
        "Snapshotting 1 node of project 'demo' on target 'dev' (warehouse.duckdb)\n"
        "1/1 OK    history (snapshot main.history, 0 rows) in 0.00s\n"
        "Done in 0.00s: 1 succeeded, 0 failed, 0 skipped.\n"
    )
    listed = invoke(root, "ls", "-s", "kind:snapshot+")
    assert listed.stdout.split() == [
        "history",
        "snapshot",
        "snapshots/history.sql",
        "current_people",
        "table",
        "models/current_people.sql",
    ]


def test_yaml_config_schema_and_folder_defaults(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "select * from {{ ref('people') }}",
        **{
            "project.yml": "name: demo\nsnapshots:\n  +schema: history\n  +tags: [scd]\n",
            "snapshots/_snapshots.yml": """\
                snapshots:
                  - name: history
                    description: Every version of every person.
                    config:
                      unique_key: id
                      strategy: timestamp
                      updated_at: updated_at
                      alias: people_history
            """,
        },
    )

    result = Context(root).run()

    assert result.success
    assert by_node(result)["history"].relation == '"warehouse"."history"."people_history"'
    assert query(root, "select count(*) from history.people_history") == [(2,)]
    node = Context(root).compile().nodes["history"]
    assert node.config.tags == ("scd",) and node.description == "Every version of every person."


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        ("{{ config(strategy='check', check_cols='all') }} select 1 as id", "has no unique_key"),
        ("{{ config(unique_key='id') }} select 1 as id", "has no strategy"),
        (
            "{{ config(unique_key='id', strategy='timestamp') }} select 1 as id",
            "uses the timestamp strategy without updated_at",
        ),
        (
            "{{ config(unique_key='id', strategy='check', check_cols='all', updated_at='t') }} "
            "select 1 as id, now() as t",
            "sets updated_at, which only the timestamp strategy uses",
        ),
        (
            "{{ config(unique_key='idd', strategy='check', check_cols='all') }} select 1 as id",
            "names column 'idd', which its select does not return",
        ),
        (
            "{{ config(unique_key='id', strategy='check', check_cols='all') }} "
            "select 1 as id, 2 as sqlml_valid_to",
            "its select returns column 'sqlml_valid_to'",
        ),
        (
            "{{ config(unique_key='id', strategy='check', check_cols='all', "
            "materialized='table') }} select 1 as id",
            "unknown snapshot config key 'materialized'",
        ),
    ],
)
def test_bad_config_is_a_compile_error_of_the_snapshot(
    tmp_path: Path, snapshot: str, expected: str
) -> None:
    root = project(tmp_path, snapshot)

    compiled = Context(root).compile()

    error = compiled.nodes["history"].error
    assert isinstance(error, CompileError)
    assert expected in error.message
    assert error.location is not None and error.location.path == "snapshots/history.sql"
    assert compiled.nodes["people"].error is None


def test_a_snapshot_named_like_a_model_is_a_config_error(tmp_path: Path) -> None:
    root = project(tmp_path, **{"models/history.sql": "select 1 as id"})

    result = invoke(root, "compile")

    assert result.exit_code == 2
    assert "a snapshot and a model or seed are both named 'history'" in result.stderr


def test_properties_for_a_snapshot_without_a_file_name_the_fix(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        **{
            "snapshots/_snapshots.yml": """\
                snapshots:
                  - name: histroy
                    config: {unique_key: id}
            """
        },
    )

    result = invoke(root, "compile")

    assert result.exit_code == 2
    assert "snapshots/_snapshots.yml:2:" in result.stderr
    assert "properties for snapshot 'histroy', which has no SQL file" in result.stderr
    assert "did you mean 'history'?" in result.stderr


def test_an_unknown_folder_default_for_snapshots_is_a_config_error(tmp_path: Path) -> None:
    root = project(tmp_path, **{"project.yml": "name: demo\nsnapshots:\n  +strategy: daily\n"})

    result = invoke(root, "compile")

    assert result.exit_code == 2
    assert "project.yml:3:" in result.stderr and "snapshots.+strategy" in result.stderr
