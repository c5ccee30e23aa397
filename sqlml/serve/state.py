"""What the endpoint serves, and how it follows the warehouse without holding it.

DuckDB lets one process write a database file, and no other process open it while it does; a
reader, while it has the file open, keeps writers out. So the server never keeps the file open:
`Refresher.poll` looks at the file's size and modification time (two ``stat`` calls), and only
when they changed (or ``max_age_s`` passed) opens it read-only, reads the champions (ONNX bytes
verified against their sha256) and the feature views' latest values, and closes it. Requests are
answered from that in-memory copy. While `sqlml run` holds the file, the refresh is skipped and
retried at the next poll; the copy in memory keeps serving. A run that starts during a refresh
waits for it (`sqlml.context.LOCK_WAIT_S`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlml.engine import Engine, connect
from sqlml.errors import SqlmlError
from sqlml.ml.registry import load_onnx
from sqlml.serve.contract import Contract, read_contract
from sqlml.serve.entities import (
    EntitySource,
    FeatureSnapshot,
    build_snapshot,
    snapshot_sql,
)


@dataclass(frozen=True)
class ServedModel:
    """A model's champion as served: its identity, contract, ONNX session and features."""

    name: str
    version: int
    sha256: str
    owner: str
    created_at: datetime
    metrics: Mapping[str, Any]
    contract: Contract
    session: Any  # onnxruntime.InferenceSession
    snapshot: FeatureSnapshot | None = None
    # Why entity keys cannot be served (no feature views, or inputs they do not provide).
    keys_unavailable: str | None = None

    def metadata(self) -> dict[str, Any]:
        """The model as GET /v1/models/{name} describes it."""
        document: dict[str, Any] = {
            "name": self.name,
            "alias": "champion",
            "version": self.version,
            "sha256": self.sha256,
            "owner": self.owner,
            "created_at": self.created_at.isoformat(),
            "task": self.contract.task,
            "inputs": self.contract.describe(),
            "metrics": dict(self.metrics),
            "entity_keys": list(self.snapshot.keys) if self.snapshot else None,
        }
        if self.contract.classes is not None:
            document["classes"] = list(self.contract.classes)
        if self.snapshot is not None:
            document["entities"] = self.snapshot.entities
            document["key_inputs"] = list(self.snapshot.request_inputs)
        elif self.keys_unavailable:
            document["entity_keys_unavailable"] = self.keys_unavailable
        return document


@dataclass(frozen=True)
class ServeState:
    """Everything a request reads; replaced whole by each refresh, never changed in place."""

    models: Mapping[str, ServedModel] = field(default_factory=dict)
    registered: tuple[str, ...] = ()  # every model in the registry, champion or not
    refreshed_at: datetime | None = None
    problem: str | None = None  # why the last refresh did not happen (e.g. the file is locked)


@dataclass(frozen=True)
class Refreshed:
    """How one poll went: whether the warehouse was read and how long that took."""

    read: bool
    seconds: float = 0.0
    problem: str | None = None


_CHAMPIONS = """
select a.model, a.version, v.onnx_sha256, v.owner, timezone('UTC', v.created_at), v.metrics
from {s}.model_aliases a join {s}.model_versions v using (model, version)
where a.alias = 'champion' order by a.model
"""


class Refresher:
    """Keeps a `ServeState` in step with the warehouse, reading it only when it changed.

    Args:
        path: the warehouse file.
        schema: the state schema holding the registry.
        sources: per model, where entity keys find their features.
        max_age_s: read the warehouse at least this often even when the file did not change
            (feature rows with a timestamp in the future become current with time).
        open_engine: opens the warehouse read-only (tests may count the opens).
    """

    def __init__(
        self,
        path: Path,
        schema: str,
        sources: Mapping[str, EntitySource] | None = None,
        *,
        max_age_s: float = 300.0,
        open_engine: Callable[[Path], Engine] | None = None,
    ) -> None:
        self.path = path
        self.schema = schema
        self.sources = dict(sources or {})
        self.max_age_s = max_age_s
        self.state = ServeState()
        self._open = open_engine or (lambda p: connect(p, read_only=True))
        self._signature: tuple[int, ...] | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def poll(self) -> Refreshed:
        """Refresh if the warehouse file changed since the last successful read."""
        signature = _signature(self.path)
        stale = time.monotonic() - self._read_at > self.max_age_s
        if signature == self._signature and not stale:
            return Refreshed(False)
        return self.refresh(signature)

    def refresh(self, signature: tuple[int, ...] | None = None) -> Refreshed:
        """Read the champions and features now; on failure keep serving what is loaded."""
        with self._lock:
            signature = signature or _signature(self.path)
            started = time.perf_counter()
            if not self.path.exists():
                return self._problem(f"no warehouse at {self.path} yet: run `sqlml run` first")
            try:
                state = self._read()
            except SqlmlError as exc:
                return self._problem(exc.message)
            self.state = state
            self._signature = signature
            self._read_at = time.monotonic()
            return Refreshed(True, time.perf_counter() - started)

    def _problem(self, message: str) -> Refreshed:
        self.state = replace(self.state, problem=message)
        return Refreshed(False, problem=message)

    def _read(self) -> ServeState:
        old = self.state.models
        rows: list[tuple[Any, ...]] = []
        problems: list[str] = []
        models: dict[str, ServedModel] = {}  # what is kept when a new champion cannot load
        engine = self._open(self.path)
        try:
            s = _q(self.schema)
            if (self.schema.lower(), "model_versions") not in engine.relations():
                return ServeState(refreshed_at=datetime.now(UTC))
            registered = tuple(m for (m,) in engine.execute(
                f"select distinct model from {s}.model_versions order by model"
            ))  # fmt: skip
            for row in engine.execute(_CHAMPIONS.format(s=s)):
                name, version, sha = row[0], int(row[1]), row[2]
                try:
                    same = name in old and (old[name].version, old[name].sha256) == (version, sha)
                    onnx = None if same else load_onnx(engine, self.schema, name, version)
                except SqlmlError as exc:
                    problems.append(_keep_old(name, old, exc.message, models))
                    continue
                rows.append((*row, onnx, self._features(engine, name)))
        finally:
            engine.close()
        # Sessions and indexes are built after the file is closed.
        for row in rows:
            try:
                models[row[0]] = self._model(row, old.get(row[0]))
            except Exception as exc:  # a model that cannot be loaded must not stop the others
                problems.append(_keep_old(row[0], old, f"cannot load it: {exc}", models))
        return ServeState(models, registered, datetime.now(UTC), "; ".join(problems) or None)

    def _features(self, engine: Engine, name: str) -> Any:
        """The latest feature rows for ``name``'s entity source (Arrow), or why not (text)."""
        if name not in self.sources:
            return None
        try:
            return engine.arrow(snapshot_sql(self.sources[name]))
        except SqlmlError as exc:
            return f"cannot read its feature views: {exc.message}"

    def _model(self, row: tuple[Any, ...], old: ServedModel | None) -> ServedModel:
        import json

        name, version, sha, owner, created_at, metrics, onnx, table = row
        if onnx is None and old is not None:
            contract, session = old.contract, old.session
        else:
            contract, session = read_contract(onnx), _session(onnx)
        model = ServedModel(
            name, int(version), sha, owner, created_at.replace(tzinfo=UTC),
            json.loads(metrics or "{}"), contract, session,
        )  # fmt: skip
        source = self.sources.get(name)
        if source is None:
            reason = "the model is not trained on feature views: send feature rows"
            return replace(model, keys_unavailable=reason)
        if isinstance(table, str):
            return replace(model, keys_unavailable=table)
        return replace(model, snapshot=build_snapshot(table, source, contract))

    def run(self, stop: threading.Event, interval_s: float) -> None:
        """Poll every ``interval_s`` seconds until ``stop`` is set."""
        while not stop.wait(interval_s):
            self.poll()


def _keep_old(
    name: str, old: Mapping[str, ServedModel], message: str, models: dict[str, ServedModel]
) -> str:
    """Keep serving the version loaded before, if any; say so."""
    if name not in old:
        return f"model '{name}': {message}"
    models[name] = old[name]
    return f"model '{name}': {message}; still serving version {old[name].version}"


def _session(onnx: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    # Requests are small; one thread per run keeps the latency steady under concurrent load.
    options.intra_op_num_threads = 1
    return ort.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])


def _signature(path: Path) -> tuple[int, ...] | None:
    """Size and modification time of the database file and its write-ahead log."""
    values: list[int] = []
    for candidate in (path, path.with_name(path.name + ".wal")):
        try:
            stat = os.stat(candidate)
        except FileNotFoundError:
            values.extend((-1, -1))
        else:
            values.extend((stat.st_size, stat.st_mtime_ns))
    return tuple(values)


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
