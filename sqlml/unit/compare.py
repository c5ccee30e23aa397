"""Compare what a model returned with the expected rows, in DuckDB, as multisets.

Expected rows are loaded with the types the model returned, then `EXCEPT ALL` both ways on
the columns the expected rows name: order is ignored, duplicates count, NULL equals NULL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlml.engine.base import Engine
from sqlml.errors import ConfigError, Location, did_you_mean
from sqlml.unit.rows import NUMERIC, TableColumn, create_table, quote

MAX_ROWS_SHOWN = 20
_UNTYPED = '"NULL"'  # DuckDB's name for the type of a column holding only untyped NULLs


def compare_rows(
    engine: Engine,
    actual: str,
    expected: str,
    expect: Sequence[Mapping[str, Any]],
    *,
    what: str,
    model: str,
    location: Location,
) -> str | None:
    """Compare the table ``actual`` with the rows ``expect``; None when they match.

    ``expected`` is where to create the table of expected rows. Returns the failure message:
    a summary line and tables of the missing and the unexpected rows.

    Raises ConfigError when an expected column is not returned by the model, or an expected
    value cannot be cast to the type the model returns.
    """
    returned = {
        str(name): str(type_)
        for name, type_, *_ in engine.execute(f"describe select * from {actual}")
    }
    by_lower = {name.lower(): name for name in returned}
    written: dict[str, str] = {}
    for row in expect:
        for key in row:
            written.setdefault(key.lower(), key)
    names = list(written)
    unknown = [written[key] for key in names if key not in by_lower]
    if unknown:
        listed = ", ".join(returned)
        hint = did_you_mean(unknown[0], returned)
        raise ConfigError(
            f"{what}: model '{model}' does not return column '{unknown[0]}'",
            location=location,
            hint=(hint + " " if hint else "") + f"'{model}' returns {listed}",
        )
    if expect and not names:
        raise ConfigError(
            f"{what}: the expected rows name no columns",
            location=location,
            hint="name the columns to compare in each row under `expect: rows:`",
        )
    columns = [by_lower[key] for key in names] if expect else list(returned)
    if expect:
        create_table(
            engine,
            f"create table {expected}",
            [TableColumn(c, None if returned[c] == _UNTYPED else returned[c]) for c in columns],
            expect,
            what=f"{what}, expected rows",
            location=location,
            cast_hint="give a value of the type the model returns for this column",
        )
    listed = ", ".join(quote(c) for c in columns)
    returned_rows = f"select {listed} from {actual}"
    if expect:
        expected_rows = f"select {listed} from {expected}"
        missing = _fetch(engine, f"{expected_rows} except all {returned_rows}", columns)
        unexpected = _fetch(engine, f"{returned_rows} except all {expected_rows}", columns)
    else:
        missing, unexpected = [], _fetch(engine, returned_rows, columns)
    if not missing and not unexpected:
        return None
    count = engine.execute(f"select count(*) from {actual}")[0][0]
    return format_diff(
        columns,
        [bool(NUMERIC.match(returned[c])) for c in columns],
        [returned[c] == "VARCHAR" for c in columns],
        missing,
        unexpected,
        expected=len(expect),
        returned=int(count),
    )


def format_diff(
    columns: Sequence[str],
    numeric: Sequence[bool],
    text: Sequence[bool],
    missing: Sequence[Sequence[str | None]],
    unexpected: Sequence[Sequence[str | None]],
    *,
    expected: int,
    returned: int,
) -> str:
    """The failure message: a summary line, then a table of each kind of difference.

    >>> print(format_diff(["id", "name"], [True, False], [False, True], [("1", "a")], [],
    ...                   expected=1, returned=0))
    expected 1 row, got 0; compared on id, name
    1 missing row (expected, not returned):
      id | name
      ---+-----
       1 | a
    """
    lines = [
        f"expected {_rows(expected)}, got {returned}; compared on "
        + (", ".join(columns) if expected else "every column")
    ]
    for rows, title in (
        (missing, "missing {} (expected, not returned):"),
        (unexpected, "unexpected {} (returned, not expected):"),
    ):
        if rows:
            lines.append(f"{len(rows)} " + title.format("row" if len(rows) == 1 else "rows"))
            lines += ["  " + line for line in format_table(columns, numeric, text, rows)]
    return "\n".join(lines)


def format_table(
    columns: Sequence[str],
    numeric: Sequence[bool],
    text: Sequence[bool],
    rows: Sequence[Sequence[str | None]],
) -> list[str]:
    """Rows as an aligned table with a header, numbers right-aligned, at most 20 rows."""
    cells = [
        [_cell(value, is_text) for value, is_text in zip(row, text, strict=True)]
        for row in rows[:MAX_ROWS_SHOWN]
    ]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return " | ".join(
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(columns), "-+-".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    if len(rows) > MAX_ROWS_SHOWN:
        out.append(f"... and {len(rows) - MAX_ROWS_SHOWN} more")
    return out


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _fetch(engine: Engine, query: str, columns: Sequence[str]) -> list[tuple[str | None, ...]]:
    """The rows of ``query`` as DuckDB prints their values, sorted on every column."""
    shown = ", ".join(f"cast(d.{quote(c)} as varchar)" for c in columns)
    order = ", ".join(f"d.{quote(c)}" for c in columns)
    return [
        tuple(row) for row in engine.execute(f"select {shown} from ({query}) as d order by {order}")
    ]


def _cell(value: str | None, is_text: bool) -> str:
    """A value for a table cell: null spelled out; text quoted where spaces would hide."""
    if value is None:
        return "null"
    value = value.replace("\n", "\\n")
    if is_text and (value == "" or value != value.strip() or value.lower() == "null"):
        return "'" + value.replace("'", "''") + "'"
    return value
