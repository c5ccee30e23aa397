"""Interval state of time_range models, in the warehouse's state schema.

``<state_schema>.intervals`` holds, per node, the merged ranges of event time already built
(naive UTC, half-open). A batch rewrites its node's rows in the transaction that writes the
batch's data, so the two never disagree, whenever a run stops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlml.engine.base import Engine, Transaction
from sqlml.plan.intervals import Interval

TABLE = """
create table if not exists {s}.intervals (
    node varchar not null,
    start_at timestamp not null,      -- inclusive, UTC
    end_at timestamp not null         -- exclusive, UTC
);
"""


def read_intervals(engine: Engine, schema: str) -> Mapping[str, tuple[Interval, ...]]:
    """Each time_range node's done intervals, sorted."""
    rows = engine.execute(
        f"select node, start_at, end_at from {_q(schema)}.intervals order by node, start_at"
    )
    found: dict[str, list[Interval]] = {}
    for node, start, end in rows:
        found.setdefault(node, []).append((start, end))
    return {node: tuple(intervals) for node, intervals in found.items()}


def node_intervals(tx: Transaction, schema: str, node: str) -> tuple[Interval, ...]:
    """One node's done intervals, as the transaction sees them."""
    rows = tx.execute(
        f"select start_at, end_at from {_q(schema)}.intervals where node = ? order by start_at",
        [node],
    )
    return tuple((start, end) for start, end in rows)


def write_intervals(
    tx: Transaction, schema: str, node: str, intervals: Sequence[tuple[datetime, datetime]]
) -> None:
    """Replace one node's intervals (inside the transaction that built the data)."""
    tx.execute(f"delete from {_q(schema)}.intervals where node = ?", [node])
    for start, end in intervals:
        tx.execute(f"insert into {_q(schema)}.intervals values (?, ?, ?)", [node, start, end])


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
