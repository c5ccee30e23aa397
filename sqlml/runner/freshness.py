"""Source freshness: how old the newest row of each source is, against its thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlml.compiler.types import CompiledNode
from sqlml.engine.base import Engine
from sqlml.errors import ExecutionError

TABLE = """
create table if not exists {s}.source_freshness (
    checked_at timestamptz not null,
    source varchar not null,
    relation varchar not null,
    loaded_at_column varchar not null,
    max_loaded_at timestamptz,
    age_s double,
    warn_after_s double,
    error_after_s double,
    status varchar not null,          -- pass, warn, error
    message varchar
);
"""


@dataclass(frozen=True)
class FreshnessResult:
    source: str
    relation: str
    loaded_at: str
    max_loaded_at: datetime | None
    age_s: float | None
    warn_after_s: float | None
    error_after_s: float | None
    status: str  # "pass", "warn" or "error"
    message: str


def check_freshness(engine: Engine, nodes: Sequence[CompiledNode]) -> list[FreshnessResult]:
    """Measure each source node that declares `loaded_at` (others are skipped).

    Timestamps without a time zone are read as UTC.
    """
    results = []
    for node in nodes:
        table = node.spec
        if node.kind != "source" or not table.loaded_at:
            continue
        freshness = table.freshness
        warn_s = freshness.warn_after_s if freshness else None
        error_s = freshness.error_after_s if freshness else None
        column = '"' + table.loaded_at.replace('"', '""') + '"'
        try:
            newest, age = engine.execute(
                # read back as a UTC timestamp without zone: timestamptz values need pytz
                f"select max({column})::timestamptz at time zone 'UTC', "
                f"epoch(now() - max({column})::timestamptz) from {node.relation}"
            )[0]
        except ExecutionError as exc:
            results.append(
                FreshnessResult(
                    node.name,
                    node.relation.display,
                    table.loaded_at,
                    None,
                    None,
                    warn_s,
                    error_s,
                    "error",
                    exc.message,
                )
            )
            continue
        if newest is None:
            status, message = "error", "no rows with a loaded_at value"
        elif error_s is not None and age > error_s:
            status, message = (
                "error",
                f"newest row is {_span(age)} old (error after {_span(error_s)})",
            )
        elif warn_s is not None and age > warn_s:
            status, message = "warn", f"newest row is {_span(age)} old (warn after {_span(warn_s)})"
        else:
            status, message = "pass", f"newest row is {_span(age)} old"
        results.append(
            FreshnessResult(
                node.name,
                node.relation.display,
                table.loaded_at,
                newest,
                age,
                warn_s,
                error_s,
                status,
                message,
            )
        )
    return results


def record_freshness(engine: Engine, schema: str, results: Sequence[FreshnessResult]) -> None:
    q = '"' + schema.replace('"', '""') + '"'
    engine.execute(TABLE.format(s=q))
    for r in results:
        engine.execute(
            f"insert into {q}.source_freshness values (now(), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                r.source,
                r.relation,
                r.loaded_at,
                r.max_loaded_at,
                r.age_s,
                r.warn_after_s,
                r.error_after_s,
                r.status,
                r.message,
            ],
        )


def _span(seconds: float) -> str:
    """A duration as people say it: 90 s → "1.5m", 30 h → "1.2d"."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"
