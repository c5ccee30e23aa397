"""SQLite sources on real database files written with the standard sqlite3 module."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest

from sqlml.errors import ExecutionError
from sqlml.sources import extract


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder holding data/crm.sqlite."""
    (tmp_path / "data").mkdir()
    with sqlite3.connect(tmp_path / "data" / "crm.sqlite") as db:
        db.executescript(
            """
            create table accounts (
                id integer primary key, name text, score real, active boolean,
                signed_up timestamp, born date, note varchar(20)
            );
            insert into accounts values
                (1, 'Ada', 9.5, 1, '2024-01-02 03:04:05', '1990-05-06', 'vip'),
                (2, 'Bob', null, 0, '2024-02-03T10:00:00.250', null, null),
                (3, null, 7.25, null, null, '2001-12-31', null);
            create table empty (id integer, label text, at datetime);
            create table unix (id integer, at timestamp);
            insert into unix values (1, 1704164645);
            create table zoned (at timestamp);
            insert into zoned values ('2024-01-02 03:04:05+02:00'), ('2024-01-02T01:04:05Z');
            create table mixed (value);
            create view active_accounts as select id, name from accounts where active;
            """
        )
        db.executemany("insert into mixed values (?)", [(n,) for n in range(1500)] + [("x",)])
    return tmp_path


def read(project: Path, **settings: str) -> pa.Table:
    return extract("sqlite", {"path": "data/crm.sqlite", **settings}, source="crm.x", root=project)


def failure(project: Path, **settings: str) -> ExecutionError:
    with pytest.raises(ExecutionError) as caught:
        extract("sqlite", settings, source="crm.x", root=project)
    return caught.value


def test_a_table_lands_with_its_declared_types(project: Path) -> None:
    table = read(project, table="accounts")

    assert table.schema == pa.schema(
        [
            ("id", pa.int64()),
            ("name", pa.string()),
            ("score", pa.float64()),
            ("active", pa.bool_()),
            ("signed_up", pa.timestamp("us")),
            ("born", pa.date32()),
            ("note", pa.string()),
        ]
    )
    assert table.to_pylist() == [
        {
            "id": 1,
            "name": "Ada",
            "score": 9.5,
            "active": True,
            "signed_up": dt.datetime(2024, 1, 2, 3, 4, 5),
            "born": dt.date(1990, 5, 6),
            "note": "vip",
        },
        {
            "id": 2,
            "name": "Bob",
            "score": None,
            "active": False,
            "signed_up": dt.datetime(2024, 2, 3, 10, 0, 0, 250000),
            "born": None,
            "note": None,
        },
        {
            "id": 3,
            "name": None,
            "score": 7.25,
            "active": None,
            "signed_up": None,
            "born": dt.date(2001, 12, 31),
            "note": None,
        },
    ]


def test_an_empty_table_keeps_its_declared_types(project: Path) -> None:
    table = read(project, table="empty")

    assert table.num_rows == 0
    assert table.schema == pa.schema(
        [("id", pa.int64()), ("label", pa.string()), ("at", pa.timestamp("us"))]
    )


def test_timestamps_with_utc_offsets_land_as_instants(project: Path) -> None:
    table = read(project, table="zoned")

    assert table.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert table.column("at").to_pylist() == [
        dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=dt.UTC),
        dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=dt.UTC),
    ]


def test_a_view_reads_like_a_table(project: Path) -> None:
    assert read(project, table="main.active_accounts").to_pylist() == [{"id": 1, "name": "Ada"}]


def test_a_query_lands_the_types_of_its_values(project: Path) -> None:
    table = read(project, query="select id, name, active from accounts where id < 3 order by id;")

    # A query has no declared types: booleans stay 0/1 integers, as SQLite stores them.
    assert table.schema == pa.schema(
        [("id", pa.int64()), ("name", pa.string()), ("active", pa.int64())]
    )
    assert table.to_pylist() == [
        {"id": 1, "name": "Ada", "active": 1},
        {"id": 2, "name": "Bob", "active": 0},
    ]


def test_an_absolute_path_works_and_the_file_is_left_alone(project: Path) -> None:
    path = project / "data" / "crm.sqlite"
    before = path.read_bytes()

    table = extract(
        "sqlite", {"path": str(path), "table": "accounts"}, source="crm.x", root=Path("/")
    )

    assert table.num_rows == 3
    assert path.read_bytes() == before


def test_a_missing_file_is_named_relative_to_the_project(project: Path) -> None:
    error = failure(project, path="data/nope.sqlite", table="accounts")

    assert error.message == "source 'crm.x': SQLite file data/nope.sqlite does not exist"
    assert error.hint == (
        f"fix `path` (a relative path is read from the project folder {project}), "
        "or create the database there"
    )
    assert error.node == "crm.x"
    assert not (project / "data" / "nope.sqlite").exists()


def test_a_folder_is_not_a_database_file(project: Path) -> None:
    error = failure(project, path="data", table="accounts")

    assert error.message == "source 'crm.x': SQLite file data is a folder, not a file"


def test_a_file_that_is_not_a_database(project: Path) -> None:
    (project / "data" / "crm.csv").write_text("id,name\n1,Ada\n" * 50)

    error = failure(project, path="data/crm.csv", table="accounts")

    assert error.message == "source 'crm.x': data/crm.csv is not a SQLite database"
    assert error.hint == "point `path` at a SQLite database file"


def test_a_missing_table_suggests_the_closest_one(project: Path) -> None:
    error = failure(project, path="data/crm.sqlite", table="acounts")

    assert error.message == (
        "source 'crm.x': table 'acounts' not found in SQLite database data/crm.sqlite"
    )
    assert error.hint == "fix `table`: did you mean 'accounts' or 'active_accounts'?"


def test_a_missing_table_lists_the_tables_when_none_is_close(project: Path) -> None:
    error = failure(project, path="data/crm.sqlite", table="orders")

    assert error.hint == (
        "fix `table`: the tables there are: accounts, active_accounts, empty, mixed, unix, zoned"
    )


def test_an_sql_error_in_a_query(project: Path) -> None:
    error = failure(project, path="data/crm.sqlite", query="select nam from accounts")

    assert error.message == (
        "source 'crm.x': reading from SQLite database data/crm.sqlite failed: no such column: nam"
    )
    assert error.hint == "fix the SQL in `query`"


def test_a_column_whose_values_change_type_names_the_column(project: Path) -> None:
    error = failure(project, path="data/crm.sqlite", table="mixed")

    assert error.message == (
        "source 'crm.x': reading from SQLite database data/crm.sqlite failed: "
        "Type mismatch in column 0: expected INT64 but got STRING/BINARY"
    )
    assert error.hint == (
        "column 'value' holds values of different types (SQLite allows it, Arrow does not); "
        "read it with `query:` and cast it, e.g. select cast(value as text) as value; "
        "check `table` and the database"
    )


def test_numbers_in_a_timestamp_column_are_not_guessed(project: Path) -> None:
    error = failure(project, path="data/crm.sqlite", table="unix")

    assert error.message == (
        "source 'crm.x': column 'at' is declared timestamp but holds values that are not "
        "timestamps written as text ('YYYY-MM-DD HH:MM:SS') (the driver read them as int64)"
    )
    assert error.hint == (
        "read the table with `query:` instead of `table:` and convert the column in SQL, "
        "e.g. select datetime(at, 'unixepoch') as at for Unix seconds; or fix the data"
    )


@pytest.mark.parametrize(
    ("settings", "message", "hint"),
    [
        (
            {"path": "data/crm.sqlite"},
            "source 'crm.x': neither of 'table' and 'query' given; give exactly one",
            "use table: schema.name to copy a whole table, or query: select ... to copy the "
            "result of a query",
        ),
        (
            {"path": "data/crm.sqlite", "table": "accounts", "query": "select 1"},
            "source 'crm.x': both of 'table' and 'query' given; give exactly one",
            "use table: schema.name to copy a whole table, or query: select ... to copy the "
            "result of a query",
        ),
        (
            {"table": "accounts"},
            "source 'crm.x': setting 'path' is missing",
            "set it, e.g. path: data/crm.sqlite",
        ),
        (
            {"path": "data/crm.sqlite", "tabel": "accounts"},
            "source 'crm.x': unknown setting 'tabel' for a sqlite source",
            "did you mean 'table'? the settings of a sqlite source are: path, table, query",
        ),
    ],
)
def test_settings_are_checked(
    project: Path, settings: dict[str, str], message: str, hint: str
) -> None:
    error = failure(project, **settings)

    assert (error.message, error.hint) == (message, hint)
