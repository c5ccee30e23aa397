"""The loaded project: validated configuration and the source text of every node."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class NodeConfig:
    """A node's effective configuration after every level of defaults is applied."""

    materialized: str = "table"
    schema: str | None = None
    alias: str | None = None
    tags: tuple[str, ...] = ()
    enabled: bool = True
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """Where the project builds: a warehouse connection and its default schema."""

    name: str
    type: str
    path: Path
    schema: str
    threads: int | None = None
    database: str = ""  # the catalog name the engine gives the warehouse


@dataclass(frozen=True)
class Column:
    name: str
    description: str | None = None
    data_type: str | None = None


@dataclass(frozen=True)
class ModelSource:
    """One SQL model as found on disk, with configuration from YAML and folder defaults.

    ``config`` holds the raw keys gathered so far (folder defaults, then the properties file);
    the compiler adds the template's own ``config()`` call on top and validates the result.
    """

    name: str
    path: str  # project-relative, POSIX separators
    sql: str
    config: Mapping[str, Any]
    description: str | None = None
    columns: tuple[Column, ...] = ()
    properties_path: str | None = None


@dataclass(frozen=True)
class MacroFile:
    path: str
    sql: str


@dataclass(frozen=True)
class Project:
    """Everything read from a project directory, validated, with no warehouse involved."""

    root: Path
    name: str
    target: Target
    vars: Mapping[str, Any]
    models: tuple[ModelSource, ...]
    macros: tuple[MacroFile, ...]
    target_dir: Path
    state_schema: str
    # Hash of everything besides a model's own file that can change how it renders:
    # project.yml, properties files, macros, target and vars. Keys the render cache.
    environment_hash: str
    # Problems worth telling the user that do not stop anything (e.g. config for no folder).
    warnings: tuple[str, ...] = ()
