"""Helpers shared by the runner tests: read a built warehouse, record a run's progress."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlml.plan.types import Plan, Step
from sqlml.runner.types import NodeResult


def query(root: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` run on the project's warehouse, opened read-only."""
    import duckdb

    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(sql, params).fetchall()


def relations(root: Path) -> dict[tuple[str, str], str]:
    """Every table and view in the project's warehouse, outside the state schema."""
    rows = query(
        root,
        "select schema_name, table_name, 'table' from duckdb_tables() "
        "union all select schema_name, view_name, 'view' from duckdb_views() where not internal",
    )
    return {(schema, name): kind for schema, name, kind in rows if schema != "_sqlml"}


class Recorder:
    """A Listener that records, in order and from any thread, when each step starts and ends."""

    def __init__(self) -> None:
        self.plans: list[Plan] = []
        self.events: list[tuple[str, str]] = []
        self.thread_names: dict[str, str] = {}
        self._lock = threading.Lock()

    def planned(self, plan: Plan) -> None:
        self.plans.append(plan)

    def started(self, step: Step) -> None:
        with self._lock:
            self.events.append(("start", step.node))
            self.thread_names[step.node] = threading.current_thread().name

    def finished(self, step: Step, result: NodeResult) -> None:
        with self._lock:
            self.events.append(("finish", step.node))

    def position(self, event: str, node: str) -> int:
        return self.events.index((event, node))

    @property
    def started_nodes(self) -> list[str]:
        return [node for event, node in self.events if event == "start"]


_HOLD_OPEN = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])
connection.execute("create or replace table held as select 1 as id")
print("ready", flush=True)
sys.stdin.read()
"""


@contextmanager
def held_open(path: Path) -> Iterator[None]:
    """Another process holds the DuckDB file at ``path`` open for writing, until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_OPEN, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        if holder.stdout.readline() != "ready\n":
            raise RuntimeError(f"could not open {path} in a helper process")
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
