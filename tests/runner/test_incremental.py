"""Incremental models on a real DuckDB file: append, merge and delete+insert, full refresh,
schema changes and failures."""

from __future__ import annotations

from pathlib import Path

from sqlml import Context
from tests.data.helpers import by_node, invoke, message, statuses
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import query

HEADER = "id,region,amount,updated_at\n"
SEED_TYPES = """\
    seeds:
      - name: raw
        config:
          column_types: {id: integer, region: varchar, amount: integer, updated_at: timestamp}
"""


def project(root: Path, model: str, rows: str) -> Path:
    """A seed ``raw`` (the source rows) and one incremental model ``inc`` reading it."""
    return write_project(
        root,
        {
            "project.yml": MINIMAL_PROJECT,
            "seeds/raw.csv": HEADER + rows,
            "seeds/raw.yml": SEED_TYPES,
            "models/inc.sql": model,
        },
    )


def new_rows(root: Path, rows: str) -> None:
    write_project(root, {"seeds/raw.csv": HEADER + rows})


def table(root: Path, columns: str = "id, region, amount") -> list[tuple[object, ...]]:
    return query(root, f"select {columns} from main.inc order by all")


APPEND = """\
    {{ config(materialized='incremental') }}
    select id, region, amount, updated_at from {{ ref('raw') }}
    {% if is_incremental() %}
    where updated_at > (select max(updated_at) from {{ this }})
    {% endif %}
"""


def test_append_adds_only_rows_newer_than_the_table(tmp_path: Path) -> None:
    root = project(tmp_path, APPEND, "1,eu,10,2026-01-01\n2,us,20,2026-01-02\n")
    assert Context(root).run().success
    new_rows(root, "1,eu,10,2026-01-01\n2,us,20,2026-01-02\n3,eu,30,2026-01-03\n")

    result = Context(root).run()

    assert result.success
    assert by_node(result)["inc"].rows == 1  # the new row only
    assert table(root) == [(1, "eu", 10), (2, "us", 20), (3, "eu", 30)]


def test_append_keeps_the_rows_the_query_returns_duplicates_included(tmp_path: Path) -> None:
    root = project(tmp_path, APPEND, "1,eu,10,2026-01-01\n")
    assert Context(root).run().success
    new_rows(root, "1,eu,10,2026-01-01\n2,us,20,2026-01-02\n2,us,20,2026-01-02\n")

    assert Context(root).run().success
    assert Context(root).run().success  # nothing newer: nothing appended

    assert table(root) == [(1, "eu", 10), (2, "us", 20), (2, "us", 20)]


def test_full_refresh_rebuilds_from_the_query(tmp_path: Path) -> None:
    root = project(tmp_path, APPEND, "1,eu,10,2026-01-01\n")
    assert Context(root).run().success
    # The source is rewritten: an incremental run keeps the old row, a full refresh does not.
    new_rows(root, "5,eu,50,2026-01-05\n")
    assert Context(root).run().success
    assert table(root) == [(1, "eu", 10), (5, "eu", 50)]

    result = invoke(root, "run", "--full-refresh")

    assert result.exit_code == 0, result.output
    assert table(root) == [(5, "eu", 50)]


MERGE = """\
    {{ config(materialized='incremental', unique_key='id') }}
    select id, region, amount, updated_at from {{ ref('raw') }}
    {% if is_incremental() %}
    -- a day of lookback: rows changed late are merged again, never duplicated
    where updated_at >= (select max(updated_at) from {{ this }}) - interval 1 day
    {% endif %}
"""


def test_merge_updates_matching_keys_and_inserts_the_rest(tmp_path: Path) -> None:
    root = project(tmp_path, MERGE, "1,eu,10,2026-01-01\n2,us,20,2026-01-02\n")
    assert Context(root).run().success
    # id 2 changes; id 3 is new; id 1 is not in the window and stays as it is.
    new_rows(root, "2,us,25,2026-01-03\n3,eu,30,2026-01-03\n")

    result = Context(root).run()

    assert result.success
    assert table(root) == [(1, "eu", 10), (2, "us", 25), (3, "eu", 30)]


def test_merge_catches_late_rows_within_the_lookback_without_duplicates(tmp_path: Path) -> None:
    root = project(tmp_path, MERGE, "1,eu,10,2026-01-05\n")
    assert Context(root).run().success
    # A row stamped before the table's newest arrives late, inside the one-day lookback,
    # and the newest row is delivered again.
    new_rows(root, "1,eu,10,2026-01-05\n2,us,20,2026-01-04 12:00:00\n")

    assert Context(root).run().success
    assert Context(root).run().success  # running again changes nothing

    assert table(root) == [(1, "eu", 10), (2, "us", 20)]


def test_merge_refuses_duplicate_keys_in_the_new_rows(tmp_path: Path) -> None:
    root = project(tmp_path, MERGE, "1,eu,10,2026-01-01\n")
    assert Context(root).run().success
    new_rows(root, "2,us,20,2026-01-02\n2,us,21,2026-01-02\n3,eu,30,2026-01-02\n")

    result = Context(root).run()

    assert statuses(result)["inc"] == "error"
    text = message(result, "inc")
    assert "merge on unique_key (id) found several new rows with the same key: id=2 (2 rows)" in (
        text
    )
    assert text.startswith("target/compiled/models/inc.incremental.sql: model 'inc' failed")
    assert "hint: make the query in models/inc.sql return one row per key" in text
    assert table(root) == [(1, "eu", 10)]  # nothing of the failed run was kept


def test_merge_on_a_composite_key(tmp_path: Path) -> None:
    model = MERGE.replace("unique_key='id'", "unique_key=['id', 'region']")
    root = project(tmp_path, model, "1,eu,10,2026-01-01\n1,us,11,2026-01-01\n")
    assert Context(root).run().success
    new_rows(root, "1,us,15,2026-01-02\n1,asia,12,2026-01-02\n")

    assert Context(root).run().success

    assert table(root) == [(1, "asia", 12), (1, "eu", 10), (1, "us", 15)]


def test_merge_matches_null_keys_as_equal(tmp_path: Path) -> None:
    model = MERGE.replace("unique_key='id'", "unique_key=['id', 'region']")
    root = project(tmp_path, model, "1,,10,2026-01-01\n")
    assert Context(root).run().success
    new_rows(root, "1,,12,2026-01-02\n")

    assert Context(root).run().success

    assert table(root) == [(1, None, 12)]


DELETE_INSERT = """\
    {{ config(materialized='incremental', incremental_strategy='delete+insert',
              unique_key='region') }}
    select id, region, amount, updated_at from {{ ref('raw') }}
    {% if is_incremental() %}
    where updated_at > (select max(updated_at) from {{ this }})
    {% endif %}
"""


def test_delete_insert_replaces_every_row_of_a_key(tmp_path: Path) -> None:
    root = project(
        tmp_path, DELETE_INSERT, "1,eu,10,2026-01-01\n2,eu,20,2026-01-01\n3,us,30,2026-01-01\n"
    )
    assert Context(root).run().success
    # The eu rows are restated as one row (duplicates of a key are kept: they form its group).
    new_rows(root, "4,eu,40,2026-01-02\n5,asia,50,2026-01-02\n6,asia,60,2026-01-02\n")

    assert Context(root).run().success

    assert table(root) == [(3, "us", 30), (4, "eu", 40), (5, "asia", 50), (6, "asia", 60)]


def test_delete_insert_replaces_late_rows_within_its_window_without_duplicates(
    tmp_path: Path,
) -> None:
    model = DELETE_INSERT.replace(
        "where updated_at > (select max(updated_at) from {{ this }})",
        "where updated_at >= (select max(updated_at) from {{ this }}) - interval 1 day",
    )
    root = project(tmp_path, model, "1,eu,10,2026-01-05\n2,us,20,2026-01-05\n")
    assert Context(root).run().success
    # A late eu row (stamped before the newest) arrives: the eu group is rebuilt with it.
    new_rows(root, "1,eu,10,2026-01-05\n2,us,20,2026-01-05\n3,eu,30,2026-01-04 18:00:00\n")

    assert Context(root).run().success
    assert Context(root).run().success

    assert table(root) == [(1, "eu", 10), (2, "us", 20), (3, "eu", 30)]


def test_delete_insert_on_a_composite_key(tmp_path: Path) -> None:
    model = DELETE_INSERT.replace("unique_key='region'", "unique_key=['id', 'region']")
    root = project(tmp_path, model, "1,eu,10,2026-01-01\n1,us,11,2026-01-01\n")
    assert Context(root).run().success
    new_rows(root, "1,eu,15,2026-01-02\n")

    assert Context(root).run().success

    assert table(root) == [(1, "eu", 15), (1, "us", 11)]


def test_a_failing_incremental_run_leaves_the_table_as_it_was(tmp_path: Path) -> None:
    model = MERGE.replace(
        "select id, region, amount,", "select id, region, 100 // (amount - 30) as amount,"
    )
    root = project(tmp_path, model, "1,eu,10,2026-01-01\n")
    assert Context(root).run().success
    before = table(root)
    new_rows(root, "2,us,20,2026-01-02\n3,eu,30,2026-01-02\n")  # 100 // 0 fails

    result = Context(root).run()

    assert statuses(result)["inc"] == "error"
    assert "Division by zero" in message(result, "inc") or "division" in message(result, "inc")
    assert table(root) == before
    assert query(root, "select count(*) from duckdb_tables() where temporary") == [(0,)]


SCHEMA_CHANGE = """\
    {{ config(materialized='incremental', unique_key='id', on_schema_change='POLICY') }}
    select id, region, amount COLUMNS from {{ ref('raw') }}
"""


def schema_project(root: Path, policy: str) -> Path:
    model = SCHEMA_CHANGE.replace("POLICY", policy).replace(" COLUMNS", "")
    root = project(root, model, "1,eu,10,2026-01-01\n")
    assert Context(root).run().success
    changed = SCHEMA_CHANGE.replace("POLICY", policy).replace(
        " COLUMNS", ", updated_at as changed_at"
    )
    write_project(root, {"models/inc.sql": changed})
    new_rows(root, "2,us,20,2026-01-02\n")
    return root


def test_on_schema_change_ignore_drops_new_columns(tmp_path: Path) -> None:
    root = schema_project(tmp_path, "ignore")

    assert Context(root).run().success

    assert query(root, "select * from main.inc order by id") == [(1, "eu", 10), (2, "us", 20)]


def test_on_schema_change_append_new_columns_adds_them(tmp_path: Path) -> None:
    root = schema_project(tmp_path, "append_new_columns")

    assert Context(root).run().success

    rows = query(root, "select id, changed_at is null from main.inc order by id")
    assert rows == [(1, True), (2, False)]


def test_on_schema_change_fail_names_the_change(tmp_path: Path) -> None:
    root = schema_project(tmp_path, "fail")

    result = Context(root).run()

    assert statuses(result)["inc"] == "error"
    text = message(result, "inc")
    assert "the columns of main.inc changed: new column changed_at (TIMESTAMP)" in text
    assert "hint: rebuild it with --full-refresh" in text
    assert table(root) == [(1, "eu", 10)]


def test_a_view_becomes_an_incremental_table(tmp_path: Path) -> None:
    root = project(tmp_path, "select id from {{ ref('raw') }}", "1,eu,10,2026-01-01\n")
    write_project(root, {"project.yml": MINIMAL_PROJECT + "models:\n  +materialized: view\n"})
    assert Context(root).run().success
    write_project(root, {"models/inc.sql": APPEND})

    assert Context(root).run().success

    assert table(root) == [(1, "eu", 10)]


def test_the_manifest_names_the_incremental_settings(tmp_path: Path) -> None:
    import json

    model = MERGE.replace("unique_key='id'", "unique_key=['id', 'region']")
    root = project(tmp_path, model, "1,eu,10,2026-01-01\n")

    Context(root).compile()

    manifest = json.loads((root / "target/manifest.json").read_text())
    config = manifest["nodes"]["inc"]["config"]
    assert config["materialized"] == "incremental"
    assert config["incremental_strategy"] == "merge"
    assert config["unique_key"] == ["id", "region"]
    assert config["on_schema_change"] == "ignore"
    assert "event_time" not in config
