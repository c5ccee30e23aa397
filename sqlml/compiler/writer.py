"""Writing compiled SQL under the target folder: each file once, in a thread of its own.

Creating a file is cheap when the disk is idle (15 µs) and slow when it is busy committing
(0.3 ms and more on the project's machines), so files are written by a background thread
while the compiler parses: the kernel's waits release the GIL. A file whose content is
unchanged (same digest as last written, and still there) is not written again.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Mapping

_DONE = None


class CompiledFiles:
    """Writes files in the background; `close` waits for them and raises the first failure.

    Args:
        written: what each key's file held when last written, by digest (from the cache).
    """

    def __init__(self, written: Mapping[str, str]) -> None:
        self._known = dict(written)
        self._queue: queue.SimpleQueue[tuple[str, str, str, str] | None] = queue.SimpleQueue()
        self._changed: dict[str, str] = {}
        self._folders: set[str] = set()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sqlml-compiled-files", daemon=True)
        self._thread.start()

    def write(self, path: str, sql: str, key: str) -> None:
        """Queue ``sql`` (plus a final newline) for ``path``; ``key`` names it in the cache."""
        digest = hashlib.sha256(sql.encode()).hexdigest()
        self._queue.put((path, sql, key, digest))

    def close(self) -> dict[str, str]:
        """Wait for every queued file; return the digests of the files written (by key)."""
        self._queue.put(_DONE)
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        return self._changed

    def _run(self) -> None:
        while (item := self._queue.get()) is not _DONE:
            if self._failure is not None:
                continue  # drain the queue; the first failure is raised by close()
            path, sql, key, digest = item
            try:
                if self._known.get(key) == digest and os.path.exists(path):
                    continue
                folder = os.path.dirname(path)
                if folder not in self._folders:
                    os.makedirs(folder, exist_ok=True)
                    self._folders.add(folder)
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(sql + "\n")
            except BaseException as exc:  # raised again in the compiling thread
                self._failure = exc
                continue
            self._known[key] = digest
            self._changed[key] = digest
