"""A snapshot's configuration: how its history is kept, checked before anything runs.

A snapshot's select is rendered, resolved and cross-checked like a model's; this module turns
its config (folder defaults, properties, then the template's `config()`) into a `NodeConfig`
with ``materialized="snapshot"`` and a `SnapshotSpec`, the node's spec, which the runner's
snapshot materialization reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlml.compiler.types import Rendered
from sqlml.errors import CompileError, Location, did_you_mean
from sqlml.project.types import ModelSource, NodeConfig
from sqlml.snapshotspec import RESERVED_PREFIX, SnapshotSpec

SNAPSHOT_KEYS = (
    "unique_key",
    "strategy",
    "updated_at",
    "check_cols",
    "hard_deletes",
    "schema",
    "alias",
    "tags",
    "enabled",
    "description",
    "meta",
)


def snapshot_config(model: ModelSource, rendered: Rendered) -> tuple[NodeConfig, SnapshotSpec]:
    """Merge the template's `config()` over YAML and folder defaults; validate the result.

    Raises CompileError naming the file and the fix when a key is unknown, a strategy lacks
    its column, or the unique key is missing.
    """
    from pydantic import ValidationError

    from sqlml.project.schema import SnapshotConfigFile

    raw: dict[str, Any] = dict(model.config)
    where = Location(model.path, rendered.config_line)
    for key, value in rendered.config.items():
        if key not in SNAPSHOT_KEYS:
            raise CompileError(
                f"unknown snapshot config key '{key}' in config()",
                node=model.name,
                location=where,
                hint=did_you_mean(key, SNAPSHOT_KEYS) or "valid keys: " + ", ".join(SNAPSHOT_KEYS),
            )
        if key == "tags":
            tags = list(raw.get("tags") or [])
            new = [value] if isinstance(value, str) else list(value)
            raw[key] = [*tags, *[t for t in new if t not in tags]]
        else:
            raw[key] = value
    try:
        spec = SnapshotConfigFile.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"])
        raise CompileError(
            f"invalid snapshot config '{key}': {error['msg']}", node=model.name, location=where
        ) from None
    yaml_hint = f"set it in config() in {model.path} or under `snapshots:` in a properties file"
    if not spec.unique_key:
        raise CompileError(
            f"snapshot '{model.name}' has no unique_key",
            node=model.name,
            location=where,
            hint=f"name the column (or list of columns) that identifies a row; {yaml_hint}",
        )
    if spec.strategy is None:
        raise CompileError(
            f"snapshot '{model.name}' has no strategy",
            node=model.name,
            location=where,
            hint="strategy: timestamp (with updated_at: COLUMN) or strategy: check "
            f"(with check_cols: [COLUMNS] or all); {yaml_hint}",
        )
    if spec.strategy == "timestamp" and not spec.updated_at:
        raise CompileError(
            f"snapshot '{model.name}' uses the timestamp strategy without updated_at",
            node=model.name,
            location=where,
            hint="updated_at: the column whose growth means the row changed",
        )
    if spec.strategy == "check" and spec.updated_at:
        raise CompileError(
            f"snapshot '{model.name}' sets updated_at, which only the timestamp strategy uses",
            node=model.name,
            location=where,
            hint="remove updated_at (the check strategy dates versions by the run), or use "
            "strategy: timestamp",
        )
    if spec.strategy == "timestamp" and spec.check_cols:
        raise CompileError(
            f"snapshot '{model.name}' sets check_cols, which only the check strategy uses",
            node=model.name,
            location=where,
            hint="remove check_cols, or use strategy: check",
        )
    if spec.strategy == "check" and not spec.check_cols:
        raise CompileError(
            f"snapshot '{model.name}' uses the check strategy without check_cols",
            node=model.name,
            location=where,
            hint="check_cols: [COLUMNS] to compare, or check_cols: all",
        )
    keys = [spec.unique_key] if isinstance(spec.unique_key, str) else spec.unique_key
    tags = spec.tags if isinstance(spec.tags, list) else [spec.tags] if spec.tags else []
    config = NodeConfig(
        materialized="snapshot",
        schema=spec.schema_,
        alias=spec.alias,
        tags=tuple(tags),
        enabled=True if spec.enabled is None else spec.enabled,
        meta=spec.meta or {},
    )
    return config, SnapshotSpec(
        unique_key=tuple(dict.fromkeys(keys)),
        strategy=spec.strategy,
        updated_at=spec.updated_at if spec.strategy == "timestamp" else None,
        check_cols=None
        if spec.strategy != "check" or spec.check_cols == "all"
        else tuple(dict.fromkeys(spec.check_cols or ())),
        hard_deletes=spec.hard_deletes or "ignore",
        path=model.path,
    )


def check_snapshot_columns(
    name: str, spec: SnapshotSpec, columns: Sequence[str], compiled_path: str
) -> None:
    """When the select's output columns are known, every column the config names must be one
    of them, and none may use the prefix of sqlml's own columns."""
    if not columns:
        return  # e.g. select *: checked when the snapshot runs
    known = {c.lower(): c for c in columns}
    for column in columns:
        if column.lower().startswith(RESERVED_PREFIX):
            raise snapshot_column_error(name, spec, f"its select returns column '{column}'")
    named = [*spec.unique_key, *([spec.updated_at] if spec.updated_at else [])]
    for column in [*named, *(spec.check_cols or ())]:
        if column.lower() not in known:
            raise CompileError(
                f"snapshot '{name}' names column '{column}', which its select does not return",
                node=name,
                location=Location(spec.path),
                hint=did_you_mean(column, list(known.values()))
                or f"columns of the select: {', '.join(columns)} (see {compiled_path})",
            )


def snapshot_column_error(name: str, spec: SnapshotSpec, what: str) -> CompileError:
    return CompileError(
        f"snapshot '{name}': {what}, but columns starting with '{RESERVED_PREFIX}' are sqlml's own",
        node=name,
        location=Location(spec.path),
        hint="rename the column in the select (e.g. with `as`)",
    )


def spec_digest_parts(spec: SnapshotSpec | None) -> list[str]:
    """What of the spec goes into the node's fingerprint: a change of key or strategy is a
    change of the snapshot."""
    if spec is None:
        return []
    return [
        repr((spec.unique_key, spec.strategy, spec.updated_at, spec.check_cols, spec.hard_deletes))
    ]
