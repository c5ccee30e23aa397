"""What the rest of sqlml may ask of a warehouse. Engines implement this protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlml.compiler.types import Relation


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

    def build_table(self, relation: Relation, sql: str, existing: str | None) -> int | None:
        """Build ``sql`` into ``relation`` atomically, replacing what exists; return row count."""
        ...

    def build_view(self, relation: Relation, sql: str, existing: str | None) -> None:
        """Create or replace ``relation`` as a view of ``sql``, atomically."""
        ...

    def close(self) -> None: ...
