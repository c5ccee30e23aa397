"""Stage 2: `Project` → `CompiledProject`: render, resolve refs, parse, cross-check, fingerprint."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlml.compiler.cache import CompileCache, forget_written, load_cache, save_cache
from sqlml.compiler.link import (
    check_refs,
    cross_check,
    cte_name,
    fingerprint,
    inline_ephemerals,
    resolve,
)
from sqlml.compiler.render import JinjaRenderer, RenderContext, recording_env_reads, render_fast
from sqlml.compiler.snapshot import (
    SNAPSHOT_FILE,
    Nodes,
    inputs_key,
    load_snapshot,
    nodes_key,
    save_snapshot,
)
from sqlml.compiler.sqlparse import parse_sql
from sqlml.compiler.statics import static_nodes
from sqlml.compiler.testnodes import (
    TEST_CONFIG,
    build_test_nodes,
    failures_relation,
    singular_spec,
)
from sqlml.compiler.types import CompiledNode, CompiledProject, Parsed, Relation, Rendered
from sqlml.compiler.writer import CompiledFiles
from sqlml.errors import CompileError, GraphError, Location, SqlmlError, did_you_mean
from sqlml.graph.dag import build_dag
from sqlml.project.types import ModelSource, NodeConfig, Project

CACHE_FILE = ".cache/compile.pickle"
Write = Callable[[Path, str, str], None]  # (path, sql, cache key)


def compile_project(project: Project, *, use_cache: bool = True) -> CompiledProject:
    """Compile every node: render models and singular tests once, resolve `ref()`/`source()`,
    parse and cross-check their SQL; write the queries that land seeds and sources, and the
    queries of data tests.

    Writes the SQL of each node under ``target/compiled/``. With ``use_cache``, unchanged
    templates are neither rendered nor parsed again, and when nothing the compile reads has
    changed since the last compile without errors, its nodes are loaded whole and nothing is
    written (see `sqlml.compiler.snapshot`).

    A node that fails (template or SQL error, unknown ref, undeclared table) carries its error
    and the rest of the project compiles, so a run can still build what does not depend on it.
    A dependency cycle raises GraphError.
    """
    snapshot_path = project.target_dir / SNAPSHOT_FILE
    key = inputs_key(project) if use_cache else None
    if key is not None:
        nodes = load_snapshot(snapshot_path, key, project.target_dir / CACHE_FILE)
        if nodes is not None:
            return CompiledProject(project, nodes)
    # This compile rewrites compiled files: a snapshot of other inputs must not outlive them.
    snapshot_path.unlink(missing_ok=True)
    with recording_env_reads() as env_reads:
        compiled, folders = _compile(project, use_cache, env_reads)
    assert isinstance(compiled.nodes, Nodes)
    if key is not None and not compiled.errors:
        compiled.nodes.inputs_key = nodes_key(key, env_reads)
        save_snapshot(
            snapshot_path, key, env_reads, folders, compiled.nodes, project.target_dir / CACHE_FILE
        )
    return compiled


def _compile(
    project: Project, use_cache: bool, env_reads: dict[str, str | None]
) -> tuple[CompiledProject, set[str]]:
    """The whole compile; returns the compiled project and the folders of its files."""
    cache = (
        load_cache(project.target_dir / CACHE_FILE, project.environment_hash)
        if use_cache
        else CompileCache(project.environment_hash)
    )
    renderer = _LazyRenderer(project)
    templates = [*project.models, *_singular_templates(project)]
    kinds = {t.name: "model" for t in project.models}
    kinds.update({t.name: "test" for t in templates[len(project.models) :]})
    rendered: dict[str, Rendered] = {}
    configs: dict[str, NodeConfig] = {}
    errors: dict[str, SqlmlError] = {}
    renders = 0
    validated: dict[str, NodeConfig] = {}
    jinja = renderer.get() if project.macros else None
    for model in templates:
        digest = hashlib.sha256(model.sql.encode()).hexdigest()
        result = cache.render(model.path, digest)
        ctx = RenderContext(model.name, model.path, project.vars)
        try:
            if result is None:
                renders += 1
                result = render_fast(ctx, model.sql, jinja)
                if result is None:
                    ctx = RenderContext(model.name, model.path, project.vars)
                    result = renderer.get().render(ctx, model.sql)
                cache.store_render(model.path, digest, result)
            env_reads.update(result.env_vars)
            if kinds[model.name] == "model":
                config = _node_config(model, result, validated)
            else:
                config = TEST_CONFIG
        except SqlmlError as exc:
            _place(exc, model.name)
            errors[model.name] = exc
            # What the template said of itself before failing still counts (e.g. ephemeral).
            configs[model.name] = NodeConfig(**_safe_config({**model.config, **ctx.config}))
            continue
        if config.enabled:
            rendered[model.name] = result
            configs[model.name] = config
    configs = {n: c for n, c in configs.items() if c.enabled}

    database = project.target.database
    relations = {
        name: Relation(config.schema or project.target.schema, config.alias or name, database)
        for name, config in configs.items()
        if kinds[name] == "model"
    }
    static = static_nodes(project, renderer.get)
    relations.update({node.name: node.relation for node in static})
    refable = {name for name in relations if "." not in name}  # models and seeds
    disabled = {m.name for m in project.models} - set(configs)
    ephemeral = {name for name, config in configs.items() if config.materialized == "ephemeral"}
    sources = {t.name: t for t in templates}
    files = CompiledFiles(cache.written)
    folders: set[str] = set()

    def write(path: Path, sql: str, key: str) -> None:
        files.write(path, sql, key)
        folders.add(str(path.parent))

    try:
        bodies, parsed, parses, keep = _link(
            project,
            rendered,
            kinds,
            sources,
            relations,
            refable,
            disabled,
            ephemeral,
            errors,
            cache,
            write,
        )
        depends = {
            name: tuple(dict.fromkeys(c.node for c in result.refs if c.node in relations))
            for name, result in rendered.items()
        }
        for name in errors:
            depends.setdefault(name, ())
        prebuilt = {node.name: node for node in static}
        for node in build_test_nodes(project, relations, renderer.get, taken=set(relations)):
            prebuilt[node.name] = node
        for node in prebuilt.values():
            depends[node.name] = node.depends_on
            if node.sql:
                # compiled_path starts with the target folder's name
                write(project.target_dir.parent / node.compiled_path, node.sql, node.compiled_path)
        try:
            dag = build_dag(depends)
        except GraphError as exc:
            if exc.node in sources:
                exc.location = Location(sources[exc.node].path)
            for name, sql in bodies.items():  # the files not written yet, as they render
                if any(p in ephemeral for p in depends[name]):
                    path = sources[name].path
                    write(project.target_dir / "compiled" / path, sql, path)
            raise
        nodes = Nodes()
        for name in dag.order:
            parents = [nodes[p].fingerprint for p in depends[name]]
            if name in prebuilt:
                node = prebuilt[name]
                nodes[name] = replace(
                    node,
                    fingerprint=fingerprint(node.sql, node.config, [node.fingerprint, *parents])
                    if node.error is None
                    else "",
                )
                continue
            nodes[name] = _model_node(
                project,
                name,
                sources[name],
                kinds[name],
                configs[name],
                depends,
                bodies,
                parsed,
                errors,
                nodes,
                ephemeral,
                relations,
                parents,
                write,
            )
    finally:
        written = files.close()
    if written:
        cache.written.update(written)
        cache.dirty = True
    if use_cache:
        save_cache(cache, project.target_dir / CACHE_FILE, keep)
    elif written:
        forget_written(project.target_dir / CACHE_FILE, written)
    return CompiledProject(project, nodes, rendered=renders, parsed=parses), folders


def _link(
    project: Project,
    rendered: Mapping[str, Rendered],
    kinds: Mapping[str, str],
    sources: Mapping[str, ModelSource],
    relations: Mapping[str, Relation],
    refable: set[str],
    disabled: set[str],
    ephemeral: set[str],
    errors: dict[str, SqlmlError],
    cache: CompileCache,
    write: Write,
) -> tuple[dict[str, str], dict[str, Parsed], int, set[str]]:
    """Resolve, write, parse and cross-check every rendered node; failures go to ``errors``.

    Returns each node's own SQL and parse, how many texts were parsed, and the digests of the
    parses in use. A node that reads an ephemeral model is written later, with it inlined.
    """
    compiled_root = project.target_dir / "compiled"
    bodies: dict[str, str] = {}
    parsed: dict[str, Parsed] = {}
    keep: set[str] = set()
    parses = 0
    for name, result in rendered.items():
        model = sources[name]
        compiled_path = _compiled_path(project, model.path)
        try:
            check_refs(model, kinds[name], result, relations, refable, disabled)
            sql = resolve(result.text, relations, ephemeral, name)
            if not any(c.node in ephemeral for c in result.refs):
                write(compiled_root / model.path, sql, model.path)
            bodies[name] = sql
            sql_digest = hashlib.sha256(sql.encode()).hexdigest()
            keep.add(sql_digest)
            parse = cache.parses.get(sql_digest)
            if parse is None:
                parses += 1
                parse = parse_sql(
                    sql, node=name, compiled_path=compiled_path, source_path=model.path
                )
                cache.store_parse(sql_digest, parse)
            cross_check(model, result, parse, sql, relations, ephemeral, compiled_path)
        except SqlmlError as exc:
            _place(exc, name)
            errors[name] = exc
            continue
        parsed[name] = parse
    return bodies, parsed, parses, keep


def _model_node(
    project: Project,
    name: str,
    model: ModelSource,
    kind: str,
    config: NodeConfig,
    depends: Mapping[str, tuple[str, ...]],
    bodies: Mapping[str, str],
    parsed: Mapping[str, Parsed],
    errors: Mapping[str, SqlmlError],
    nodes: Mapping[str, CompiledNode],
    ephemeral: set[str],
    relations: Mapping[str, Relation],
    parents: list[str],
    write: Write,
) -> CompiledNode:
    """A model or singular test as a node, its ephemeral parents inlined into its SQL."""
    error = errors.get(name)
    failed_ephemeral = next(
        (p for p in depends[name] if p in ephemeral and nodes[p].error is not None), None
    )
    if error is None and failed_ephemeral is not None:
        error = CompileError(
            f"model '{name}' inlines ephemeral model '{failed_ephemeral}', which failed",
            node=name,
            location=Location(model.path),
            hint=f"fix '{failed_ephemeral}' first",
        )
    sql = ""
    if error is None:
        sql = inline_ephemerals(name, bodies, depends, ephemeral, parsed)
    if name in bodies and any(p in ephemeral for p in depends[name]):
        # Not written yet: the file holds what runs, or the node's own SQL if it failed.
        write(project.target_dir / "compiled" / model.path, sql or bodies[name], model.path)
    return CompiledNode(
        name=name,
        kind=kind,
        path=model.path,
        config=config,
        relation=_own_relation(name, kind, relations, ephemeral, project),
        sql=sql,
        body_sql=bodies.get(name, ""),
        depends_on=depends[name],
        columns=parsed[name].columns if name in parsed else (),
        declared_columns=model.columns,
        description=model.description,
        fingerprint="" if error else fingerprint(sql, config, parents),
        compiled_path=_compiled_path(project, model.path),
        error=error,
        spec=singular_spec(name) if kind == "test" else None,
    )


def _singular_templates(project: Project) -> list[ModelSource]:
    """Singular data tests render like models: a query, here returning failing rows."""
    return [
        ModelSource(name=t.name or "", path=t.path, sql=t.sql or "", config={})
        for t in project.data_tests
        if t.sql is not None
    ]


def _own_relation(
    name: str, kind: str, relations: Mapping[str, Relation], ephemeral: set[str], project: Project
) -> Relation:
    if kind == "test":
        return failures_relation(project, name)
    return relations[name] if name not in ephemeral else Relation("", cte_name(name))


class _LazyRenderer:
    """Builds the Jinja environment only when some template needs it."""

    def __init__(self, project: Project) -> None:
        self._project = project
        self._renderer: JinjaRenderer | None = None

    def get(self) -> JinjaRenderer:
        if self._renderer is None:
            project = self._project
            self._renderer = JinjaRenderer(
                tuple((m.path, m.sql) for m in project.macros),
                {
                    "target": {
                        "name": project.target.name,
                        "schema": project.target.schema,
                        "type": project.target.type,
                    },
                    "project_name": project.name,
                },
            )
        return self._renderer


def _compiled_path(project: Project, path: str) -> str:
    return f"{project.target_dir.name}/compiled/{path}"


def _place(error: SqlmlError, node: str) -> None:
    if error.node is None:
        error.node = node


def _safe_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Best-effort config of a node whose template failed, for display only."""
    materialized = raw.get("materialized")
    return {
        "materialized": materialized if isinstance(materialized, str) else "table",
        "schema": raw.get("schema"),
        "alias": raw.get("alias"),
        "tags": tuple(raw.get("tags") or ()),
    }


def _node_config(
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
