"""What the rest of sqlml may ask of a warehouse. Engines implement this protocol."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from sqlml.relation import Relation

# Called with the (name, type) columns of a freshly built table before it replaces the old one;
# raises ExecutionError to keep the old one.
Check = Callable[[list[tuple[str, str]]], None]


class Transaction(Protocol):
    """Statements that commit together or not at all (see `Engine.transaction`)."""

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement inside the transaction and return its rows."""
        ...

    def columns(self, relation: Relation) -> list[tuple[str, str]]:
        """The relation's ``(name, type)`` columns as the transaction sees them."""
        ...


class Engine(Protocol):
    """The only door to a warehouse: run SQL, build relations atomically, read the catalog.

    Methods are safe to call from several threads at once; each thread gets its own cursor.
    """

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows."""
        ...

    def relations(self) -> Mapping[tuple[str, str], str]:
        """Every relation as ``(schema, name) -> "table" | "view"``, names lower-cased."""
        ...

    def ensure_schema(self, schema: str) -> None: ...

    def build_table(
        self, relation: Relation, sql: str, existing: str | None, check: Check | None = None
    ) -> int | None:
        """Build ``sql`` into ``relation`` atomically, replacing what exists; return row count.

        ``check`` sees the new table's columns first and may refuse it by raising.
        """
        ...

    def build_table_from_arrow(
        self, relation: Relation, data: Any, existing: str | None, check: Check | None = None
    ) -> int | None:
        """Like `build_table`, from an Arrow table or record batch reader."""
        ...

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run one query and return its rows as a ``pyarrow.Table``, column by column."""
        ...

    def stream(
        self, sql: str, batch_rows: int, params: Sequence[Any] | None = None
    ) -> AbstractContextManager[Any]:
        """The rows of a query as an Arrow record batch reader of about ``batch_rows`` rows per
        batch, read as they are consumed. The reader lives on its own cursor, so this thread
        (or another) may write while it is read; it is closed when the context ends."""
        ...

    def arrow_view(self, data: Any) -> AbstractContextManager[str]:
        """Register an Arrow table or record batch reader as a view of this thread's cursor for
        the duration; yields its quoted name, for SQL run on this thread (`execute`,
        `build_table`, `replace_rows`)."""
        ...

    def replace_rows(self, relation: Relation, sql: str, keys: Sequence[str]) -> int:
        """In one transaction, delete from ``relation`` the rows whose ``keys`` appear in the
        rows of ``sql`` (NULLs match NULLs), then insert those rows; return how many."""
        ...

    def register_function(
        self, name: str, function: Callable[..., Any], parameters: Sequence[str], returns: str
    ) -> None:
        """Make a vectorized Python function callable from SQL as ``name`` (replacing one of
        that name) on every thread: it receives one Arrow array per parameter, each argument
        cast to the parameter's SQL type first, and returns an Arrow array of type
        ``returns``; NULLs are passed in, not short-circuited."""
        ...

    def columns(self, relation: Relation) -> list[tuple[str, str]]:
        """The relation's ``(name, type)`` columns, in order (empty if it does not exist)."""
        ...

    def canonical_types(self, types: Sequence[str]) -> list[str]:
        """The engine's own spelling of SQL type names (``int`` → ``INTEGER``)."""
        ...

    def attached(self, path: Path, alias: str) -> AbstractContextManager[None]:
        """Attach another database file read-only under ``alias`` for the duration."""
        ...

    def build_view(
        self, relation: Relation, sql: str, existing: str | None, check: Check | None = None
    ) -> None:
        """Create or replace ``relation`` as a view of ``sql``, atomically; ``check`` as for
        `build_table`."""
        ...

    def transaction(self) -> AbstractContextManager[Transaction]:
        """Run this thread's statements inside the block as one transaction: all of them
        commit together at its end, or none if it raises (the error is re-raised). The value
        runs statements on the same connection (so does `execute` from this thread)."""
        ...

    def close(self) -> None: ...
