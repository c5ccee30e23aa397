"""Load rows written in YAML into a table, cast to declared or inferred column types."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlml.engine.base import Engine
from sqlml.errors import ConfigError, ExecutionError, Location

if TYPE_CHECKING:
    import pyarrow as pa

NUMERIC = re.compile(
    r"^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|REAL|DECIMAL.*)$", re.I
)
_ROW = "__sqlml_row"


@dataclass(frozen=True)
class TableColumn:
    """A column of a table to load: its name and DuckDB type.

    With ``type`` None the type is inferred from the values (through Arrow); a column with no
    value but NULL keeps DuckDB's untyped NULL, which most functions and comparisons accept.
    """

    name: str
    type: str | None = None


def quote(name: str) -> str:
    """A SQL identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def create_table(
    engine: Engine,
    create: str,
    columns: Sequence[TableColumn],
    rows: Sequence[Mapping[str, Any]],
    *,
    what: str,
    location: Location,
    cast_hint: str,
) -> None:
    """Run ``{create} as select ...`` over ``rows``, one column per entry of ``columns``.

    Row keys match column names case-insensitively, as DuckDB identifiers do; a column a row
    omits is NULL. ``what`` names the rows in errors (e.g. "unit test 't', input ref('x')").

    Raises ConfigError naming the row, column and value that cannot be cast to its column's
    type, or would change (12.5 as an integer), or the type DuckDB does not know;
    ExecutionError for anything else DuckDB rejects.
    """
    import pyarrow as pa

    if not columns:
        raise ConfigError(
            f"{what}: no columns to create a table with",
            location=location,
            hint="give at least one row, or declare the columns of this input in YAML",
        )
    lowered = [{key.lower(): value for key, value in row.items()} for row in rows]
    arrays = {
        f"c{i}": _array([row.get(column.name.lower()) for row in lowered])
        for i, column in enumerate(columns)
    }
    arrays[_ROW] = pa.array(range(len(rows)), pa.int64())
    selected = ", ".join(
        (f'cast("c{i}" as {column.type})' if column.type else f'"c{i}"')
        + f" as {quote(column.name)}"
        for i, column in enumerate(columns)
    )
    with engine.arrow_view(pa.table(arrays)) as view:
        for i, column in enumerate(columns):
            array = arrays[f"c{i}"]
            if column.type and (
                pa.types.is_integer(array.type)
                or pa.types.is_floating(array.type)
                or pa.types.is_decimal(array.type)
            ):
                _check_exact(engine, view, i, column, rows, what, location, cast_hint)
        try:
            engine.execute(f"{create} as select {selected} from {view} order by {_ROW}")
        except ExecutionError as exc:
            _explain_failure(engine, view, columns, rows, what, location, cast_hint)
            raise ExecutionError(f"{what}: {first_line(exc)}", location=location) from None


def first_line(exc: BaseException) -> str:
    """The first line of the warehouse's error: the message without the echoed SQL."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def show(value: Any) -> str:
    """A value as written in YAML, for error messages: strings quoted."""
    return repr(value) if isinstance(value, str) else str(value)


def _array(values: list[Any]) -> pa.Array:
    """Values as an Arrow array of the type they share; as text when they share none."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        return pa.array([None if v is None else _text(v) for v in values], pa.string())


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_exact(
    engine: Engine,
    view: str,
    index: int,
    column: TableColumn,
    rows: Sequence[Mapping[str, Any]],
    what: str,
    location: Location,
    cast_hint: str,
) -> None:
    """Raise ConfigError for a number that a numeric type would round (12.5 as an integer)."""
    try:
        found = engine.execute(f"select typeof(cast(null as {column.type}))")
    except ExecutionError:
        return  # an unknown type: reported when the table is created
    if not NUMERIC.match(str(found[0][0])):
        return
    value = f'"c{index}"'
    cast = f"try_cast({value} as {column.type})"
    changed = engine.execute(
        f"select {_ROW}, cast({cast} as varchar) from {view} "
        f"where {cast} <> {value} order by {_ROW} limit 1"
    )
    if changed:
        row = int(changed[0][0])
        raise ConfigError(
            f"{what}, row {row + 1}: value {show(_value(rows[row], column.name))} of column "
            f"'{column.name}' does not fit {column.type} (it would become {changed[0][1]})",
            location=location,
            hint=cast_hint,
        )


def _value(row: Mapping[str, Any], column: str) -> Any:
    return {key.lower(): value for key, value in row.items()}.get(column.lower())


def _explain_failure(
    engine: Engine,
    view: str,
    columns: Sequence[TableColumn],
    rows: Sequence[Mapping[str, Any]],
    what: str,
    location: Location,
    cast_hint: str,
) -> None:
    """Raise ConfigError for the first typed column whose type or values do not cast."""
    for i, column in enumerate(columns):
        if not column.type:
            continue
        try:
            engine.execute(f"select cast(null as {column.type})")
        except ExecutionError:
            raise ConfigError(
                f"{what}: column '{column.name}' has type '{column.type}', which DuckDB does "
                "not know",
                location=location,
                hint="use a DuckDB type such as integer, decimal(18,2), varchar, date, timestamp",
            ) from None
        found = engine.execute(
            f'select {_ROW} from {view} where "c{i}" is not null '
            f'and try_cast("c{i}" as {column.type}) is null order by {_ROW} limit 1'
        )
        if found:
            index = int(found[0][0])
            raise ConfigError(
                f"{what}, row {index + 1}: value {show(_value(rows[index], column.name))} "
                f"of column '{column.name}' cannot be cast to {column.type}",
                location=location,
                hint=cast_hint,
            )
