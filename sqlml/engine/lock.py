"""One writer per warehouse: an operating-system lock on a file beside the database.

A writing command holds ``<warehouse>.lock`` for as long as it has the warehouse open. The lock
is the kernel's (``flock`` on POSIX, ``msvcrt.locking`` on Windows), so it goes away with the
process that held it, however that process ended: a killed run never leaves a stale lock.
While it holds the lock, the holder writes who it is (pid, host, command, start time) into the
file, so a command that has to wait can say what it is waiting for.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Polling bounds while waiting: short at first (a peek at the warehouse is brief), then calm.
_FIRST_POLL_S = 0.05
_MAX_POLL_S = 0.5


@dataclass(frozen=True)
class LockHolder:
    """Who holds a warehouse lock, as that process wrote it."""

    pid: int
    host: str
    command: str
    started_at: str  # ISO 8601, UTC

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, `{self.command}`, started {self.started_at}"

    def is_this_process(self) -> bool:
        return self.pid == os.getpid() and self.host == socket.gethostname()


def lock_path(warehouse: Path) -> Path:
    """The lock file of a warehouse file: ``warehouse.duckdb`` → ``warehouse.duckdb.lock``."""
    return warehouse.with_name(warehouse.name + ".lock")


class WarehouseLock:
    """The exclusive lock of one warehouse file, held by this process once acquired."""

    def __init__(self, warehouse: Path, command: str) -> None:
        self.path = lock_path(warehouse)
        self.command = command
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(
        self, timeout: float, on_wait: Callable[[LockHolder | None], None] | None = None
    ) -> LockHolder | None:
        """Take the lock, waiting up to ``timeout`` seconds for its holder to let go.

        Returns None once held; the holder (None if it has not written itself yet) when the
        timeout passed first, or at once when the holder is this very process (waiting for
        ourselves would only waste the timeout). ``on_wait`` is called once, when the first
        attempt fails.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(timeout, 0.0)
        pause = _FIRST_POLL_S
        waited = False
        while not _try_lock(fd):
            holder = _read_holder(fd)
            left = deadline - time.monotonic()
            if left <= 0 or (holder is not None and holder.is_this_process()):
                os.close(fd)
                return holder
            if not waited and on_wait is not None:
                on_wait(holder)
            waited = True
            time.sleep(min(pause, left))
            pause = min(pause * 2, _MAX_POLL_S)
        self._fd = fd
        _write_holder(fd, self.command)
        return None

    def release(self) -> None:
        """Let go of the lock (closing the file would too; the kernel does it on exit)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, _INFO_OFFSET)  # the next reader finds no stale holder
        _unlock(fd)
        os.close(fd)


def current_holder(warehouse: Path) -> LockHolder | None:
    """Who holds the warehouse's lock now, or None if nobody does (a peek: never waits)."""
    path = lock_path(warehouse)
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        if _try_lock(fd):
            _unlock(fd)
            return None
        return _read_holder(fd)
    finally:
        os.close(fd)


def command_line() -> str:
    """This process's command line, shortened, to tell others what holds the lock."""
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else ["python"]
    text = " ".join(argv)
    return text if len(text) <= 200 else text[:197] + "..."


def _write_holder(fd: int, command: str) -> None:
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
    data = json.dumps(info).encode()
    os.ftruncate(fd, _INFO_OFFSET)
    os.lseek(fd, _INFO_OFFSET, os.SEEK_SET)
    os.write(fd, data)


def _read_holder(fd: int) -> LockHolder | None:
    try:
        size = os.fstat(fd).st_size
        os.lseek(fd, _INFO_OFFSET, os.SEEK_SET)
        info: dict[str, Any] = json.loads(os.read(fd, max(size - _INFO_OFFSET, 0)) or b"null")
        return LockHolder(
            pid=int(info["pid"]),
            host=str(info["host"]),
            command=str(info["command"]),
            started_at=str(info["started_at"]),
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None  # taken a moment ago, not yet written


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    # Windows locks byte ranges, and a locked range cannot be read by others: lock byte 0
    # and keep the holder's details after it.
    _INFO_OFFSET = 1

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    # flock locks belong to the open file, not the process: two opens in one process
    # exclude each other too, and the lock dies with the last descriptor.
    _INFO_OFFSET = 0

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
