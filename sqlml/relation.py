"""The name of a table or view in the warehouse: made by the compiler, carried by the plan,
used by the engine, the runner and the ML stages alike, so it depends on none of them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Relation:
    """A table or view in the warehouse.

    ``database`` is the catalog; DuckDB names it after the database file. Relations are always
    written fully qualified, so a schema named like the file is never ambiguous.
    """

    schema: str
    name: str
    database: str = ""

    def __str__(self) -> str:
        parts = (
            (self.database, self.schema, self.name) if self.database else (self.schema, self.name)
        )
        return ".".join('"' + p.replace('"', '""') + '"' for p in parts)

    @property
    def display(self) -> str:
        """``schema.name``, for people: the warehouse is named elsewhere in the output."""
        return f"{self.schema}.{self.name}" if self.schema else self.name
