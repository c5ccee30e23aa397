"""The last loaded project, reused when no file it was read from has changed.

Loading 10,000 models means opening every file, and validating the YAML means importing
pydantic's models (about 0.15 s alone). Like git's index, a load notes the status (size,
modification and change times, inode) of every file it read and every folder it listed; the
next load with the same project.yml, target and vars compares them (a few tens of
milliseconds for 10,000 files) and, if none changed, returns the project it loaded then.

A file changed in the same clock tick as it was noted could look unchanged, so nothing is
kept while any file or folder was changed shortly before the load started (`FINE_SETTLE_NS`
where timestamps have sub-second precision, `SETTLE_NS` where they have whole seconds, as on
FAT): the next load reads everything again, as it would have anyway.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from sqlml.project.types import Project

INVENTORY_FILE = ".cache/project.pickle"
SETTLE_NS = 2_500_000_000  # coarser than any file system's timestamps (FAT: 2 s)
FINE_SETTLE_NS = 50_000_000  # several kernel clock ticks (1-10 ms each)
_FORMAT = 1

Stat = tuple[int, int, int, int] | None


@contextmanager
def paused_gc() -> Iterator[None]:
    """Unpickling builds objects by the hundred thousand and no garbage: the cyclic garbage
    collector would only walk them over and over (a fifth of the time of a warm compile)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def stat(path: str) -> Stat:
    """What changes when a file is rewritten or a folder's entries change (None: missing)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_mtime_ns, status.st_ctime_ns, status.st_size, status.st_ino


class Inventory:
    """The files and folders one load read, each noted before it was read."""

    def __init__(self) -> None:
        self.started = time.time_ns()
        self.stats: dict[str, Stat] = {}
        self.resolved: dict[str, str] = {}  # paths resolved through symbolic links

    def note(self, path: str) -> None:
        self.stats[path] = stat(path)

    def resolve(self, path: Path) -> Path:
        """``path.resolve()``, noted: a link retargeted since gives another path."""
        resolved = path.resolve()
        self.resolved[str(path)] = str(resolved)
        return resolved

    def settled(self) -> bool:
        """Whether every noted file was last changed well before the load started."""
        noted = [s for s in self.stats.values() if s is not None]
        # Change times are set by the kernel: whole seconds only where the file system has
        # no finer timestamps.
        fine = any(s[1] % 1_000_000_000 for s in noted)
        limit = self.started - (FINE_SETTLE_NS if fine else SETTLE_NS)
        return all(s[1] < limit and s[0] < limit for s in noted)


def inventory_key(root: Path, project_file: bytes, target: str | None, vars: object) -> str:
    """What a load depends on besides the files it notes: its arguments and sqlml itself."""
    from sqlml import __version__

    digest = hashlib.sha256(project_file)
    digest.update(repr((_FORMAT, __version__, str(root), target, vars, code_stamp())).encode())
    return digest.hexdigest()


@cache
def code_stamp() -> tuple[tuple[str, int, int], ...]:
    """The size and time of the sources that load and compile projects (ML specs included):
    editing sqlml's own code (a development install) invalidates what it loaded or compiled
    before."""
    package = Path(__file__).parent.parent
    stamps = []
    for folder in ("project", "compiler", "ml"):
        with os.scandir(package / folder) as entries:
            for entry in entries:
                if entry.name.endswith(".py"):
                    status = entry.stat()
                    stamps.append((entry.name, status.st_mtime_ns, status.st_size))
    return tuple(sorted(stamps))


def load_inventory(path: Path, key: str) -> Project | None:
    """The project loaded last time if it had ``key`` and none of its files changed."""
    try:
        with path.open("rb") as handle:
            if pickle.load(handle) != (_FORMAT, key):
                return None
            stats: dict[str, Stat]
            stats, resolved = pickle.load(handle)
            if any(stat(noted) != status for noted, status in stats.items()):
                return None
            if any(str(Path(path).resolve()) != real for path, real in resolved.items()):
                return None
            with paused_gc():
                project = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError):
        return None
    return project if isinstance(project, Project) else None


def save_inventory(path: Path, key: str, inventory: Inventory, project: Project) -> None:
    """Keep ``project`` for the next load, if its files have settled (else remove any)."""
    if not inventory.settled():
        path.unlink(missing_ok=True)
        return
    tmp = path.with_suffix(".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as handle:
            pickle.dump((_FORMAT, key), handle, protocol=pickle.HIGHEST_PROTOCOL)
            checks = (inventory.stats, inventory.resolved)
            pickle.dump(checks, handle, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(project, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except Exception:  # a read-only folder, or vars that cannot be pickled: load in full
        tmp.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
