"""The bounds of a time_range model's batch in compiled SQL.

``{{ start }}`` and ``{{ end }}`` render as these placeholders: SQL that parses, so the
compiler can check the query once; the runner swaps them for each batch's timestamps.
"""

from __future__ import annotations

from datetime import datetime

BATCH_START = "timestamp '__sqlml_batch_start__'"
BATCH_END = "timestamp '__sqlml_batch_end__'"


def bind_batch(sql: str, start: datetime, end: datetime) -> str:
    """``sql`` with the batch's bounds in place of ``{{ start }}`` and ``{{ end }}``."""
    return sql.replace(BATCH_START, timestamp_literal(start)).replace(
        BATCH_END, timestamp_literal(end)
    )


def timestamp_literal(moment: datetime) -> str:
    """A SQL timestamp literal of ``moment``."""
    return f"timestamp '{moment.isoformat(sep=' ')}'"
