"""SQLite and PostgreSQL sources, read through their ADBC drivers straight into Arrow.

DuckDB's own scanner extensions cannot be downloaded here, so these drivers do the reading.
Every driver exception is translated into an ``ExecutionError`` in this module.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlml.errors import ExecutionError, did_you_mean, underline
from sqlml.sources.conform import conform_postgres, conform_sqlite
from sqlml.sources.settings import check_keys, read_sql, require_text

if TYPE_CHECKING:
    import pyarrow as pa

SQLITE_SETTINGS = ("path", "table", "query")
POSTGRES_SETTINGS = ("uri", "table", "query")
CONNECT_TIMEOUT_S = 10
"""Added to a PostgreSQL URI that sets none: libpq would otherwise wait on a dead host forever."""

_STATUS = re.compile(r"^(?:[A-Z_]+: )?(?:\[(?:SQLite|libpq)\] )?")
_AUTHENTICATION = re.compile(
    r"password authentication failed|no password supplied|authentication failed|"
    r"pg_hba\.conf|role \".*\" does not exist|fe_sendauth",
)
_NO_DATABASE = re.compile(r'database "(.*)" does not exist')


def extract_sqlite(settings: Mapping[str, Any], *, source: str, root: Path) -> pa.Table:
    """Read a table or the result of a query from a SQLite file (opened read-only)."""
    check_keys(settings, SQLITE_SETTINGS, kind="sqlite", source=source)
    path = Path(require_text(settings, "path", source=source, example="data/crm.sqlite"))
    sql, table = read_sql(settings, source=source)
    path = (root / path.expanduser()).resolve()
    shown = _shown(path, root)
    if not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise ExecutionError(
            f"source '{source}': SQLite file {shown} {problem}",
            node=source,
            hint="fix `path` (a relative path is read from the project folder "
            f"{root}), or create the database there",
        )
    import adbc_driver_sqlite.dbapi as dbapi

    uri = "file:" + urllib.parse.quote(str(path)) + "?mode=ro"
    where = f"SQLite database {shown}"
    try:
        connection = dbapi.connect(uri)
    except dbapi.Error as exc:
        raise ExecutionError(
            f"source '{source}': cannot open {where}: {_driver_message(exc)}",
            node=source,
            hint="check that the file is readable by the user running sqlml",
        ) from None
    with connection, connection.cursor() as cursor:
        try:
            cursor.execute(sql)
            result: pa.Table = cursor.fetch_arrow_table()
        except (dbapi.Error, OSError) as exc:
            # The driver raises a bare OSError when a column changes type between batches.
            message = _driver_message(exc)
            if "file is not a database" in message:
                raise ExecutionError(
                    f"source '{source}': {shown} is not a SQLite database",
                    node=source,
                    hint="point `path` at a SQLite database file",
                ) from None
            if table is not None and message.startswith("no such table"):
                raise _missing_table(source, table, where, _sqlite_tables(cursor)) from None
            hint = _mismatch_hint(exc, cursor)
            raise _query_error(source, where, message, sql, table, hint) from None
        if table is None:
            return result
        return conform_sqlite(result, _sqlite_declared(cursor, table), source=source)


def extract_postgres(settings: Mapping[str, Any], *, source: str, root: Path) -> pa.Table:
    """Read a table or the result of a query from a PostgreSQL server."""
    check_keys(settings, POSTGRES_SETTINGS, kind="postgres", source=source)
    uri = require_text(
        settings, "uri", source=source, example="postgresql://user@host:5432/database"
    )
    if not uri.startswith(("postgresql://", "postgres://")):
        # Not echoed: it may hold a password in a form the masking cannot recognise.
        raise ExecutionError(
            f"source '{source}': setting 'uri' is not a PostgreSQL URI",
            node=source,
            hint="write it as postgresql://user@host:5432/database; leave the password to "
            "PGPASSWORD or ~/.pgpass, or write user:password@ (it is masked in messages)",
        )
    sql, table = read_sql(settings, source=source)
    # The PostgreSQL driver ships no type information (no py.typed).
    import adbc_driver_postgresql.dbapi as dbapi  # type: ignore[import-untyped]

    shown = mask_password(uri)
    try:
        connection = dbapi.connect(_with_connect_timeout(uri), autocommit=True)
    except dbapi.Error as exc:
        raise _connect_error(source, shown, exc) from None
    where = f"PostgreSQL at {shown}"
    with connection, connection.cursor() as cursor:
        try:
            cursor.execute(sql)
            result: pa.Table = cursor.fetch_arrow_table()
        except (dbapi.Error, OSError) as exc:
            # 42P01: no such relation; 3F000: no such schema.
            if table is not None and getattr(exc, "sqlstate", None) in ("42P01", "3F000"):
                raise _missing_table(source, table, where, _postgres_tables(cursor)) from None
            raise _postgres_query_error(source, where, exc, sql, table) from None
    return conform_postgres(result, source=source)


def mask_password(uri: str) -> str:
    """``uri`` with any password replaced by ``***``, fit to show in a message.

    >>> mask_password('postgresql://ann:s3cret@db:5432/crm?sslmode=require&password=x')
    'postgresql://ann:***@db:5432/crm?sslmode=require&password=***'
    """
    masked = re.sub(r"(://[^:@/?#]*):[^@]*@", r"\1:***@", uri)
    return re.sub(r"(password\s*=\s*)[^&\s]*", r"\1***", masked, flags=re.IGNORECASE)


def _with_connect_timeout(uri: str) -> str:
    if "connect_timeout=" in uri:
        return uri
    separator = "&" if "?" in uri else "?"
    return f"{uri}{separator}connect_timeout={CONNECT_TIMEOUT_S}"


def _connect_error(source: str, shown: str, exc: Exception) -> ExecutionError:
    reason = mask_password(_driver_message(exc).removeprefix("Failed to connect: "))
    reason = reason.strip().split("\n")[0]
    if "FATAL:" in reason:
        reason = reason.split("FATAL:", 1)[1].strip()
    if _AUTHENTICATION.search(reason):
        return ExecutionError(
            f"source '{source}': PostgreSQL at {shown} refused the login: {reason}",
            node=source,
            hint="check the user name and password in `uri` (or in PGPASSWORD or ~/.pgpass), "
            "and that the server's pg_hba.conf lets this user connect from this machine",
        )
    missing = _NO_DATABASE.search(reason)
    if missing:
        return ExecutionError(
            f"source '{source}': PostgreSQL at {shown} has no database '{missing.group(1)}'",
            node=source,
            hint="fix the database name at the end of `uri`, or create the database",
        )
    return ExecutionError(
        f"source '{source}': cannot connect to PostgreSQL at {shown}: {reason}",
        node=source,
        hint="the server must be running and reachable from this machine at that host and "
        "port; check the host and port in `uri`, and any firewall in between",
    )


def _postgres_query_error(
    source: str, where: str, exc: Any, sql: str, table: str | None
) -> ExecutionError:
    details = {
        key.decode(errors="replace"): value.decode(errors="replace")
        for key, value in getattr(exc, "details", None) or []
        if isinstance(key, bytes) and isinstance(value, bytes)
    }
    message = details.get("PG_DIAG_MESSAGE_PRIMARY") or _driver_message(exc)
    position = int(details.get("PG_DIAG_STATEMENT_POSITION", "0") or 0)
    if position and "Query was: COPY (" in str(exc):
        position -= len("COPY (")  # the driver ran the query wrapped in COPY (...) TO STDOUT
    hint = details.get("PG_DIAG_MESSAGE_HINT", "").rstrip(".") or None
    return _query_error(source, where, message, sql, table, hint, position)


def _query_error(
    source: str,
    where: str,
    message: str,
    sql: str,
    table: str | None,
    extra_hint: str | None = None,
    position: int = 0,
) -> ExecutionError:
    """A failed read; ``position`` is the 1-based character the server blamed, 0 if none."""
    line = column = 0
    excerpt = None
    if 0 < position <= len(sql):
        before = sql[: position - 1]
        line, column = before.count("\n") + 1, position - before.rfind("\n") - 1
        excerpt = underline(sql, line, column)
    fix = "fix the SQL in `query`" if table is None else "check `table` and the database"
    return ExecutionError(
        f"source '{source}': reading from {where} failed: {message}",
        node=source,
        hint=f"{extra_hint}; {fix}" if extra_hint else fix,
        excerpt=excerpt,
        statement_line=line,
        statement_column=column,
    )


def _missing_table(source: str, table: str, where: str, tables: list[str]) -> ExecutionError:
    suggestion = did_you_mean(table, tables)
    if suggestion is None:
        listed = ", ".join(tables[:10]) + (", ..." if len(tables) > 10 else "")
        suggestion = f"the tables there are: {listed}" if tables else "it has no tables"
    return ExecutionError(
        f"source '{source}': table '{table}' not found in {where}",
        node=source,
        hint=f"fix `table`: {suggestion}",
    )


def _sqlite_tables(cursor: Any) -> list[str]:
    cursor.execute(
        "select name from sqlite_master where type in ('table', 'view') "
        "and name not like 'sqlite_%' order by name"
    )
    return [name for (name,) in cursor.fetchall()]


def _postgres_tables(cursor: Any) -> list[str]:
    cursor.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema not in ('pg_catalog', 'information_schema') order by 1"
    )
    return [name for (name,) in cursor.fetchall()]


def _sqlite_declared(cursor: Any, table: str) -> dict[str, str]:
    """Column name -> declared type of a SQLite table or view."""
    schema, dot, name = table.partition(".")
    if dot:
        cursor.execute("select name, type from pragma_table_info(?, ?)", [name, schema])
    else:
        cursor.execute("select name, type from pragma_table_info(?)", [table])
    return {column: declared or "" for column, declared in cursor.fetchall()}


def _mismatch_hint(exc: Exception, cursor: Any) -> str | None:
    """For the SQLite driver's mid-read type change, which column and what to do."""
    match = re.search(r"Type mismatch in column (\d+)", str(exc))
    if match is None:
        return None
    index = int(match.group(1))
    names = [entry[0] for entry in cursor.description or []]
    column = names[index] if index < len(names) else f"number {index + 1}"
    return (
        f"column '{column}' holds values of different types (SQLite allows it, Arrow does not); "
        f"read it with `query:` and cast it, e.g. select cast({column} as text) as {column}"
    )


def _driver_message(exc: BaseException) -> str:
    """The driver's message without its status prefix and the echo of the query."""
    text = _STATUS.sub("", str(exc).strip())
    text = re.sub(r"^Failed to (?:prepare|execute) query: ", "", text)
    text = re.sub(r"^could not begin COPY: ", "", text)
    text = re.sub(r"^ERROR:\s+", "", text)
    return text.split("\nquery:")[0].split("\n\nQuery was:")[0].strip()


def _shown(path: Path, root: Path) -> str:
    """``path`` relative to the project when it is inside it."""
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
