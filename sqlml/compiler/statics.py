"""Nodes that need no rendering: seeds and sources, each landing one table."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlml.compiler.fastrender import render_fast
from sqlml.compiler.render import JinjaRenderer
from sqlml.compiler.rendercontext import RenderContext
from sqlml.compiler.types import CompiledNode
from sqlml.errors import SqlmlError
from sqlml.loads import seed_sql, source_sql
from sqlml.project.types import NodeConfig, Project, SeedSource, SourceTable
from sqlml.relation import Relation

# How a source is landed, by loader: DuckDB reads files itself (a plain table build); the rest
# go through a loader function in the runner; None means the table is already there.
_SOURCE_MATERIALIZATION = {
    "file": "table",
    "duckdb": "source",
    "sqlite": "source",
    "postgres": "source",
    "python": "source",
    None: "existing",
}


def static_nodes(project: Project, renderer: Callable[[], JinjaRenderer]) -> list[CompiledNode]:
    """Seeds and sources as compiled nodes (fingerprints are filled in by the compiler)."""
    return [
        *(_seed(project, s) for s in project.seeds),
        *(_source(project, t, renderer) for t in project.sources),
    ]


def _seed(project: Project, seed: SeedSource) -> CompiledNode:
    sql = seed_sql(seed)
    content = hashlib.sha256((project.root / seed.path).read_bytes()).hexdigest()
    return CompiledNode(
        name=seed.name,
        kind="seed",
        path=seed.path,
        config=NodeConfig(
            materialized="table",
            schema=seed.schema,
            alias=seed.alias,
            tags=seed.tags,
            meta=seed.meta,
        ),
        relation=Relation(
            seed.schema or project.target.schema, seed.alias or seed.name, project.target.database
        ),
        sql=sql,
        body_sql=sql,
        depends_on=(),
        columns=tuple(c.name for c in seed.columns),
        declared_columns=seed.columns,
        description=seed.description,
        fingerprint=content,  # the data is part of what the seed is
        compiled_path=f"{project.target_dir.name}/compiled/{seed.path}.sql",
        spec=seed,
    )


def _source(
    project: Project, table: SourceTable, renderer: Callable[[], JinjaRenderer]
) -> CompiledNode:
    error: SqlmlError | None = None
    sql = ""
    try:
        table = replace(table, settings=_render_settings(project, table, renderer))
        sql = source_sql(table)
    except SqlmlError as exc:
        exc.node = exc.node or table.node_name
        error = exc
    return CompiledNode(
        name=table.node_name,
        kind="source",
        path=table.path,
        config=NodeConfig(
            materialized=_SOURCE_MATERIALIZATION[table.loader],
            schema=table.schema,
            tags=table.tags,
            schedule=table.schedule,
        ),
        relation=Relation(table.schema, table.identifier, project.target.database),
        sql=sql,
        body_sql=sql,
        depends_on=(),
        columns=tuple(c.name for c in table.columns),
        declared_columns=table.columns,
        description=table.description,
        fingerprint=hashlib.sha256(repr(sorted(table.settings.items())).encode()).hexdigest(),
        compiled_path=f"{project.target_dir.name}/compiled/sources/{table.source}/{table.name}.sql",
        spec=table,
        error=error,
    )


def _render_settings(
    project: Project, table: SourceTable, renderer: Callable[[], JinjaRenderer]
) -> dict[str, Any]:
    """Render `{{ var() }}` / `{{ env_var() }}` in a source's string settings (paths, URIs)."""

    def render(value: Any) -> Any:
        if isinstance(value, str) and "{" in value:
            ctx = RenderContext(table.node_name, table.path, project.vars)
            rendered = render_fast(ctx, value) or renderer().render(ctx, value)
            return rendered.text
        if isinstance(value, dict):
            return {k: render(v) for k, v in value.items()}
        return value

    return {key: render(value) for key, value in table.settings.items()}
