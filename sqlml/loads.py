"""SQL that lands seeds and file sources: DuckDB's own readers, with declared types applied.

The compiler writes it into the plan with the paths as the project gives them; the runner
builds it again with the paths anchored to the project folder (`sqlml.runner.paths`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlml.project.types import Column, SeedSource, SourceTable

# How a source file's format maps to DuckDB's reader, by explicit format or file extension.
_READERS = {
    "csv": "read_csv",
    "parquet": "read_parquet",
    "json": "read_json",
    "ndjson": "read_json",
}
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}

ATTACH_ALIAS = "__sqlml_source_db"


def literal(value: Any) -> str:
    """A Python value as a DuckDB literal (strings, numbers, booleans, lists, maps)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{literal(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    return "'" + str(value).replace("'", "''") + "'"


def _arguments(options: Mapping[str, Any]) -> str:
    return "".join(f", {key} = {literal(value)}" for key, value in options.items())


def seed_sql(seed: SeedSource) -> str:
    """Read a seed CSV; declared ``column_types`` override DuckDB's type detection."""
    options: dict[str, Any] = {"header": True}
    if seed.column_types:
        options["types"] = dict(seed.column_types)
    if seed.delimiter:
        options["delim"] = seed.delimiter
    return f"select * from read_csv({literal(seed.path)}{_arguments(options)})"


def file_format(table: SourceTable) -> str:
    """The declared format, or the one the file's extension implies (csv when unknown)."""
    declared = table.settings.get("format")
    if declared:
        return str(declared)
    path = str(table.settings["file"]).lower()
    return next((fmt for ext, fmt in _EXTENSIONS.items() if path.endswith(ext)), "csv")


def source_sql(table: SourceTable) -> str:
    """The query landing a file or DuckDB-file source; empty for other loaders.

    A CSV or JSON source whose declared columns all have types is read with exactly those
    columns and types, so a malformed row is an error naming its line rather than a silent NULL.
    """
    if table.loader == "duckdb":
        if table.settings.get("query"):
            return str(table.settings["query"])
        parts = str(table.settings["table"]).split(".")
        return f"select * from {ATTACH_ALIAS}." + ".".join(_quote(p) for p in parts)
    if table.loader != "file":
        return ""
    fmt = file_format(table)
    options: dict[str, Any] = {}
    if fmt == "csv":
        options["header"] = True
    elif fmt == "ndjson":
        options["format"] = "newline_delimited"
    if table.settings.get("hive_partitioning") is not None:
        options["hive_partitioning"] = table.settings["hive_partitioning"]
    typed = _typed(table.columns)
    if typed and fmt in ("csv", "json", "ndjson"):
        options["columns"] = typed
    options.update(table.settings.get("options") or {})
    reader = _READERS[fmt]
    return f"select * from {reader}({literal(table.settings['file'])}{_arguments(options)})"


def _typed(columns: tuple[Column, ...]) -> dict[str, str] | None:
    if columns and all(c.data_type for c in columns):
        return {c.name: str(c.data_type) for c in columns}
    return None


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
