"""sqlml: SQL-first analytics and machine learning on DuckDB."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from sqlml.context import Context

__all__ = ["Context", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported lazily so `import sqlml` (and `sqlml --help`) stays instant.
    if name == "Context":
        from sqlml.context import Context

        return Context
    raise AttributeError(name)
