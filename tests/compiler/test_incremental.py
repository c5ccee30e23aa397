"""Compiling incremental models: both variants of is_incremental(), {{ this }}, batch bounds
and the checks of their settings."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlml.batch import BATCH_END, BATCH_START
from sqlml.errors import Location
from sqlml.project.types import IncrementalConfig
from tests.compiler.conftest import CompileFiles

SOURCE = {"models/src.sql": "select 1 as id, timestamp '2026-01-01' as ts"}
INCREMENTAL = """\
{{ config(materialized='incremental', unique_key='id') }}
select id, ts from {{ ref('src') }}
{% if is_incremental() %}
where ts > (select max(ts) from {{ this }})
{% endif %}
"""
THIS = '"warehouse"."main"."inc"'


def test_both_variants_are_rendered_and_written(
    compile_files: CompileFiles, tmp_path: Path
) -> None:
    compiled = compile_files({**SOURCE, "models/inc.sql": INCREMENTAL})

    node = compiled.nodes["inc"]
    assert node.error is None
    assert "where" not in node.sql
    assert f"where ts > (select max(ts) from {THIS})" in node.incremental_sql
    assert node.config.incremental == IncrementalConfig(strategy="merge", unique_key=("id",))
    written = tmp_path / "target/compiled/models/inc.incremental.sql"
    assert written.read_text().strip() == node.incremental_sql.strip()


def test_the_cached_render_keeps_the_incremental_variant(compile_files: CompileFiles) -> None:
    first = compile_files({**SOURCE, "models/inc.sql": INCREMENTAL})
    # An edit elsewhere: inc's render comes from the cache.
    second = compile_files({"models/other.sql": "select 2 as x"})

    assert second.rendered == 1
    assert second.nodes["inc"].incremental_sql == first.nodes["inc"].incremental_sql


def test_a_template_that_never_asks_has_one_variant(
    compile_files: CompileFiles, tmp_path: Path
) -> None:
    model = "{{ config(materialized='incremental') }}\nselect id from {{ ref('src') }}"
    compiled = compile_files({**SOURCE, "models/inc.sql": model})

    node = compiled.nodes["inc"]
    assert node.incremental_sql == node.sql
    assert not (tmp_path / "target/compiled/models/inc.incremental.sql").exists()


def test_a_ref_made_only_when_incremental_is_a_dependency(compile_files: CompileFiles) -> None:
    model = """\
        {{ config(materialized='incremental') }}
        select id from {{ ref('src') }}
        {% if is_incremental() %} where id not in (select id from {{ ref('seen') }}) {% endif %}
    """
    compiled = compile_files(
        {**SOURCE, "models/seen.sql": "select 1 as id", "models/inc.sql": model}
    )

    assert compiled.nodes["inc"].depends_on == ("src", "seen")


def test_the_incremental_variant_is_fingerprinted(compile_files: CompileFiles) -> None:
    before = compile_files({**SOURCE, "models/inc.sql": INCREMENTAL}).nodes["inc"].fingerprint
    edited = INCREMENTAL.replace("ts > (", "ts >= (")
    after = compile_files({"models/inc.sql": edited}).nodes["inc"].fingerprint
    rekeyed = compile_files({"models/inc.sql": INCREMENTAL.replace("'id'", "['id', 'ts']")})

    assert len({before, after, rekeyed.nodes["inc"].fingerprint}) == 3


def test_time_range_bounds_render_as_placeholders(compile_files: CompileFiles) -> None:
    model = """\
        {{ config(materialized='incremental', event_time='ts', begin='2026-01-01',
                  batch_size='month', lookback=2) }}
        select id, ts from {{ ref('src') }} where ts >= {{ start }} and ts < {{ end }}
    """
    node = compile_files({**SOURCE, "models/inc.sql": model}).nodes["inc"]

    assert node.error is None
    assert f"where ts >= {BATCH_START} and ts < {BATCH_END}" in node.sql
    assert node.config.incremental == IncrementalConfig(
        strategy="time_range",
        event_time="ts",
        batch_size="month",
        begin=datetime(2026, 1, 1),
        lookback=2,
    )


def test_batch_bounds_belong_to_time_range_models(compile_files: CompileFiles) -> None:
    model = "select id from {{ ref('src') }} where ts >= {{ start }}"
    error = compile_files({**SOURCE, "models/inc.sql": model}).nodes["inc"].error

    assert error is not None
    assert error.render() == (
        "models/inc.sql: model 'inc' uses {{ start }} or {{ end }}, which only time_range "
        "incremental models have\nhint: set materialized: incremental, incremental_strategy: "
        "time_range and event_time, or remove them"
    )


def test_merge_needs_a_unique_key(compile_files: CompileFiles) -> None:
    model = "{{ config(materialized='incremental', incremental_strategy='merge') }}\nselect 1 as id"
    error = compile_files({"models/inc.sql": model}).nodes["inc"].error

    assert error is not None
    assert error.location == Location("models/inc.sql", 1)
    assert error.message == "incremental model 'inc': strategy merge needs a unique_key"
    assert (
        error.hint == "set unique_key: a column or a list (in config() or the model's properties)"
    )


def test_time_range_needs_begin(compile_files: CompileFiles) -> None:
    model = "{{ config(materialized='incremental', event_time='ts') }}\nselect 1 as id, 2 as ts"
    error = compile_files({"models/inc.sql": model}).nodes["inc"].error

    assert error is not None
    assert "strategy time_range needs begin" in error.message


def test_key_columns_must_be_among_the_columns(compile_files: CompileFiles) -> None:
    model = (
        "{{ config(materialized='incremental', unique_key=['id', 'tz']) }}\nselect 1 as id, 2 as ts"
    )
    error = compile_files({"models/inc.sql": model}).nodes["inc"].error

    assert error is not None
    assert (
        error.message == "incremental model 'inc': unique_key column 'tz' is not among its columns"
    )
    assert error.hint == "columns: id, ts"


def test_incremental_settings_in_yaml(compile_files: CompileFiles) -> None:
    compiled = compile_files(
        {
            "models/inc.sql": "select 1 as order_id, 2 as line",
            "models/inc.yml": """\
                models:
                  - name: inc
                    config:
                      materialized: incremental
                      incremental_strategy: delete+insert
                      unique_key: [order_id, line]
                      on_schema_change: append_new_columns
            """,
        }
    )

    assert compiled.nodes["inc"].config.incremental == IncrementalConfig(
        strategy="delete+insert",
        unique_key=("order_id", "line"),
        on_schema_change="append_new_columns",
    )
