"""The DuckDB engine on real database files: atomic builds, the catalog, threads, locks."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlml.engine import Engine, connect
from sqlml.engine.duckdb import DuckDBEngine
from sqlml.errors import ExecutionError
from sqlml.relation import Relation
from tests.runner.helpers import held_open

T = Relation("main", "t")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = connect(tmp_path / "warehouse.duckdb")
    yield engine
    engine.close()


def columns(engine: Engine, relation: Relation) -> list[tuple[str, str]]:
    rows = engine.execute(
        "select column_name, data_type from duckdb_columns() "
        "where schema_name = ? and table_name = ? order by column_index",
        [relation.schema, relation.name],
    )
    return [(name, kind) for name, kind in rows]


def test_build_table_creates_the_table_and_returns_its_row_count(engine: Engine) -> None:
    rows = engine.build_table(T, "select range as id from range(3)", None)

    assert rows == 3
    assert engine.execute(f"select id from {T} order by id") == [(0,), (1,), (2,)]
    assert engine.relations() == {("main", "t"): "table"}


def test_build_table_replaces_an_existing_table_with_new_rows_and_schema(engine: Engine) -> None:
    engine.build_table(T, "select 1 as id", None)

    rows = engine.build_table(
        T, "select 'a' as name, 2.5::double as score union all select 'b', 3", "table"
    )

    assert rows == 2
    assert columns(engine, T) == [("name", "VARCHAR"), ("score", "DOUBLE")]
    assert engine.execute(f"select name from {T} order by name") == [("a",), ("b",)]
    assert engine.relations() == {("main", "t"): "table"}


def test_build_table_replaces_a_view(engine: Engine) -> None:
    engine.build_view(T, "select 1 as id", None)

    rows = engine.build_table(T, "select 7 as id", "view")

    assert rows == 1
    assert engine.relations() == {("main", "t"): "table"}
    assert engine.execute(f"select id from {T}") == [(7,)]


def test_build_view_replaces_a_table(engine: Engine) -> None:
    engine.build_table(T, "select 1 as id", None)

    engine.build_view(T, "select 8 as id", "table")

    assert engine.relations() == {("main", "t"): "view"}
    assert engine.execute(f"select id from {T}") == [(8,)]


def test_build_view_replaces_a_view(engine: Engine) -> None:
    engine.build_view(T, "select 1 as id", None)

    engine.build_view(T, "select 'x' as label", "view")

    assert engine.relations() == {("main", "t"): "view"}
    assert engine.execute(f"select * from {T}") == [("x",)]


# Each fails at a different stage inside DuckDB: parsing, binding, execution.
FAILING_SQL = {
    "syntax": "select 1 as id from",
    "missing column": "select id, nope from range(3) as r(id)",
    "runtime": "select id, error('boom') as b from range(3) as r(id)",
}


@pytest.mark.parametrize("sql", FAILING_SQL.values(), ids=FAILING_SQL.keys())
def test_failed_table_build_leaves_the_previous_table_untouched(engine: Engine, sql: str) -> None:
    engine.build_table(T, "select 'kept' as label, 42 as answer", None)

    with pytest.raises(ExecutionError):
        engine.build_table(T, sql, "table")

    assert engine.execute(f"select label, answer from {T}") == [("kept", 42)]
    assert columns(engine, T) == [("label", "VARCHAR"), ("answer", "INTEGER")]
    assert engine.relations() == {("main", "t"): "table"}  # no temporary table left behind


def test_failed_table_build_leaves_the_previous_view_untouched(engine: Engine) -> None:
    engine.build_view(T, "select 'kept' as label", None)

    with pytest.raises(ExecutionError):
        engine.build_table(T, "select error('boom') as label", "view")

    assert engine.relations() == {("main", "t"): "view"}
    assert engine.execute(f"select label from {T}") == [("kept",)]


def test_failed_view_build_leaves_the_previous_table_untouched(engine: Engine) -> None:
    engine.build_table(T, "select 'kept' as label", None)

    with pytest.raises(ExecutionError):
        engine.build_view(T, "select nope from range(1)", "table")

    assert engine.relations() == {("main", "t"): "table"}
    assert engine.execute(f"select label from {T}") == [("kept",)]


def test_failed_first_build_creates_nothing(engine: Engine) -> None:
    with pytest.raises(ExecutionError):
        engine.build_table(T, "select error('boom') as b", None)

    assert engine.relations() == {}


def test_engine_keeps_working_after_a_failed_build(engine: Engine) -> None:
    engine.build_table(T, "select 1 as id", None)
    with pytest.raises(ExecutionError):
        engine.build_table(T, "select error('boom') as id", "table")

    assert engine.build_table(T, "select 2 as id", "table") == 1
    assert engine.execute(f"select id from {T}") == [(2,)]


def test_runtime_error_is_translated_with_the_duckdb_message(engine: Engine) -> None:
    with pytest.raises(ExecutionError) as caught:
        engine.build_table(T, "select error('boom') as b", None)

    assert caught.value.message == "Invalid Input Error: boom"
    assert caught.value.statement_line == 0
    assert caught.value.exit_code == 1


def test_binder_error_names_the_line_of_the_statement_sent(engine: Engine) -> None:
    with pytest.raises(ExecutionError) as caught:
        engine.build_table(T, "select\n    id,\n    nope\nfrom range(3) as r(id)", None)

    # The statement sent is "create table ... as" plus the query: the query's line 3 is line 4.
    assert caught.value.statement_line == 4
    assert caught.value.message.startswith('Binder Error: Referenced column "nope" not found')
    assert "LINE" not in caught.value.message


def test_relations_lists_tables_and_views_of_every_schema(engine: Engine) -> None:
    engine.ensure_schema("marts")
    engine.build_table(Relation("marts", "facts"), "select 1 as id", None)
    engine.build_view(Relation("main", "v"), "select 1 as id", None)
    engine.execute("attach ':memory:' as other")
    engine.execute("create table other.main.elsewhere as select 1 as id")

    assert engine.relations() == {("marts", "facts"): "table", ("main", "v"): "view"}


def test_ensure_schema_is_idempotent(engine: Engine) -> None:
    engine.ensure_schema("marts")
    engine.ensure_schema("marts")

    assert engine.execute("select count(*) from duckdb_schemas() where schema_name = 'marts'") == [
        (1,)
    ]


def test_execute_binds_parameters(engine: Engine) -> None:
    assert engine.execute("select ? + ?, ?", [1, 2, "x"]) == [(3, "x")]


def test_each_thread_gets_its_own_cursor_and_builds_at_the_same_time(engine: Engine) -> None:
    assert isinstance(engine, DuckDBEngine)
    count = 4
    barrier = threading.Barrier(count, timeout=30)
    cursors: dict[int, tuple[object, object]] = {}
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            relation = Relation("main", f"t{index}")
            first = engine.cursor()
            barrier.wait()  # every thread holds its cursor before any builds
            engine.build_table(relation, f"select {index} as id", None)
            engine.build_table(relation, f"select {index} * 10 as id", "table")
            cursors[index] = (first, engine.cursor())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert all(first is again for first, again in cursors.values())
    assert len({id(first) for first, _ in cursors.values()}) == count
    for index in range(count):
        assert engine.execute(f'select id from "main"."t{index}"') == [(index * 10,)]


def test_relative_file_paths_resolve_against_the_search_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "people.csv").write_text("id,name\n1,ada\n2,grace\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    engine = connect(project / "warehouse.duckdb", search_path=project)
    sql = "select name from read_csv('data/people.csv') order by id"
    try:
        from_main = engine.execute(sql)
        from_thread: list[object] = []
        thread = threading.Thread(target=lambda: from_thread.append(engine.execute(sql)))
        thread.start()
        thread.join()
    finally:
        engine.close()

    assert from_main == [("ada",), ("grace",)]
    assert from_thread == [[("ada",), ("grace",)]]


def test_connect_creates_the_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "warehouse.duckdb"

    connect(path).close()

    assert path.is_file()


def test_read_only_engine_refuses_writes(tmp_path: Path) -> None:
    connect(tmp_path / "w.duckdb").close()
    engine = connect(tmp_path / "w.duckdb", read_only=True)
    try:
        with pytest.raises(ExecutionError) as caught:
            engine.build_table(T, "select 1 as id", None)
    finally:
        engine.close()

    assert "read-only" in caught.value.message


@pytest.fixture
def locked_path(tmp_path: Path) -> Iterator[Path]:
    """A database file another process holds open for writing."""
    path = tmp_path / "locked.duckdb"
    with held_open(path):
        yield path


@pytest.mark.parametrize("read_only", [False, True])
def test_opening_a_locked_file_explains_the_lock(locked_path: Path, read_only: bool) -> None:
    with pytest.raises(ExecutionError) as caught:
        connect(locked_path, read_only=read_only, lock_timeout=0)

    error = caught.value
    assert error.message.startswith(
        f'cannot open warehouse {locked_path}: IO Error: Could not set lock on file "{locked_path}"'
    )
    assert "\n" not in error.message
    assert error.hint is not None
    assert re.fullmatch(
        r"another program \(python[\d.]*, pid \d+\) has the database file open "
        r"\(a BI tool, an IDE\?\): close it"
        + (" and retry" if read_only else r", or wait longer with --lock-timeout SECONDS"),
        error.hint,
    )


def test_stream_reads_batches_while_this_thread_writes(engine: Engine) -> None:
    engine.execute("create table numbers as select range as n from range(10000)")

    with engine.stream("select n from numbers order by n", batch_rows=2048) as reader:
        first = reader.read_next_batch()
        engine.execute("create table other as select 1 as x")
        rest = sum(batch.num_rows for batch in reader)

    assert first.column(0).to_pylist()[:3] == [0, 1, 2]
    assert first.num_rows + rest == 10000


def test_stream_reports_a_bad_query_as_an_execution_error(engine: Engine) -> None:
    with pytest.raises(ExecutionError) as caught, engine.stream("select nope", batch_rows=10):
        pass

    assert "nope" in caught.value.message


def test_arrow_view_is_visible_to_this_thread_until_the_end(engine: Engine) -> None:
    import pyarrow as pa

    with engine.arrow_view(pa.table({"a": [1, 2]})) as view:
        assert engine.execute(f"select sum(a) from {view}") == [(3,)]

    with pytest.raises(ExecutionError):
        engine.execute(f"select * from {view}")


def test_replace_rows_swaps_matching_keys_including_null_keys(engine: Engine) -> None:
    engine.execute(
        "create table t as select * from (values (1, 'a'), (2, 'b'), (null, 'n')) v(k, v)"
    )

    rows = engine.replace_rows(
        T, "select * from (values (2, 'B'), (3, 'C'), (null, 'N')) v(k, v)", ["k"]
    )

    assert rows == 3
    assert engine.execute("select k, v from t order by k nulls last") == [
        (1, "a"), (2, "B"), (3, "C"), (None, "N"),
    ]  # fmt: skip


def test_replace_rows_changes_nothing_when_the_query_fails(engine: Engine) -> None:
    engine.execute("create table t as select 1 as k, 'a' as v")

    with pytest.raises(ExecutionError):
        engine.replace_rows(T, "select 1 as k, error('boom') as v", ["k"])

    assert engine.execute("select k, v from t") == [(1, "a")]
