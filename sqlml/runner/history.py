"""The last run, as `sqlml retry` needs it: its command, flags and unfinished nodes.

Read from the state schema (``runs`` and ``node_results``), so a retry works from any machine
that reaches the warehouse, whatever is left in ``target/``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlml.engine.base import Engine
from sqlml.relation import Relation


@dataclass(frozen=True)
class LastRun:
    """The latest run of a command that executes nodes.

    Args:
        status: "success", "error", or "running" when it never finished (killed, or still
            going).
        invocation: its flags: ``select``, ``exclude``, ``threads``, ``vars`` and, for a
            retry, ``nodes`` (the exact nodes it ran) and ``retry_of``.
        failed: nodes that failed; ``skipped``: nodes skipped because an upstream failed.
    """

    run_id: str
    command: str
    status: str
    started_at: datetime
    invocation: Mapping[str, Any] = field(default_factory=dict)
    failed: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


def read_last_run(engine: Engine, schema: str, commands: Collection[str]) -> LastRun | None:
    """The latest run of one of ``commands``, or None if there is none."""
    if (schema.lower(), "runs") not in engine.relations():
        return None
    placeholders = ", ".join("?" for _ in commands)
    # Warehouses last written by an older sqlml have no flags column until the next run.
    columns = {name for name, _ in engine.columns(Relation(schema, "runs"))}
    flags = "invocation" if "invocation" in columns else "null"
    rows = engine.execute(
        f"select run_id, command, status, started_at, {flags} from {_q(schema)}.runs "
        f"where command in ({placeholders}) order by started_at desc limit 1",
        list(commands),
    )
    if not rows:
        return None
    run_id, command, status, started_at, invocation = rows[0]
    results = engine.execute(
        f"select node, status from {_q(schema)}.node_results "
        "where run_id = ? and status in ('error', 'skipped') order by node",
        [run_id],
    )
    return LastRun(
        run_id=run_id,
        command=command,
        status=status,
        started_at=started_at,
        invocation=_parse(invocation),
        failed=tuple(node for node, state in results if state == "error"),
        skipped=tuple(node for node, state in results if state == "skipped"),
    )


def _parse(text: str | None) -> dict[str, Any]:
    """The stored flags; runs recorded before flags were kept have none."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
