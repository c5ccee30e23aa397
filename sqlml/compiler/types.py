"""Values produced by the compiler."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlml.errors import SqlmlError
from sqlml.project.types import Column, NodeConfig, Project

# Compiled nodes carry relations; the type itself is shared with the engine and the runner.
from sqlml.relation import Relation as Relation


@dataclass(frozen=True)
class Call:
    """A `ref()` or `source()` call made while rendering, with its place in the source file.

    ``args`` are the call's arguments; ``node`` is the name of the node it points at
    (a model or seed name, or ``source.table`` for sources).
    """

    args: tuple[str, ...]
    line: int = 0
    column: int = 0
    kind: str = "ref"

    @property
    def node(self) -> str:
        return ".".join(self.args)

    def __str__(self) -> str:
        return f"{self.kind}(" + ", ".join(f"'{a}'" for a in self.args) + ")"


@dataclass(frozen=True)
class Rendered:
    """What rendering one template produced. Relations are still placeholders in ``text``."""

    text: str
    refs: tuple[Call, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    config_line: int = 0
    env_vars: Mapping[str, str | None] = field(default_factory=dict)
    # The text with is_incremental() true; None when the template never asked (same text).
    incremental_text: str | None = None


@dataclass(frozen=True)
class TableRead:
    """A table the parsed SQL reads, as written, with its position in the rendered SQL."""

    schema: str
    name: str
    line: int
    column: int
    length: int = 1  # characters the reference spans, schema included
    catalog: str = ""


@dataclass(frozen=True)
class FunctionCall:
    """A call of a ``predict_<model>`` function in the parsed SQL, with its position."""

    name: str  # as written
    line: int
    column: int


@dataclass(frozen=True)
class Parsed:
    """What the compiler needs from parsing a node's SQL."""

    tables: tuple[TableRead, ...]
    columns: tuple[str, ...]  # output columns, empty when unknown (e.g. SELECT *)
    starts_with_cte: bool
    predicts: tuple[FunctionCall, ...] = ()  # calls of predict_<model>(...): ML parents


@dataclass(frozen=True)
class CompiledNode:
    """A node ready to plan: final SQL, dependencies, configuration and fingerprint."""

    name: str
    kind: str
    path: str
    config: NodeConfig
    relation: Relation
    sql: str  # what runs in the warehouse, ephemeral parents inlined as CTEs
    body_sql: str  # the node's own rendered SQL, as inlined into others when ephemeral
    depends_on: tuple[str, ...]
    columns: tuple[str, ...]
    declared_columns: tuple[Column, ...]
    description: str | None
    fingerprint: str
    compiled_path: str
    # Set when this node failed to compile; the rest of the project still compiles and runs.
    error: SqlmlError | None = None
    # What only this kind of node needs: the seed, the source table, the data test.
    spec: Any = None
    # Incremental models: what runs when the table exists (is_incremental() true).
    incremental_sql: str = ""

    @property
    def tags(self) -> tuple[str, ...]:
        return self.config.tags


def incremental_path(compiled_path: str) -> str:
    """Where the is_incremental() variant of a compiled model is written."""
    return compiled_path.removesuffix(".sql") + ".incremental.sql"


@dataclass(frozen=True)
class CompiledProject:
    project: Project
    nodes: Mapping[str, CompiledNode]

    @property
    def errors(self) -> dict[str, SqlmlError]:
        return {n: node.error for n, node in self.nodes.items() if node.error is not None}

    # How many templates were rendered and SQL texts parsed (the rest came from the cache).
    rendered: int = 0
    parsed: int = 0
