"""The only door to a warehouse."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlml.engine.base import Engine
from sqlml.engine.lock import LockHolder, WarehouseLock, command_line
from sqlml.errors import ExecutionError

# How long a writing command waits for another to finish with the warehouse, by default.
DEFAULT_LOCK_TIMEOUT_S = 60.0


def connect(
    path: Path | str,
    *,
    search_path: Path | None = None,
    read_only: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_S,
    on_wait: Callable[[str], None] | None = None,
) -> Engine:
    """Open the warehouse at ``path`` (DuckDB, the embedded default).

    A writing connection to a file first takes the warehouse's lock (see `sqlml.engine.lock`),
    waiting up to ``lock_timeout`` seconds for another sqlml command to finish, then opens the
    file, waiting out the same deadline if another program (a BI tool) has it open. Read-only
    connections take no lock and do not wait. ``on_wait`` hears once what is being waited for.

    Raises:
        ExecutionError: (exit code 2) when the deadline passes first, naming the holder.
    """
    from sqlml.engine.duckdb import DuckDBEngine

    if read_only or str(path) == ":memory:":
        return DuckDBEngine(path, search_path=search_path, read_only=read_only)
    deadline = time.monotonic() + lock_timeout
    lock = WarehouseLock(Path(path), command_line())

    def waiting(holder: LockHolder | None) -> None:
        if on_wait is not None:
            who = holder.describe() if holder else "another sqlml command"
            on_wait(f"waiting up to {lock_timeout:g} s for {who} to finish with {path}")

    holder = lock.acquire(lock_timeout, waiting)
    if not lock.held and holder is not None and holder.is_this_process():
        raise ExecutionError(
            f"warehouse {path} is already open for writing in this process",
            hint="close the other engine first (engine.close()), or use it",
            exit_code=2,
        )
    if not lock.held:
        who = holder.describe() if holder else "another sqlml command (it has not said which)"
        raise ExecutionError(
            f"warehouse {path} is in use by {who}; gave up after waiting {lock_timeout:g} s",
            hint="let that command finish, or wait longer with --lock-timeout SECONDS "
            "(or lock_timeout in project.yml); a lock whose process died is freed at once",
            exit_code=2,
        )
    try:
        return DuckDBEngine(
            path,
            search_path=search_path,
            lock=lock,
            open_timeout=max(deadline - time.monotonic(), 0.0),
            on_wait=on_wait,
        )
    except BaseException:
        lock.release()
        raise


__all__ = ["DEFAULT_LOCK_TIMEOUT_S", "Engine", "connect"]
