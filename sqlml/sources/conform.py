"""Give driver output the column types its database declared.

SQLite stores values, not types: its ADBC driver infers each column's type from the values of
the first batch, so a ``BOOLEAN`` column arrives as integers, a ``TIMESTAMP`` column as text,
and a column that is empty or all NULL as int64 whatever it was declared. Reading a whole table,
the declared types are known, and cast to here. The PostgreSQL driver hands ``numeric`` over as
an opaque text column; it becomes a decimal of the declared precision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlml.errors import ExecutionError

if TYPE_CHECKING:
    import pyarrow as pa

_DECIMAL_MAX_PRECISION = 38  # DuckDB's widest DECIMAL


def sqlite_arrow_type(declared: str) -> pa.DataType | None:
    """The Arrow type for a SQLite declared column type, or None to keep what the values say.

    Follows SQLite's affinity rules, plus the names applications use for booleans and dates.

    >>> str(sqlite_arrow_type('VARCHAR(20)')), str(sqlite_arrow_type('datetime'))
    ('string', 'timestamp[us]')
    """
    import pyarrow as pa

    name = declared.upper()
    if "BOOL" in name:
        return pa.bool_()
    if "INT" in name:
        return pa.int64()
    if any(word in name for word in ("CHAR", "CLOB", "TEXT")):
        return pa.string()
    if "BLOB" in name:
        return pa.binary()
    if any(word in name for word in ("REAL", "FLOA", "DOUB")):
        return pa.float64()
    if "DATETIME" in name or "TIMESTAMP" in name:
        return pa.timestamp("us")
    if "DATE" in name:
        return pa.date32()
    return None  # NUMERIC, DECIMAL, TIME, no type at all: the values decide


def conform_sqlite(table: pa.Table, declared: Mapping[str, str], *, source: str) -> pa.Table:
    """Cast each column of ``table`` to the type its SQLite declaration names."""
    for index, field in enumerate(table.schema):
        target = sqlite_arrow_type(declared.get(field.name, ""))
        if target is None or field.type == target:
            continue
        column = _cast_sqlite(table.column(index), target)
        if column is None:
            raise ExecutionError(
                f"source '{source}': column '{field.name}' is declared "
                f"{declared[field.name]} but holds values that are not {_describe(target)} "
                f"(the driver read them as {field.type})",
                node=source,
                hint=_conversion_hint(field.name, target),
            )
        table = table.set_column(index, field.with_type(column.type), column)
    return table


def conform_postgres(table: pa.Table, *, source: str) -> pa.Table:
    """Turn PostgreSQL ``numeric`` columns (opaque text) into decimals or doubles.

    ``numeric(p, s)`` with p up to 38 becomes ``decimal128(p, s)``; an unconstrained or wider
    ``numeric`` becomes float64, as DuckDB's own PostgreSQL scanner does.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    for index, field in enumerate(table.schema):
        metadata = field.metadata or {}
        if metadata.get(b"POSTGRESQL:type") != b"numeric":
            continue
        column = table.column(index)
        if isinstance(field.type, pa.ExtensionType):
            column = pa.chunked_array(
                [chunk.storage for chunk in column.chunks], type=field.type.storage_type
            )
        target = _numeric_type(int(metadata.get(b"POSTGRESQL:typmod", b"-1")))
        try:
            column = pc.cast(column, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ExecutionError(
                f"source '{source}': column '{field.name}' (numeric) holds a value that does not "
                f"fit {target}: {exc}",
                node=source,
                hint=f"read it with `query:` and cast it, e.g. select {field.name}::float8 ...",
            ) from None
        table = table.set_column(index, pa.field(field.name, target, metadata=metadata), column)
    return table


def _cast_sqlite(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray | None:
    """``column`` as ``target``, or None when its values do not convert."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.null_count == len(column):
        return pa.chunked_array([pa.nulls(len(column), target)], type=target)
    temporal = pa.types.is_timestamp(target) or pa.types.is_date(target)
    if temporal and not pa.types.is_string(column.type):
        return None  # numbers in a date column: Unix seconds? days? Julian days? Ask.
    attempts: list[Any] = [target]
    if pa.types.is_timestamp(target):
        # Text with a UTC offset ('...+02:00', '...Z') is an instant: TIMESTAMP WITH TIME ZONE.
        attempts.append(pa.timestamp("us", tz="UTC"))
    for attempt in attempts:
        try:
            cast: pa.ChunkedArray = pc.cast(column, attempt)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            continue
        return cast
    return None


def _numeric_type(typmod: int) -> pa.DataType:
    import pyarrow as pa

    if typmod < 4:  # unconstrained numeric
        return pa.float64()
    precision = ((typmod - 4) >> 16) & 0xFFFF
    scale = (typmod - 4) & 0x7FF
    if scale & 0x400:  # PostgreSQL 15 allows negative scales, stored in 11 bits
        scale -= 0x800
    if 0 < precision <= _DECIMAL_MAX_PRECISION and 0 <= scale <= precision:
        return pa.decimal128(precision, scale)
    return pa.float64()


def _conversion_hint(name: str, target: pa.DataType) -> str:
    import pyarrow as pa

    example = f"cast({name} as ...) as {name}"
    if pa.types.is_timestamp(target) or pa.types.is_date(target):
        example = f"datetime({name}, 'unixepoch') as {name} for Unix seconds"
    return (
        "read the table with `query:` instead of `table:` and convert the column in SQL, "
        f"e.g. select {example}; or fix the data"
    )


def _describe(target: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_boolean(target):
        return "booleans (0/1 or 'true'/'false')"
    if pa.types.is_timestamp(target):
        return "timestamps written as text ('YYYY-MM-DD HH:MM:SS')"
    if pa.types.is_date(target):
        return "dates written as text ('YYYY-MM-DD')"
    if pa.types.is_integer(target):
        return "integers"
    if pa.types.is_floating(target):
        return "numbers"
    return str(target)
