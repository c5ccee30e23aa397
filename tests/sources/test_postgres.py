"""PostgreSQL sources against a real server (see conftest.py for where it comes from)."""

from __future__ import annotations

import datetime as dt
import time
import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import adbc_driver_postgresql.dbapi as dbapi
import pyarrow as pa
import pytest

from sqlml.errors import ExecutionError
from sqlml.sources import extract

SCHEMA = "sqlml_sources_test"
READER, READER_PASSWORD = "sqlml_sources_reader", "right-horse"
SETUP = [
    f"drop schema if exists {SCHEMA} cascade",
    f"create schema {SCHEMA}",
    f"""create table {SCHEMA}.accounts (
        id integer, visits bigint, rank smallint, score double precision, ratio real,
        name text, code varchar(5), active boolean, signed_up timestamp,
        seen_at timestamptz, born date, balance numeric(12, 2), amount numeric
    )""",
    f"""insert into {SCHEMA}.accounts values
        (1, 10000000000, 3, 9.5, 0.5, 'Ada', 'A1', true, '2024-01-02 03:04:05',
         '2024-01-02 03:04:05+02', '1990-05-06', 1234.50, 0.125),
        (2, null, null, null, null, null, null, null, null, null, null, null, null)""",
    f'create table {SCHEMA}."Mixed Case" ("Id" integer)',
    f'insert into {SCHEMA}."Mixed Case" values (7)',
    f"""do $$ begin
        create role {READER} login password '{READER_PASSWORD}';
        exception when duplicate_object then null;
    end $$""",
    f"alter role {READER} password '{READER_PASSWORD}'",
]


@pytest.fixture(scope="module")
def crm(pg_uri: str) -> Iterator[str]:
    """``pg_uri``, with a schema of test tables in its database."""
    with dbapi.connect(pg_uri, autocommit=True) as connection, connection.cursor() as cursor:
        for statement in SETUP:
            cursor.execute(statement)
    yield pg_uri
    with dbapi.connect(pg_uri, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"drop schema {SCHEMA} cascade")


def read(uri: str, **settings: str) -> pa.Table:
    return extract("postgres", {"uri": uri, **settings}, source="crm.x", root=Path("."))


def failure(**settings: str) -> ExecutionError:
    with pytest.raises(ExecutionError) as caught:
        extract("postgres", settings, source="crm.x", root=Path("."))
    return caught.value


def with_login(uri: str, user: str, password: str | None = None, database: str = "") -> str:
    """``uri`` with another user (and password, and database)."""
    parts = urllib.parse.urlsplit(uri)
    login = user if password is None else f"{user}:{password}"
    netloc = f"{login}@{parts.hostname}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, path=database or parts.path))


def test_a_table_lands_with_arrow_types(crm: str) -> None:
    table = read(crm, table=f"{SCHEMA}.accounts")

    assert [(field.name, field.type) for field in table.schema] == [
        ("id", pa.int32()),
        ("visits", pa.int64()),
        ("rank", pa.int16()),
        ("score", pa.float64()),
        ("ratio", pa.float32()),
        ("name", pa.string()),
        ("code", pa.string()),
        ("active", pa.bool_()),
        ("signed_up", pa.timestamp("us")),
        ("seen_at", pa.timestamp("us", tz="UTC")),
        ("born", pa.date32()),
        ("balance", pa.decimal128(12, 2)),
        ("amount", pa.float64()),
    ]
    assert table.to_pylist() == [
        {
            "id": 1,
            "visits": 10000000000,
            "rank": 3,
            "score": 9.5,
            "ratio": 0.5,
            "name": "Ada",
            "code": "A1",
            "active": True,
            "signed_up": dt.datetime(2024, 1, 2, 3, 4, 5),
            "seen_at": dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=dt.UTC),
            "born": dt.date(1990, 5, 6),
            "balance": Decimal("1234.50"),
            "amount": 0.125,
        },
        dict.fromkeys(
            [
                "id", "visits", "rank", "score", "ratio", "name", "code", "active",
                "signed_up", "seen_at", "born", "balance", "amount",
            ]
        )
        | {"id": 2},
    ]  # fmt: skip


def test_a_query_may_end_in_a_semicolon_or_a_comment(crm: str) -> None:
    query = f"-- Ada only\nselect id, name\nfrom {SCHEMA}.accounts\nwhere id = 1;\n"

    assert read(crm, query=query).to_pylist() == [{"id": 1, "name": "Ada"}]
    assert read(crm, query="select 1 as one -- a comment").to_pylist() == [{"one": 1}]


def test_table_names_are_quoted(crm: str) -> None:
    assert read(crm, table=f"{SCHEMA}.Mixed Case").to_pylist() == [{"Id": 7}]


def test_uri_parameters_are_kept(crm: str) -> None:
    separator = "&" if "?" in crm else "?"
    uri = f"{crm}{separator}application_name=sqlml_test"

    table = read(uri, query="select current_setting('application_name') as app")

    assert table.to_pylist() == [{"app": "sqlml_test"}]


def test_a_missing_table_suggests_the_closest_one(crm: str) -> None:
    error = failure(uri=crm, table=f"{SCHEMA}.acounts")

    assert error.message == (
        f"source 'crm.x': table '{SCHEMA}.acounts' not found in PostgreSQL at {crm}"
    )
    assert error.hint == (
        f"fix `table`: did you mean '{SCHEMA}.accounts' or '{SCHEMA}.Mixed Case'?"
    )


def test_a_missing_schema_is_a_missing_table(crm: str) -> None:
    error = failure(uri=crm, table="nowhere.accounts")

    assert error.message == (
        f"source 'crm.x': table 'nowhere.accounts' not found in PostgreSQL at {crm}"
    )


def test_an_sql_error_points_at_the_culprit(crm: str) -> None:
    error = failure(uri=crm, query=f"select id,\n  nam\nfrom {SCHEMA}.accounts")

    assert error.message == (
        f"source 'crm.x': reading from PostgreSQL at {crm} failed: column \"nam\" does not exist"
    )
    assert (error.statement_line, error.statement_column) == (2, 3)
    assert error.excerpt == "1 | select id,\n2 |   nam\n  |   ^"
    # The server's own hint comes first.
    assert error.hint == (
        'Perhaps you meant to reference the column "accounts.name"; fix the SQL in `query`'
    )


def test_an_error_while_running_the_query(crm: str) -> None:
    error = failure(uri=crm, query="select 1 / 0 as x")

    assert error.message == (
        f"source 'crm.x': reading from PostgreSQL at {crm} failed: division by zero"
    )
    assert error.excerpt is None


def test_a_numeric_that_does_not_fit_a_decimal(crm: str) -> None:
    error = failure(uri=crm, query="select 'NaN'::numeric(5, 2) as x")

    assert error.message == (
        "source 'crm.x': column 'x' (numeric) holds a value that does not fit "
        "decimal128(5, 2): The string 'nan' is not a valid decimal128 number"
    )
    assert error.hint == "read it with `query:` and cast it, e.g. select x::float8 ..."


def test_an_unreachable_server_is_named_with_its_password_masked(free_port: int) -> None:
    started = time.perf_counter()

    error = failure(uri=f"postgresql://ann:s3cret@127.0.0.1:{free_port}/crm", table="t")

    assert time.perf_counter() - started < 5
    assert error.message == (
        f"source 'crm.x': cannot connect to PostgreSQL at "
        f"postgresql://ann:***@127.0.0.1:{free_port}/crm: connection to server at "
        f'"127.0.0.1", port {free_port} failed: Connection refused'
    )
    assert error.hint == (
        "the server must be running and reachable from this machine at that host and port; "
        "check the host and port in `uri`, and any firewall in between"
    )
    assert "s3cret" not in error.render()


def test_a_wrong_password_is_an_authentication_failure(crm: str) -> None:
    uri = with_login(crm, READER, "wrong-horse")
    try:
        read(uri, query="select 1")
    except ExecutionError as error:
        assert error.message == (
            f"source 'crm.x': PostgreSQL at {with_login(crm, READER, '***')} refused the login: "
            f'password authentication failed for user "{READER}"'
        )
        assert error.hint == (
            "check the user name and password in `uri` (or in PGPASSWORD or ~/.pgpass), and "
            "that the server's pg_hba.conf lets this user connect from this machine"
        )
        assert "wrong-horse" not in error.render()
    else:
        pytest.skip(f"the server at {crm} lets {READER} in without a password")


def test_the_right_password_gets_in(crm: str) -> None:
    uri = with_login(crm, READER, READER_PASSWORD)

    assert read(uri, query="select current_user as who").to_pylist() == [{"who": READER}]


def test_a_missing_database(crm: str) -> None:
    uri = with_login(crm, urllib.parse.urlsplit(crm).username or "", database="/no_such_db")

    error = failure(uri=uri, table="t")

    assert error.message == f"source 'crm.x': PostgreSQL at {uri} has no database 'no_such_db'"
    assert error.hint == "fix the database name at the end of `uri`, or create the database"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"table": "t"}, "source 'crm.x': setting 'uri' is missing"),
        (
            {"uri": "host=db password=s3cret", "table": "t"},
            "source 'crm.x': setting 'uri' is not a PostgreSQL URI",
        ),
        (
            {"uri": "postgresql://db/crm", "tables": "t"},
            "source 'crm.x': unknown setting 'tables' for a postgres source",
        ),
    ],
)
def test_settings_are_checked(settings: dict[str, str], message: str) -> None:
    assert failure(**settings).message == message
