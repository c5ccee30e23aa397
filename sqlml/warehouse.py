"""The target's warehouse as a command reaches it: connections that take the warehouse lock
to write, and read-only looks (state, the last run, the registry) that never wait for a
writer and never create the file."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlml.engine import Engine, connect
from sqlml.errors import ExecutionError
from sqlml.plan import WarehouseState
from sqlml.runner import state as run_state
from sqlml.runner.history import LastRun, read_last_run

T = TypeVar("T")


@dataclass(frozen=True)
class Warehouse:
    """One target's warehouse.

    Args:
        path: the database file (or ``:memory:``).
        root: the project folder: relative file paths in SQL resolve to it.
        state_schema: the schema of sqlml's own tables (runs, registry, monitors).
        lock_timeout: seconds a writer waits while another command holds the warehouse.
        on_wait: told, once, what a writer is waiting for.
    """

    path: Path
    root: Path
    state_schema: str
    lock_timeout: float
    on_wait: Callable[[str], None] | None = None

    def connect(self, *, read_only: bool = False) -> Engine:
        """Open the warehouse; relative file paths in SQL resolve to the project.

        A writing connection holds the warehouse lock until closed, waiting up to the lock
        timeout for another command to finish first (`sqlml.engine.connect`).
        """
        return connect(
            self.path,
            search_path=self.root,
            read_only=read_only,
            lock_timeout=self.lock_timeout,
            on_wait=self.on_wait,
        )

    def run(self, operation: Callable[[Engine, str], T], *, write: bool = False) -> T:
        """``operation(engine, state_schema)`` on the warehouse, read-only unless ``write``;
        reading a warehouse that does not exist yet reads an empty one."""
        if not write and not self.path.exists():
            engine = connect(":memory:")
        else:
            engine = self.connect(read_only=not write)
        try:
            return operation(engine, self.state_schema)
        finally:
            engine.close()

    def peek_state(self) -> WarehouseState:
        """What was built and when, read without waiting for a writer: a warehouse that is
        being written (or cannot be read) gives an empty state saying why."""
        if not self.path.exists():
            return WarehouseState()
        try:
            engine = self.connect(read_only=True)
        except ExecutionError as exc:
            from sqlml.engine.lock import current_holder

            holder = current_holder(self.path)
            if holder is not None:  # say which command, rather than DuckDB's process name
                return WarehouseState(unreadable=f"it is being written by {holder.describe()}")
            return WarehouseState(unreadable=exc.message)
        try:
            return run_state.read_state(engine, self.state_schema)
        finally:
            engine.close()

    def last_run(self, commands: Collection[str]) -> LastRun | None:
        """The latest run of one of ``commands``; None when there is none (or no warehouse)."""
        if str(self.path) != ":memory:" and not self.path.exists():
            return None
        engine = self.connect(read_only=True)
        try:
            return read_last_run(engine, self.state_schema, commands)
        finally:
            engine.close()
