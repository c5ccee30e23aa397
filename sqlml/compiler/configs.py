"""A node's configuration: folder defaults and properties, then its template's `config()`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlml.compiler.types import Rendered
from sqlml.errors import CompileError, Location, did_you_mean
from sqlml.project.types import ModelSource, NodeConfig


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
        ) from None
    tags = spec.tags if isinstance(spec.tags, list) else [spec.tags] if spec.tags else []
    return NodeConfig(
        materialized=spec.materialized or "table",
        schema=spec.schema_,
        alias=spec.alias,
        tags=tuple(tags),
        enabled=True if spec.enabled is None else spec.enabled,
        meta=spec.meta or {},
        contract=spec.contract is not None and spec.contract.enforced,
    )
