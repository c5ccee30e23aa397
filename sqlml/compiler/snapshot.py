"""The last compile's nodes, reused whole when none of its inputs changed.

A compile reads the project (model, properties, macro and singular test files, project.yml,
target and vars, all in `Project`), the seed files and the environment variables templates
ask for, and writes `target/compiled/`. When the digest of the first two and the values of
the last are what they were, the nodes are what they were: they are loaded from the snapshot
instead of rebuilt, and nothing is written. The snapshot is not used when a folder of
`target/compiled/` changed (a file deleted or added), so that compiled files are written again.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlml.compiler.types import CompiledNode
from sqlml.project.inventory import code_stamp, paused_gc
from sqlml.project.types import Project

SNAPSHOT_FILE = ".cache/nodes.pickle"
_FORMAT = 1


class Nodes(dict[str, CompiledNode]):
    """Compiled nodes by name, with the digest of everything they were compiled from.

    ``inputs_key`` is the same for two compiles exactly when their nodes are the same; writers
    of artifacts use it to skip rewriting them (None when unknown).
    """

    inputs_key: str | None = None


def inputs_key(project: Project) -> str | None:
    """A digest of everything in ``project`` and on disk that a compile reads, environment
    variables aside, and sqlml's own sources (editing them invalidates what they compiled);
    None when a file cannot be read (the compile will say why)."""
    from sqlml import __version__

    digest = hashlib.sha256(f"{_FORMAT} {__version__} {code_stamp()!r}\0".encode())
    models = project.models
    digest.update("\0".join(m.sql for m in models).encode())
    digest.update(
        repr(
            [
                (m.name, m.path, len(m.sql), m.config, m.description, m.columns, m.properties_path)
                for m in models
            ]
        ).encode()
    )
    digest.update(
        repr(
            (
                project.root,
                project.name,
                project.target,
                project.vars,
                project.macros,
                project.target_dir,
                project.state_schema,
                project.failures_schema,
                project.environment_hash,
                project.seeds,
                project.sources,
                project.data_tests,
                project.snapshots,
                project.feature_views,
                project.ml_specs,
                project.training_queries,
                project.monitors,
                project.monitoring,
            )
        ).encode()
    )
    # Seeds are fingerprinted by their data; data tests are located in their YAML file.
    files = [s.path for s in project.seeds] + sorted(
        {t.path for t in project.data_tests if t.entry is not None}
    )
    try:
        for path in files:
            digest.update(hashlib.sha256((project.root / path).read_bytes()).digest())
    except OSError:
        return None
    return digest.hexdigest()


def nodes_key(key: str, env_reads: Mapping[str, str | None]) -> str:
    """The key of the nodes: the inputs' key and the environment variables read."""
    return hashlib.sha256(f"{key}\0{sorted(env_reads.items())!r}".encode()).hexdigest()


def load_snapshot(path: Path, key: str, cache: Path) -> Nodes | None:
    """The nodes of the last compile if it had the inputs of ``key``, else None.

    ``cache`` is the render and parse cache saved with the snapshot: if it was replaced or
    removed since, the snapshot is not trusted either.
    """
    try:
        with path.open("rb") as handle:
            if pickle.load(handle) != (_FORMAT, key):
                return None
            env_reads, folders, cache_stamp = pickle.load(handle)
            if any(os.environ.get(name) != value for name, value in env_reads.items()):
                return None
            if any(_stamp(folder) != stamp for folder, stamp in folders.items()):
                return None
            if _stamp(str(cache), size=True) != cache_stamp:
                return None
            with paused_gc():
                nodes = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError):
        return None
    if not isinstance(nodes, Nodes):
        return None
    return nodes


def save_snapshot(
    path: Path,
    key: str,
    env_reads: Mapping[str, str | None],
    folders: Iterable[str],
    nodes: Nodes,
    cache: Path,
) -> None:
    """Store ``nodes`` as compiled from ``key``'s inputs; ``folders`` hold compiled files,
    ``cache`` is the render and parse cache as just saved."""
    stamps: dict[str, Any] = {folder: _stamp(folder) for folder in sorted(set(folders))}
    checks = (dict(env_reads), stamps, _stamp(str(cache), size=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    try:
        with tmp.open("wb") as handle:
            # Three pickles: the key and the checks are read without loading the nodes.
            pickle.dump((_FORMAT, key), handle, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(checks, handle, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(nodes, handle, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):  # e.g. a config value
        tmp.unlink(missing_ok=True)
        return
    tmp.replace(path)


def _stamp(path: str, *, size: bool = False) -> tuple[int, ...] | None:
    """What changes when a file is added to, removed from or renamed in a folder (or, with
    ``size``, when a file is rewritten)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (
        (stat.st_mtime_ns, stat.st_ino, stat.st_size) if size else (stat.st_mtime_ns, stat.st_ino)
    )
