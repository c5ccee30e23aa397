"""The only door to a warehouse."""

from __future__ import annotations

from pathlib import Path

from sqlml.engine.base import Engine


def connect(
    path: Path | str, *, search_path: Path | None = None, read_only: bool = False
) -> Engine:
    """Open the warehouse at ``path`` (DuckDB, the embedded default)."""
    from sqlml.engine.duckdb import DuckDBEngine

    return DuckDBEngine(path, search_path=search_path, read_only=read_only)


__all__ = ["Engine", "connect"]
