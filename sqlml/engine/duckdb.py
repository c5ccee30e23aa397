"""The DuckDB engine: one connection per process, a cursor per thread."""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlml.engine.base import Check
from sqlml.engine.filepaths import anchor_file_reads
from sqlml.engine.lock import WarehouseLock
from sqlml.errors import ExecutionError
from sqlml.relation import Relation

_LINE = re.compile(r"\nLINE (\d+):")


class DuckDBEngine:
    """A DuckDB database file (or ``:memory:``) opened for one run.

    Args:
        path: the database file; created with its folder if missing.
        search_path: folder that relative file paths in SQL resolve against (the project).
        read_only: open without taking the write lock.
        lock: the warehouse lock this engine holds; released by `close`.
        open_timeout: how long to wait while another program has the file open.
        on_wait: told once when opening has to wait.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        search_path: Path | None = None,
        read_only: bool = False,
        lock: WarehouseLock | None = None,
        open_timeout: float = 0.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._connection = _open(path, read_only, open_timeout, on_wait)
        self._warehouse_lock = lock
        self._search_path = search_path
        self._root = search_path.resolve() if search_path is not None else None
        row = self._connection.execute("select current_database()").fetchone()
        self.database = str(row[0]) if row else ""
        self._local = threading.local()
        self._lock = threading.Lock()
        self._attach_lock = threading.Lock()
        self._cursors: list[Any] = []
        self._view_ids = itertools.count()
        self._macros: dict[str, str] = {}  # SQL functions: the macro each cursor creates
        self.path = path

    def cursor(self) -> Any:
        """This thread's cursor (a DuckDB connection sharing the database)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._lock:
                cursor = self._connection.cursor()
                self._cursors.append(cursor)
            if self._search_path is not None:
                cursor.execute("set file_search_path = ?", [str(self._search_path)])
            # Timestamps without a zone mean UTC, whatever the machine's zone.
            cursor.execute("set TimeZone = 'UTC'")
            for macro in list(self._macros.values()):
                cursor.execute(macro)
            self._local.cursor = cursor
        return cursor

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self._run(self.cursor(), sql, params)

    def relations(self) -> Mapping[tuple[str, str], str]:
        rows = self.execute(
            "select schema_name, table_name, 'table' from duckdb_tables() "
            "where database_name = current_database() "
            "union all select schema_name, view_name, 'view' from duckdb_views() "
            "where database_name = current_database() and not internal"
        )
        # DuckDB names are case-insensitive: key them lower-case.
        return {(schema.lower(), name.lower()): kind for schema, name, kind in rows}

    def ensure_schema(self, schema: str) -> None:
        self.execute(f"create schema if not exists {_quote(schema)}")

    def build_table(
        self, relation: Relation, sql: str, existing: str | None, check: Check | None = None
    ) -> int | None:
        cursor = self.cursor()
        if existing is None and check is None:
            # Nothing to replace or verify: one CREATE ... AS is atomic on its own.
            rows = self._run(cursor, f"create table {relation} as\n{sql}")
            return int(rows[0][0]) if rows else None
        temporary = Relation(relation.schema, f"{relation.name}__sqlml_tmp", relation.database)
        cursor.execute("begin transaction")
        try:
            rows = self._run(cursor, f"create or replace table {temporary} as\n{sql}")
            if check is not None:
                check(self._columns(cursor, temporary))
            if existing is not None:
                self._run(cursor, f"drop {existing} {relation}")
            self._run(cursor, f"alter table {temporary} rename to {_quote(relation.name)}")
            cursor.execute("commit")
        except BaseException:
            cursor.execute("rollback")
            raise
        return int(rows[0][0]) if rows else None

    def build_table_from_arrow(
        self, relation: Relation, data: Any, existing: str | None, check: Check | None = None
    ) -> int | None:
        with self.arrow_view(data) as view:
            return self.build_table(relation, f"select * from {view}", existing, check)

    @contextmanager
    def stream(
        self, sql: str, batch_rows: int, params: Sequence[Any] | None = None
    ) -> Iterator[Any]:
        import duckdb

        # A cursor of its own: the reader keeps its query open while other statements run.
        with self._lock:
            cursor = self._connection.cursor()
        try:
            if self._search_path is not None:
                cursor.execute("set file_search_path = ?", [str(self._search_path)])
            cursor.execute("set TimeZone = 'UTC'")
            try:
                reader = cursor.sql(self._anchored(sql), params=params).to_arrow_reader(batch_rows)
            except duckdb.Error as exc:
                raise _translate(exc, sql) from None
            try:
                yield reader
            finally:
                reader.close()
        finally:
            cursor.close()

    @contextmanager
    def arrow_view(self, data: Any) -> Iterator[str]:
        cursor = self.cursor()
        view = f"__sqlml_arrow_{next(self._view_ids)}"
        cursor.register(view, data)
        try:
            yield _quote(view)
        finally:
            cursor.unregister(view)

    def replace_rows(self, relation: Relation, sql: str, keys: Sequence[str]) -> int:
        cursor = self.cursor()
        new = f"__sqlml_new_{threading.get_ident()}"
        match = " and ".join(f"t.{_quote(k)} is not distinct from n.{_quote(k)}" for k in keys)
        cursor.execute("begin transaction")
        try:
            self._run(cursor, f"create or replace temporary table {_quote(new)} as\n{sql}")
            self._run(
                cursor,
                f"delete from {relation} t where exists "
                f"(select 1 from {_quote(new)} n where {match})",
            )
            rows = self._run(cursor, f"insert into {relation} by name select * from {_quote(new)}")
            self._run(cursor, f"drop table {_quote(new)}")
            cursor.execute("commit")
        except BaseException:
            cursor.execute("rollback")
            raise
        return int(rows[0][0]) if rows else 0

    def register_function(
        self, name: str, function: Callable[..., Any], parameters: Sequence[str], returns: str
    ) -> None:
        import duckdb

        # Python functions take exactly their declared types, with no implicit casts: SQL
        # calls a macro of each cursor's own (temporary) catalog that casts the arguments,
        # and the macro calls the function, which every cursor sees once registered on one.
        inner = f"__sqlml_function_{name}"
        arguments = [f"x{i}" for i in range(len(parameters))]
        casts = ", ".join(f"cast({a} as {t})" for a, t in zip(arguments, parameters, strict=True))
        macro = (
            f"create or replace temporary macro {_quote(name)}({', '.join(arguments)}) as "
            f"{_quote(inner)}({casts})"
        )
        cursor = self.cursor()
        with self._lock:
            with contextlib.suppress(duckdb.Error):  # nothing of that name yet
                cursor.remove_function(inner)
            cursor.create_function(
                inner,
                function,
                [duckdb.sqltype(p) for p in parameters],
                duckdb.sqltype(returns),
                type="arrow",
                null_handling="special",
                side_effects=False,
            )
            self._macros[name] = macro
            cursors = list(self._cursors)
        for each in cursors:
            each.execute(macro)

    def columns(self, relation: Relation) -> list[tuple[str, str]]:
        return self._columns(self.cursor(), relation)

    def canonical_types(self, types: Sequence[str]) -> list[str]:
        if not types:
            return []
        probes = ", ".join(f"typeof(cast(null as {t}))" for t in types)
        return [str(t) for t in self.execute(f"select {probes}")[0]]

    @contextmanager
    def attached(self, path: Path, alias: str) -> Iterator[None]:
        # One attachment at a time: the alias is shared, and DuckDB attaches a file only once.
        with self._attach_lock:
            cursor = self.cursor()
            self._run(cursor, f"attach {_literal(str(path))} as {_quote(alias)} (read_only)")
            try:
                # Unqualified names in a source's query mean the attached file's tables.
                self._run(cursor, f"use {_quote(alias)}")
                yield
            finally:
                self._run(cursor, f"use {_quote(self.database)}")
                self._run(cursor, f"detach {_quote(alias)}")

    def build_view(
        self, relation: Relation, sql: str, existing: str | None, check: Check | None = None
    ) -> None:
        cursor = self.cursor()
        cursor.execute("begin transaction")
        try:
            if existing == "table":
                self._run(cursor, f"drop table {relation}")
            self._run(cursor, f"create or replace view {relation} as\n{sql}")
            if check is not None:
                check(self._columns(cursor, relation))
            cursor.execute("commit")
        except BaseException:
            cursor.execute("rollback")
            raise

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        cursor = self.cursor()
        cursor.execute("begin transaction")
        try:
            yield _Transaction(self, cursor)
        except BaseException:
            cursor.execute("rollback")
            raise
        self._run(cursor, "commit")

    def _columns(self, cursor: Any, relation: Relation) -> list[tuple[str, str]]:
        rows = self._run(
            cursor,
            "select column_name, data_type from duckdb_columns() where database_name = ? "
            "and schema_name = ? and table_name = ? order by column_index",
            [relation.database or self.database, relation.schema, relation.name],
        )
        return [(str(name), str(kind)) for name, kind in rows]

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run one query and return its result as an Arrow table."""
        import duckdb

        try:
            return self.cursor().sql(self._anchored(sql), params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise _translate(exc, sql) from None

    def _anchored(self, sql: str) -> str:
        """Relative file paths read from the project folder, not the working directory."""
        if self._root is None:
            return sql
        return anchor_file_reads(sql, self._root)

    def close(self) -> None:
        with self._lock:
            for cursor in self._cursors:
                cursor.close()
            self._cursors.clear()
        self._connection.close()
        if self._warehouse_lock is not None:
            self._warehouse_lock.release()

    def _run(
        self, cursor: Any, sql: str, params: Sequence[Any] | None = None
    ) -> list[tuple[Any, ...]]:
        import duckdb

        sql = self._anchored(sql)
        try:
            return list(cursor.execute(sql, params).fetchall())
        except duckdb.Error as exc:
            raise _translate(exc, sql) from None


def _open(
    path: Path | str, read_only: bool, timeout: float, on_wait: Callable[[str], None] | None
) -> Any:
    """Connect, waiting up to ``timeout`` seconds while another process has the file open."""
    import duckdb

    deadline = time.monotonic() + timeout
    pause = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            text = str(exc).lower()
            locked = "lock" in text
            # Another connection of this process holds the file open in another mode (e.g.
            # `sqlml serve` reading it): also a wait, until that connection closes.
            shared = "different configuration" in text or "unique file handle conflict" in text
            left = deadline - time.monotonic()
            if (locked or shared) and left > 0:
                if on_wait is not None:
                    who = "another connection of this process" if shared else _holder(exc)
                    on_wait(f"waiting up to {round(timeout, 1):g} s for {who} to close {path}")
                    on_wait = None  # say it once
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.5)
                continue
            hint = None
            if locked:
                hint = f"{_holder(exc)} has the database file open (a BI tool, an IDE?): close it"
                hint += (
                    " and retry" if read_only else ", or wait longer with --lock-timeout SECONDS"
                )
            # Nothing can run: a problem of the whole project, not of one node.
            raise ExecutionError(
                f"cannot open warehouse {path}: {_first_line(exc)}", hint=hint, exit_code=2
            ) from None


def _holder(exc: Exception) -> str:
    """The program DuckDB names as holding its file lock, e.g. "python3.11 (PID 123)"."""
    match = re.search(r"lock is held in (.+?) \(PID (\d+)\)", str(exc))
    if not match:
        return "another program"
    return f"another program ({Path(match.group(1)).name}, pid {match.group(2)})"


class _Transaction:
    """Statements on one cursor between BEGIN and COMMIT."""

    def __init__(self, engine: DuckDBEngine, cursor: Any) -> None:
        self._engine = engine
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self._engine._run(self._cursor, sql, params)

    def columns(self, relation: Relation) -> list[tuple[str, str]]:
        return self._engine._columns(self._cursor, relation)


def _translate(exc: Exception, sql: str) -> ExecutionError:
    """A DuckDB error as an ExecutionError; ``line`` is relative to the statement sent."""
    text = _shorten(str(exc))
    match = _LINE.search(text)
    line = int(match.group(1)) if match else 0
    column = 0
    if match:
        # DuckDB quotes the line as "LINE n: <sql>" and puts a caret under the culprit.
        rest = text[match.end() :].split("\n")
        quoted, caret = rest[0], rest[1] if len(rest) > 1 else ""
        if "^" in caret and not quoted.lstrip().startswith("..."):
            column = caret.index("^") - len(f"LINE {line}: ") + 1
    return ExecutionError(
        text.split("\n\nLINE")[0].strip(), statement_line=line, statement_column=max(column, 0)
    )


def _shorten(text: str) -> str:
    """DuckDB's CSV errors append a 20-line dump of the sniffer's settings: keep what helps."""
    if "CSV Error on Line" not in text:
        return text
    head = text.split("\n\n", 1)[0]
    file = next(
        (line.strip() for line in text.splitlines() if line.strip().startswith("file =")), ""
    )
    return f"{head}\n({file})" if file else head


def _first_line(exc: Exception) -> str:
    return str(exc).strip().split("\n")[0]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
