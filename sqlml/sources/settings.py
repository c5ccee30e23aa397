"""Checks shared by every source kind: known keys, required strings, table or query."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlml.errors import ExecutionError, did_you_mean


def check_keys(
    settings: Mapping[str, Any], allowed: Collection[str], *, kind: str, source: str
) -> None:
    """Refuse keys a ``kind`` source does not know, suggesting the closest known one."""
    for key in settings:
        if key not in allowed:
            suggestion = did_you_mean(str(key), allowed)
            raise ExecutionError(
                f"source '{source}': unknown setting '{key}' for a {kind} source",
                node=source,
                hint=(suggestion + " " if suggestion else "")
                + "the settings of a "
                + kind
                + " source are: "
                + ", ".join(allowed),
            )


def require_text(settings: Mapping[str, Any], key: str, *, source: str, example: str) -> str:
    """The non-empty string under ``key``, or an error showing an ``example`` value."""
    value = settings.get(key)
    if not isinstance(value, str) or not value.strip():
        got = "is missing" if value is None else f"must be a non-empty string, not {value!r}"
        raise ExecutionError(
            f"source '{source}': setting '{key}' {got}",
            node=source,
            hint=f"set it, e.g. {key}: {example}",
        )
    return value


def read_sql(settings: Mapping[str, Any], *, source: str) -> tuple[str, str | None]:
    """The SQL that reads the source and the ``table`` it names (None for a ``query``).

    Exactly one of ``table`` and ``query`` must be given.
    """
    has_table, has_query = settings.get("table") is not None, settings.get("query") is not None
    if has_table == has_query:
        which = "both" if has_table else "neither"
        raise ExecutionError(
            f"source '{source}': {which} of 'table' and 'query' given; give exactly one",
            node=source,
            hint="use table: schema.name to copy a whole table, or query: select ... to copy "
            "the result of a query",
        )
    if has_table:
        table = require_text(settings, "table", source=source, example="public.accounts")
        return f"select * from {quote_table(table)}", table
    query = require_text(settings, "query", source=source, example="select * from accounts")
    return normalise_query(query), None


def quote_table(table: str) -> str:
    """``schema.table`` as two quoted identifiers; a bare name as one.

    >>> quote_table('crm.Accounts')
    '"crm"."Accounts"'
    >>> quote_table('we"ird')
    '"we""ird"'
    """
    return ".".join('"' + part.replace('"', '""') + '"' for part in table.split(".", 1))


def normalise_query(sql: str) -> str:
    """The query without trailing semicolons, ending in a newline.

    Drivers may wrap the query (PostgreSQL's runs ``COPY (<query>) TO STDOUT``): a trailing
    semicolon or a trailing ``-- comment`` would break the wrapped statement.

    >>> normalise_query('select 1 -- all;\\n ;; ')
    'select 1 -- all\\n'
    """
    text = sql.rstrip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text + "\n"
