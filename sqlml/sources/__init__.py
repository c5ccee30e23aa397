"""Sources that Python reads: SQLite and PostgreSQL through ADBC, and project functions.

Each returns one Arrow table, which the runner lands in the warehouse. File sources and other
DuckDB databases are read by DuckDB's own SQL and do not pass through here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlml.errors import ExecutionError, did_you_mean
from sqlml.sources.adbc import extract_postgres, extract_sqlite
from sqlml.sources.python import extract_python

if TYPE_CHECKING:
    import pyarrow as pa

Extractor = Callable[..., "pa.Table"]

EXTRACTORS: Mapping[str, Extractor] = {
    "sqlite": extract_sqlite,
    "postgres": extract_postgres,
    "python": extract_python,
}


def extract(kind: str, settings: Mapping[str, Any], *, source: str, root: Path) -> pa.Table:
    """Read one source table into Arrow.

    Args:
        kind: "sqlite", "postgres" or "python".
        settings: sqlite: ``path`` and one of ``table``/``query``; postgres: ``uri`` and one of
            ``table``/``query``; python: ``function`` ("module:function") and optional ``args``.
        source: the node's name for messages, e.g. "crm.accounts".
        root: the project folder; relative SQLite paths resolve against it and it is first
            on ``sys.path`` while a python source runs, for project-local modules.

    Returns:
        The source's rows as a ``pyarrow.Table``.

    Raises:
        ExecutionError: naming the source and what to fix.
    """
    extractor = EXTRACTORS.get(kind)
    if extractor is None:
        suggestion = did_you_mean(kind, EXTRACTORS)
        raise ExecutionError(
            f"source '{source}': unknown source kind '{kind}'",
            node=source,
            hint=(suggestion + " " if suggestion else "")
            + "the kinds read through Python are: "
            + ", ".join(EXTRACTORS),
        )
    return extractor(settings, source=source, root=root)


__all__ = ["EXTRACTORS", "extract"]
