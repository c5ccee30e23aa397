"""A node's configuration: folder defaults and properties, then its template's `config()`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlml.compiler.types import Parsed, Rendered
from sqlml.errors import CompileError, Location, did_you_mean
from sqlml.project.types import IncrementalConfig, ModelSource, NodeConfig


def safe_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Best-effort config of a node whose template failed, for display only."""
    materialized = raw.get("materialized")
    return {
        "materialized": materialized if isinstance(materialized, str) else "table",
        "schema": raw.get("schema"),
        "alias": raw.get("alias"),
        "tags": tuple(raw.get("tags") or ()),
    }


def node_config(
    model: ModelSource, rendered: Rendered, validated: dict[str, NodeConfig]
) -> NodeConfig:
    """Merge the template's `config()` over YAML and folder defaults, validating its keys.

    ``validated`` remembers the config of each raw mapping already validated: most models
    share their folder's, and validating costs more than the rest of linking a model.
    """
    from sqlml.project.schema import CONFIG_KEYS

    raw: dict[str, Any] = dict(model.config)
    for key, value in rendered.config.items():
        if key not in CONFIG_KEYS:
            raise CompileError(
                f"unknown config key '{key}' in config()",
                node=model.name,
                location=Location(model.path, rendered.config_line),
                hint=did_you_mean(key, CONFIG_KEYS) or "valid keys: " + ", ".join(CONFIG_KEYS),
            )
        if key == "tags":
            tags = raw.get("tags") or []
            raw[key] = [
                *tags,
                *[t for t in ([value] if isinstance(value, str) else value) if t not in tags],
            ]
        else:
            raw[key] = value
    memo = repr(raw)
    config = validated.get(memo)
    if config is None:
        config = validated[memo] = _validate_config(model, rendered, raw)
    return config


def _validate_config(model: ModelSource, rendered: Rendered, raw: dict[str, Any]) -> NodeConfig:
    from pydantic import ValidationError

    from sqlml.project.schema import NodeConfigFile

    try:
        spec = NodeConfigFile.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"])
        raise CompileError(
            f"invalid config '{key}': {error['msg']}",
            node=model.name,
            location=Location(model.path, rendered.config_line),
            hint=(error.get("ctx") or {}).get("hint"),
        ) from None
    tags = spec.tags if isinstance(spec.tags, list) else [spec.tags] if spec.tags else []
    incremental = None
    if spec.materialized == "incremental":
        incremental = _incremental_config(model, rendered, spec)
    return NodeConfig(
        materialized=spec.materialized or "table",
        schema=spec.schema_,
        alias=spec.alias,
        tags=tuple(tags),
        enabled=True if spec.enabled is None else spec.enabled,
        meta=spec.meta or {},
        contract=spec.contract is not None and spec.contract.enforced,
        incremental=incremental,
        schedule=spec.schedule,
    )


def _incremental_config(model: ModelSource, rendered: Rendered, spec: Any) -> IncrementalConfig:
    """The incremental settings of a model, checked for what its strategy needs.

    The strategy defaults to time_range when ``event_time`` is set, merge when ``unique_key``
    is, and append otherwise.
    """
    key = spec.unique_key
    unique_key = tuple([key] if isinstance(key, str) else key or ())
    strategy = spec.incremental_strategy or (
        "time_range" if spec.event_time else "merge" if unique_key else "append"
    )

    def fail(message: str, hint: str) -> CompileError:
        return CompileError(
            f"incremental model '{model.name}': {message}",
            node=model.name,
            location=Location(model.path, rendered.config_line),
            hint=hint + " (in config() or the model's properties)",
        )

    if strategy in ("merge", "delete+insert") and not unique_key:
        raise fail(f"strategy {strategy} needs a unique_key", "set unique_key: a column or a list")
    if strategy == "time_range":
        if not spec.event_time:
            raise fail("strategy time_range needs event_time", "set event_time: a column")
        if spec.begin is None:
            raise fail(
                "strategy time_range needs begin, where its first batch starts",
                "set begin: e.g. '2026-01-01'",
            )
    begin = spec.begin
    if isinstance(begin, date) and not isinstance(begin, datetime):
        begin = datetime(begin.year, begin.month, begin.day)
    if begin is not None and begin.tzinfo is not None:
        begin = begin.astimezone(UTC).replace(tzinfo=None)
    return IncrementalConfig(
        strategy=strategy,
        unique_key=unique_key,
        on_schema_change=spec.on_schema_change or "ignore",
        event_time=spec.event_time,
        batch_size=spec.batch_size or "day",
        begin=begin,
        lookback=spec.lookback or 0,
        batches_per_query=spec.batches_per_query,
    )


def check_incremental(
    name: str,
    path: str,
    config: NodeConfig,
    sql: str,
    incremental_sql: str,
    parsed: Mapping[str, Parsed],
) -> CompileError | None:
    """What is wrong with a model's incremental settings given its SQL, or None.

    Batch bounds belong to time_range models; the key and event-time columns must be among
    the model's columns when those are known (no ``*`` in the select list).
    """
    from sqlml.batch import BATCH_END, BATCH_START

    incremental = config.incremental
    uses_bounds = any(
        bound in text for bound in (BATCH_START, BATCH_END) for text in (sql, incremental_sql)
    )
    if uses_bounds and (incremental is None or incremental.strategy != "time_range"):
        return CompileError(
            f"model '{name}' uses {{{{ start }}}} or {{{{ end }}}}, which only time_range "
            "incremental models have",
            node=name,
            location=Location(path),
            hint="set materialized: incremental, incremental_strategy: time_range and "
            "event_time, or remove them",
        )
    columns = parsed[name].columns if name in parsed else ()
    if incremental is None or not columns:
        return None
    known = {c.lower() for c in columns}
    needed = [
        *incremental.unique_key,
        *([incremental.event_time] if incremental.event_time else []),
    ]
    missing = [c for c in needed if c.lower() not in known]
    if missing:
        role = "event_time" if missing[0] == incremental.event_time else "unique_key"
        return CompileError(
            f"incremental model '{name}': {role} column '{missing[0]}' is not among its columns",
            node=name,
            location=Location(path),
            hint=did_you_mean(missing[0], columns) or "columns: " + ", ".join(columns),
        )
    return None
