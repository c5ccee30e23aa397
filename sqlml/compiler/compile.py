"""Stage 2: `Project` → `CompiledProject`: render, resolve refs, parse, cross-check, fingerprint."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlml.compiler.cache import CompileCache, load_cache, save_cache
from sqlml.compiler.render import (
    PLACEHOLDER_RE,
    THIS,
    JinjaRenderer,
    RenderContext,
    render_fast,
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
from sqlml.errors import CompileError, GraphError, Location, SqlmlError, did_you_mean, underline
from sqlml.graph.dag import build_dag
from sqlml.project.types import ModelSource, NodeConfig, Project

CACHE_FILE = ".cache/compile.pickle"
_TRAILING_SEMICOLONS = re.compile(r"[\s;]*;\s*$")
_LEADING_WITH = re.compile(
    r"^(\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*)with(\s+recursive)?\b", re.I | re.S
)


def compile_project(project: Project, *, use_cache: bool = True) -> CompiledProject:
    """Compile every node: render models and singular tests once, resolve `ref()`/`source()`,
    parse and cross-check their SQL; write the queries that land seeds and sources, and the
    queries of data tests.

    Writes the SQL of each node under ``target/compiled/``. Unchanged templates are neither
    rendered nor parsed again when ``use_cache`` is set.

    A node that fails (template or SQL error, unknown ref, undeclared table) carries its error
    and the rest of the project compiles, so a run can still build what does not depend on it.
    A dependency cycle raises GraphError.
    """
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
    for model in templates:
        digest = hashlib.sha256(model.sql.encode()).hexdigest()
        result = cache.render(model.path, digest)
        ctx = RenderContext(model.name, model.path, project.vars)
        try:
            if result is None:
                renders += 1
                result = render_fast(ctx, model.sql)
                if result is None:
                    ctx = RenderContext(model.name, model.path, project.vars)
                    result = renderer.get().render(ctx, model.sql)
                cache.store_render(model.path, digest, result)
            config = _node_config(model, result) if kinds[model.name] == "model" else TEST_CONFIG
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
    compiled_root = project.target_dir / "compiled"
    bodies: dict[str, str] = {}
    parsed: dict[str, Parsed] = {}
    keep: set[str] = set()
    parses = 0
    for name, result in rendered.items():
        model = sources[name]
        compiled_path = _compiled_path(project, model.path)
        try:
            _check_refs(model, kinds[name], result, relations, refable, disabled)
            sql = _resolve(result.text, relations, ephemeral, name)
            _write(compiled_root / model.path, sql, model.path, cache)
            sql_digest = hashlib.sha256(sql.encode()).hexdigest()
            keep.add(sql_digest)
            parse = cache.parses.get(sql_digest)
            if parse is None:
                parses += 1
                parse = parse_sql(
                    sql, node=name, compiled_path=compiled_path, source_path=model.path
                )
                cache.store_parse(sql_digest, parse)
            _cross_check(model, result, parse, sql, relations, ephemeral, compiled_path)
        except SqlmlError as exc:
            _place(exc, name)
            errors[name] = exc
            continue
        bodies[name], parsed[name] = sql, parse

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
            _write(
                project.target_dir.parent / node.compiled_path, node.sql, node.compiled_path, cache
            )
    try:
        dag = build_dag(depends)
    except GraphError as exc:
        if exc.node in sources:
            exc.location = Location(sources[exc.node].path)
        raise
    nodes: dict[str, CompiledNode] = {}
    for name in dag.order:
        parents = [nodes[p].fingerprint for p in depends[name]]
        if name in prebuilt:
            node = prebuilt[name]
            nodes[name] = replace(
                node,
                fingerprint=_fingerprint(node.sql, node.config, [node.fingerprint, *parents])
                if node.error is None
                else "",
            )
            continue
        model = sources[name]
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
            sql = _inline_ephemerals(name, bodies, depends, ephemeral, parsed)
            if sql != bodies[name]:
                _write(compiled_root / model.path, sql, model.path, cache)
        config = configs[name]
        kind = kinds[name]
        nodes[name] = CompiledNode(
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
            fingerprint="" if error else _fingerprint(sql, config, parents),
            compiled_path=_compiled_path(project, model.path),
            error=error,
            spec=singular_spec(name) if kind == "test" else None,
        )
    if use_cache:
        save_cache(cache, project.target_dir / CACHE_FILE, keep)
    return CompiledProject(project, nodes, rendered=renders, parsed=parses)


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
    return relations[name] if name not in ephemeral else Relation("", _cte(name))


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


def _node_config(model: ModelSource, rendered: Rendered) -> NodeConfig:
    """Merge the template's `config()` over YAML and folder defaults, validating its keys."""
    from pydantic import ValidationError

    from sqlml.project.schema import CONFIG_KEYS, NodeConfigFile

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


def _check_refs(
    model: ModelSource,
    kind: str,
    rendered: Rendered,
    relations: Mapping[str, Relation],
    refable: set[str],
    disabled: set[str],
) -> None:
    for call in rendered.refs:
        target = call.node
        if target in relations:
            continue
        where = Location(model.path, call.line, call.column)
        if target in disabled:
            raise GraphError(
                f"{kind} '{model.name}' refers to disabled model '{target}'",
                node=model.name,
                location=where,
                hint=f"enable '{target}' or remove the ref",
            )
        if call.kind == "source":
            known = sorted(n for n in relations if "." in n)
            raise GraphError(
                f"unknown source {call} in {kind} '{model.name}'",
                node=model.name,
                location=where,
                hint=did_you_mean(target, known)
                or "declare it under `sources:` in a properties file",
            )
        raise GraphError(
            f"unknown ref '{target}' in {kind} '{model.name}'",
            node=model.name,
            location=where,
            hint=did_you_mean(target, refable) or "no model or seed of that name exists",
        )


def _cte(name: str) -> str:
    return f"__ephemeral_{name}"


def _resolve(text: str, relations: Mapping[str, Relation], ephemeral: set[str], name: str) -> str:
    """Swap the placeholders left by rendering for relation names."""

    def relation(match: re.Match[str]) -> str:
        target = match.group(1)
        return _cte(target) if target in ephemeral else str(relations[target])

    sql = PLACEHOLDER_RE.sub(relation, text)
    if THIS in sql:
        if name not in relations:  # a singular test has no relation of its own
            raise CompileError(
                f"'{name}' uses {{{{ this }}}}, which only models have",
                node=name,
                hint="name the relation with ref() or source()",
            )
        sql = sql.replace(THIS, _cte(name) if name in ephemeral else str(relations[name]))
    # A trailing semicolon is harmless alone but breaks the SQL a model is embedded in.
    return _TRAILING_SEMICOLONS.sub("", sql)


def _cross_check(
    model: ModelSource,
    rendered: Rendered,
    parsed: Parsed,
    sql: str,
    relations: Mapping[str, Relation],
    ephemeral: set[str],
    compiled_path: str,
) -> None:
    """Every table the SQL reads must come from a `ref()` (or be the node itself)."""
    declared = {
        ("", "", _cte(c.node).lower()) if c.node in ephemeral else _key(relations[c.node])
        for c in rendered.refs
    }
    if model.name in relations:
        declared.add(_key(relations[model.name]))
    for table in parsed.tables:
        if (table.catalog.lower(), table.schema.lower(), table.name.lower()) in declared:
            continue
        shown = f"{table.schema}.{table.name}" if table.schema else table.name
        model_names = {r.name: n for n, r in relations.items()}
        if table.name in model_names:
            hint = f"write {{{{ ref('{model_names[table.name]}') }}}} instead of {shown}"
        else:
            hint = (
                "declare what a model reads with ref() or source(); read files with "
                "read_csv(), read_parquet() or read_json()"
            )
        raise CompileError(
            f"model '{model.name}' reads table '{shown}', which is not declared with ref() "
            "or source()",
            node=model.name,
            location=Location(compiled_path, table.line, table.column),
            excerpt=underline(sql, table.line, table.column, table.length)
            + f"\n(rendered from {model.path})",
            hint=hint,
        )


def _key(relation: Relation) -> tuple[str, str, str]:
    return relation.database.lower(), relation.schema.lower(), relation.name.lower()


def _inline_ephemerals(
    name: str,
    bodies: Mapping[str, str],
    depends: Mapping[str, tuple[str, ...]],
    ephemeral: set[str],
    parsed: Mapping[str, Parsed],
) -> str:
    """Prepend the ephemeral models ``name`` reads (transitively) as CTEs, parents first."""
    order: list[str] = []

    def visit(node: str) -> None:
        for parent in depends[node]:
            if parent in ephemeral and parent not in order:
                visit(parent)
                order.append(parent)

    visit(name)
    if not order:
        return bodies[name]
    ctes = ",\n".join(f"{_cte(e)} as (\n{bodies[e]}\n)" for e in order)
    body = bodies[name]
    if parsed[name].starts_with_cte:
        match = _LEADING_WITH.match(body)
        if match:
            recursive = " recursive" if match.group(2) else ""
            return f"{match.group(1)}with{recursive} {ctes},{body[match.end() :]}"
    return f"with {ctes}\n{body}"


def _fingerprint(sql: str, config: NodeConfig, parents: list[str]) -> str:
    payload = json.dumps(
        [
            sql,
            config.materialized,
            config.schema,
            config.alias,
            sorted(config.tags),
            sorted(config.meta.items(), key=lambda kv: kv[0]) if config.meta else [],
            config.contract,
            parents,
        ],
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _write(path: Path, sql: str, key: str, cache: CompileCache) -> None:
    digest = hashlib.sha256(sql.encode()).hexdigest()
    if cache.written.get(key) == digest and path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sql + "\n", encoding="utf-8")
    cache.written[key] = digest
    cache.dirty = True
