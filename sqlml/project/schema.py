"""Pydantic models of the files a project is made of: `project.yml` and model property files.

These exist only to validate what users write; everything past the loader works with the frozen
dataclasses in `sqlml.project.types`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Materialization = Literal["view", "table", "ephemeral"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeConfigFile(_Strict):
    """Config a model may set in YAML, in `project.yml` (as `+key`) or with `{{ config() }}`."""

    materialized: Materialization | None = None
    schema_: str | None = Field(default=None, alias="schema")
    alias: str | None = None
    tags: list[str] | str | None = None
    enabled: bool | None = None
    description: str | None = None
    meta: dict[str, Any] | None = None


class TargetFile(_Strict):
    type: Literal["duckdb"] = "duckdb"
    path: str = "warehouse.duckdb"
    schema_: str = Field(default="main", alias="schema")
    threads: int | None = Field(default=None, ge=1)


class PathsFile(_Strict):
    models: list[str] = ["models"]
    macros: list[str] = ["macros"]
    target: str = "target"


class ProjectFile(_Strict):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    target: str = "dev"
    targets: dict[str, TargetFile] = {"dev": TargetFile()}
    vars: dict[str, Any] = {}
    paths: PathsFile = PathsFile()
    state_schema: str = "_sqlml"
    # Per-folder defaults: "+key" entries are config, other keys are sub-folders.
    models: dict[str, Any] = {}


class ColumnFile(_Strict):
    name: str
    description: str | None = None
    data_type: str | None = None


class ModelPropertiesFile(_Strict):
    name: str
    description: str | None = None
    config: NodeConfigFile = NodeConfigFile()
    columns: list[ColumnFile] = []


class PropertiesFile(_Strict):
    version: int | None = None
    models: list[ModelPropertiesFile] = []


CONFIG_KEYS = ("materialized", "schema", "alias", "tags", "enabled", "description", "meta")
