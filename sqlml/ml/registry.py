"""The model registry: immutable model versions and movable aliases, in the warehouse.

Three plain tables in the state schema, created on first write:

- ``model_versions``: one row per version, append-only; a version is never updated. Numbers
  count from 1 per model. The ONNX bytes are stored with their sha256, checked on every load.
- ``model_aliases``: where each alias (``champion``, ``challenger``) of a model points now.
- ``model_alias_history``: every move of an alias, append-only, numbered by ``seq``.

Every write is one transaction; a write that collides with another thread's is retried.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlml.engine.base import Engine
from sqlml.errors import ExecutionError, ScoringError, SqlmlError, did_you_mean

T = TypeVar("T")

_TABLES = """
create schema if not exists {s};
create table if not exists {s}.model_versions (
    model varchar not null, version integer not null, created_at timestamptz not null,
    owner varchar not null, spec_fingerprint varchar, data_fingerprint varchar, params json,
    metrics json, cv_metrics json, feature_importance json, parity json, onnx blob not null,
    onnx_sha256 varchar not null, run_id varchar, signature json,
    primary key (model, version));
create table if not exists {s}.model_aliases (
    model varchar not null, alias varchar not null, version integer not null,
    set_at timestamptz not null, reason varchar, run_id varchar, primary key (model, alias));
create table if not exists {s}.model_alias_history (
    model varchar not null, alias varchar not null, seq integer not null,
    action varchar not null, version integer not null, previous_version integer,
    set_at timestamptz not null, reason varchar, run_id varchar, primary key (model, alias, seq));
"""
_VERSION_COLUMNS = (
    "model, version, timezone('UTC', created_at), owner, spec_fingerprint, data_fingerprint, "
    "params, metrics, cv_metrics, feature_importance, parity, onnx_sha256, octet_length(onnx), "
    "run_id, signature"
)
_HISTORY_COLUMNS = (
    "model, alias, version, previous_version, action, timezone('UTC', set_at), reason, run_id"
)
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_ATTEMPTS = 20  # concurrent writers on a loaded machine may collide many times


class RegistryError(SqlmlError):
    """A registry request names a model, version or alias that does not exist, or cannot be done."""


@dataclass(frozen=True)
class ModelVersion:
    """One immutable version of a model (its ONNX bytes come from `load_onnx`, verified)."""

    model: str
    version: int
    created_at: datetime
    owner: str
    spec_fingerprint: str
    data_fingerprint: str
    params: Mapping[str, Any]
    metrics: Mapping[str, Any]
    cv_metrics: Mapping[str, Any]
    importance: Mapping[str, Any]
    parity: Mapping[str, Any]
    onnx_sha256: str
    onnx_bytes: int
    run_id: str | None
    # How to feed and read the ONNX model: task, features [{name, kind, arrow_type}], classes,
    # outputs, precision (see sqlml.ml.trainstep.signature).
    signature: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AliasChange:
    """One move of an alias: ``action`` is ``promote`` or ``rollback``."""

    model: str
    alias: str
    version: int
    previous_version: int | None
    action: str
    set_at: datetime
    reason: str | None
    run_id: str | None


@dataclass(frozen=True)
class ModelSummary:
    """A model as `list_models` shows it: its latest version and where its aliases point."""

    model: str
    owner: str
    latest_version: int
    versions: int
    latest_at: datetime
    aliases: Mapping[str, int]


@dataclass(frozen=True)
class ModelDetail:
    """A model with all its versions (oldest first), aliases and alias history (in order)."""

    model: str
    versions: tuple[ModelVersion, ...]
    aliases: Mapping[str, int]
    history: tuple[AliasChange, ...]


def ensure_registry(engine: Engine, schema: str) -> None:
    """Create the state schema and the registry tables if they do not exist."""
    for statement in _TABLES.format(s=_q(schema)).split(";"):
        if statement.strip():
            engine.execute(statement)


def register_version(
    engine: Engine,
    schema: str,
    *,
    model: str,
    owner: str,
    onnx: bytes,
    spec_fingerprint: str,
    data_fingerprint: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    cv_metrics: Mapping[str, Any],
    importance: Mapping[str, Any],
    parity: Mapping[str, Any],
    run_id: str | None,
    signature: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Store a new version of ``model`` (number: the previous highest + 1) and return it.

    Always a new version, even when everything equals an existing one: versions are a log.
    The sha256 of ``onnx`` is computed here. Non-finite floats in the JSON fields become null.
    """
    if not model or not owner or not onnx:
        raise RegistryError(
            f"cannot register model {model!r}: a model name, an owner and ONNX bytes are required",
            node=model or None,
            hint="set `owner` in the model's spec",
        )
    sha = hashlib.sha256(onnx).hexdigest()
    docs = [_json(d) for d in (params, metrics, cv_metrics, importance, parity)]
    args = [model, owner, spec_fingerprint, data_fingerprint, *docs, onnx, sha, run_id]
    args += [_json(signature or {}), model]

    def insert() -> ModelVersion:
        rows = engine.execute(
            f"insert into {_q(schema)}.model_versions select ?, coalesce(max(version), 0) + 1, "
            "now(), ?, ?, ?, ?::json, ?::json, ?::json, ?::json, ?::json, ?, ?, ?, ?::json "
            f"from {_q(schema)}.model_versions where model = ? returning {_VERSION_COLUMNS}",
            args,
        )
        return _version(rows[0])

    return _write(engine, schema, insert)


def promote(
    engine: Engine,
    schema: str,
    model: str,
    version: int,
    *,
    alias: str = "champion",
    reason: str,
    run_id: str | None = None,
) -> AliasChange:
    """Point ``alias`` of ``model`` at ``version``, recording the move in the history.

    Promoting the version the alias already points to changes nothing and returns its last move.
    """
    if not _ALIAS.fullmatch(alias):
        raise RegistryError(f"invalid alias name {alias!r}", hint="use e.g. champion, challenger")

    def operation() -> AliasChange:
        _resolve(engine, schema, model, version)
        history = _history(engine, schema, model, alias)
        current = _stack(history)[-1] if history else None
        if current == version:
            return history[-1]
        change = (model, alias, "promote", version, current, reason, run_id)
        return _record(engine, schema, change)

    return _write(engine, schema, operation)


def rollback(
    engine: Engine, schema: str, model: str, *, alias: str = "champion", run_id: str | None = None
) -> AliasChange:
    """Undo the last move of ``alias``: point it back where it pointed before that move.

    Repeated rollbacks walk further back through the promotions.
    """

    def operation() -> AliasChange:
        _versions_of(engine, schema, model)
        history = _history(engine, schema, model, alias)
        stack = _stack(history)
        if len(stack) < 2:
            state = f"only ever pointed to version {stack[-1]}" if stack else "never been set"
            raise RegistryError(
                f"nothing to roll back: alias '{alias}' of model '{model}' has {state}",
                node=model,
                hint=f"promote a version instead: `sqlml models promote {model} VERSION`",
            )
        reason = f"rollback from version {stack[-1]}"
        change = (model, alias, "rollback", stack[-2], stack[-1], reason, run_id)
        return _record(engine, schema, change)

    return _write(engine, schema, operation)


def list_models(engine: Engine, schema: str) -> list[ModelSummary]:
    """Every registered model, by name."""
    if (schema.lower(), "model_versions") not in engine.relations():
        return []
    s = _q(schema)
    rows = engine.execute(
        "select model, arg_max(owner, version), max(version), count(*), "
        f"timezone('UTC', max(created_at)) from {s}.model_versions group by model order by model"
    )
    aliases: dict[str, dict[str, int]] = {}
    for model, alias, version in engine.execute(
        f"select model, alias, version from {s}.model_aliases"
    ):
        aliases.setdefault(model, {})[alias] = version
    return [ModelSummary(m, o, v, n, _utc(at), aliases.get(m, {})) for m, o, v, n, at in rows]


def latest_version(engine: Engine, schema: str, model: str) -> ModelVersion | None:
    """The newest version of ``model``, or None when it has none (or nothing is registered)."""
    if (schema.lower(), "model_versions") not in engine.relations():
        return None
    rows = engine.execute(
        f"select {_VERSION_COLUMNS} from {_q(schema)}.model_versions where model = ? "
        "order by version desc limit 1",
        [model],
    )
    return _version(rows[0]) if rows else None


def alias_version(engine: Engine, schema: str, model: str, alias: str) -> int | None:
    """The version ``alias`` of ``model`` points to, or None."""
    if (schema.lower(), "model_aliases") not in engine.relations():
        return None
    rows = engine.execute(
        f"select version from {_q(schema)}.model_aliases where model = ? and alias = ?",
        [model, alias],
    )
    return int(rows[0][0]) if rows else None


def show_model(engine: Engine, schema: str, model: str) -> ModelDetail:
    """One model: its versions, where its aliases point, and every alias move."""

    def read() -> ModelDetail:
        _versions_of(engine, schema, model)
        s = _q(schema)
        rows, pointers, history = (
            engine.execute(
                f"select {columns} from {s}.{table} where model = ? order by {order}", [model]
            )
            for columns, table, order in (
                (_VERSION_COLUMNS, "model_versions", "version"),
                ("alias, version", "model_aliases", "alias"),
                (_HISTORY_COLUMNS, "model_alias_history", "set_at, alias, seq"),
            )
        )
        changes = tuple(_change(r) for r in history)
        return ModelDetail(model, tuple(map(_version, rows)), dict(pointers), changes)

    return _transaction(engine, read)


def load_onnx(engine: Engine, schema: str, model: str, version_or_alias: int | str) -> bytes:
    """The ONNX bytes of a version (a number, or an alias such as ``champion``), verified.

    Raises ScoringError when the model, version or alias does not exist, or when the stored bytes
    no longer match the sha256 recorded at registration.
    """
    try:
        version = _resolve(engine, schema, model, version_or_alias)
    except RegistryError as exc:
        raise ScoringError(exc.message, node=model, hint=exc.hint) from None
    rows = engine.execute(
        f"select onnx, onnx_sha256 from {_q(schema)}.model_versions "
        "where model = ? and version = ?",
        [model, version],
    )
    onnx, expected = bytes(rows[0][0]), rows[0][1]
    actual = hashlib.sha256(onnx).hexdigest()
    if actual != expected:
        raise ScoringError(
            f"model '{model}' version {version}: ONNX bytes do not match their sha256 "
            f"(recorded {expected[:12]}…, found {actual[:12]}…)",
            node=model,
            hint="the stored model was changed after registration and will not be used; "
            f"promote another version (`sqlml models promote {model} VERSION`) or retrain "
            f"(`sqlml train {model}`)",
        )
    return onnx


def _resolve(engine: Engine, schema: str, model: str, version_or_alias: int | str) -> int:
    """The version number meant by a number or an alias; RegistryError saying what exists."""
    versions = _versions_of(engine, schema, model)
    if isinstance(version_or_alias, int) or version_or_alias.isdigit():
        if int(version_or_alias) in versions:
            return int(version_or_alias)
        raise RegistryError(
            f"model '{model}' has no version {version_or_alias}; its versions are "
            + ", ".join(map(str, versions)),
            node=model,
            hint=f"see them with `sqlml models show {model}`",
        )
    rows = engine.execute(
        f"select alias, version from {_q(schema)}.model_aliases where model = ?", [model]
    )
    aliases = dict(rows)
    if version_or_alias in aliases:
        return int(aliases[version_or_alias])
    promote = f"promote a version with `sqlml models promote {model} VERSION`"
    hint = did_you_mean(version_or_alias, aliases) or (
        f"its aliases are {', '.join(sorted(aliases))}" if aliases else f"none yet: {promote}"
    )
    raise RegistryError(f"model '{model}' has no alias '{version_or_alias}'", node=model, hint=hint)


def _versions_of(engine: Engine, schema: str, model: str) -> list[int]:
    """The model's version numbers; RegistryError naming close models when it has none."""
    s = _q(schema)
    if (schema.lower(), "model_versions") in engine.relations():
        rows = engine.execute(
            f"select version from {s}.model_versions where model = ? order by version", [model]
        )
        if rows:
            return [int(v) for (v,) in rows]
        known = [m for (m,) in engine.execute(f"select distinct model from {s}.model_versions")]
    else:
        known = []
    hint = did_you_mean(model, known) or (
        f"registered models: {', '.join(sorted(known))}"
        if known
        else "no model is registered yet: train one with `sqlml run`"
    )
    raise RegistryError(f"no model '{model}' in the registry", node=model, hint=hint)


def _history(engine: Engine, schema: str, model: str, alias: str) -> list[AliasChange]:
    rows = engine.execute(
        f"select {_HISTORY_COLUMNS} from {_q(schema)}.model_alias_history "
        "where model = ? and alias = ? order by seq",
        [model, alias],
    )
    return [_change(r) for r in rows]


def _stack(history: list[AliasChange]) -> list[int]:
    """Replay the alias's moves: a promotion pushes a version, a rollback pops one."""
    stack: list[int] = []
    for change in history:
        if change.action == "rollback":
            stack.pop()
        else:
            stack.append(change.version)
    return stack


def _record(engine: Engine, schema: str, move: tuple[Any, ...]) -> AliasChange:
    """Append ``(model, alias, action, version, previous, reason, run_id)`` and move the alias."""
    s, (model, alias, _, version, _, reason, run_id) = _q(schema), move
    rows = engine.execute(
        f"insert into {s}.model_alias_history select ?, ?, coalesce(max(seq), 0) + 1, ?, ?, ?, "
        f"now(), ?, ? from {s}.model_alias_history where model = ? and alias = ? "
        f"returning {_HISTORY_COLUMNS}",
        [*move, model, alias],
    )
    engine.execute(
        f"insert or replace into {s}.model_aliases values (?, ?, ?, now(), ?, ?)",
        [model, alias, version, reason, run_id],
    )
    return _change(rows[0])


def _write(engine: Engine, schema: str, operation: Callable[[], T]) -> T:
    """Run ``operation`` in one transaction, retrying when a concurrent write conflicts."""
    for attempt in range(_ATTEMPTS):
        try:
            ensure_registry(engine, schema)
            return _transaction(engine, operation)
        except ExecutionError as exc:
            conflict = any(w in exc.message.lower() for w in ("conflict", "duplicate key"))
            if not conflict or attempt == _ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, min(1.0, 0.01 * 2**attempt)))
    raise AssertionError("unreachable")


def _transaction(engine: Engine, operation: Callable[[], T]) -> T:
    """Run ``operation`` in one transaction on this thread's cursor: all of it or nothing."""
    engine.execute("begin transaction")
    try:
        result = operation()
        engine.execute("commit")
    except BaseException:
        # A failed commit has already ended the transaction: nothing is left to roll back.
        with contextlib.suppress(ExecutionError):
            engine.execute("rollback")
        raise
    return result


def _version(row: tuple[Any, ...]) -> ModelVersion:
    model, version, created_at, owner, spec, data = row[:6]
    params, metrics, cv_metrics, importance, parity = (json.loads(d or "{}") for d in row[6:11])
    sha, size, run_id, signature = row[11:]
    return ModelVersion(
        model, int(version), _utc(created_at), owner, spec, data,
        params, metrics, cv_metrics, importance, parity, sha, int(size), run_id,
        json.loads(signature or "{}"),
    )  # fmt: skip


def _change(row: tuple[Any, ...]) -> AliasChange:
    return AliasChange(row[0], row[1], int(row[2]), row[3], row[4], _utc(row[5]), row[6], row[7])


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(_plain(value), sort_keys=True, allow_nan=False, default=str)


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _plain(value.tolist())
    return value


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
