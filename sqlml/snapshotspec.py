"""A snapshot's spec: how its history is kept. The compiler makes and checks it
(`sqlml.compiler.snapshot_config`); the plan carries it; the runner's snapshot
materialization builds its SQL from it at run time (`sqlml.runner.snapshot_sql`)."""

from __future__ import annotations

from dataclasses import dataclass

# The columns sqlml adds to every snapshot, in this order; documented in docs/snapshots.md.
META_COLUMNS = ("sqlml_scd_id", "sqlml_updated_at", "sqlml_valid_from", "sqlml_valid_to")
RESERVED_PREFIX = "sqlml_"


@dataclass(frozen=True)
class SnapshotSpec:
    """How one snapshot keeps history.

    Args:
        unique_key: the columns identifying a row (one or more).
        strategy: "timestamp" (a row changed when ``updated_at`` grew) or "check" (when one
            of ``check_cols`` differs, NULLs comparing equal to NULLs).
        updated_at: the timestamp strategy's column.
        check_cols: the check strategy's columns; None means every column but the key.
        hard_deletes: "ignore" keeps a row whose key left the select current; "invalidate"
            closes it.
        path: the snapshot's SQL file, for error messages.
    """

    unique_key: tuple[str, ...]
    strategy: str
    updated_at: str | None
    check_cols: tuple[str, ...] | None
    hard_deletes: str
    path: str
