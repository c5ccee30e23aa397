"""Stage 2: `Project` → `CompiledProject`: render, resolve refs, parse, cross-check, fingerprint."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import replace

from sqlml.compiler.cache import CompileCache, forget_written, load_cache, save_cache
from sqlml.compiler.configs import node_config, safe_config
from sqlml.compiler.link import fingerprint
from sqlml.compiler.mlnodes import (
    feature_view_node,
    feature_view_template,
    training_node,
    training_parents,
)
from sqlml.compiler.modelnodes import Linker, place
from sqlml.compiler.monitornodes import build_monitor_nodes, with_scored_rows
from sqlml.compiler.parallel import (
    COST_MS,
    Helper,
    Outcome,
    Templates,
    fewer_collections,
)
from sqlml.compiler.rendercontext import recording_env_reads
from sqlml.compiler.scoringnodes import (
    check_output,
    scoring_node,
    scoring_parents,
    scoring_relation,
    scoring_specs,
)
from sqlml.compiler.snapshot import (
    SNAPSHOT_FILE,
    Nodes,
    inputs_key,
    load_snapshot,
    nodes_key,
    save_snapshot,
)
from sqlml.compiler.snapshot_config import snapshot_config
from sqlml.compiler.statics import static_nodes
from sqlml.compiler.testnodes import TEST_CONFIG, build_test_nodes
from sqlml.compiler.types import CompiledProject, Rendered
from sqlml.compiler.writer import CompiledFiles
from sqlml.errors import GraphError, Location, SqlmlError
from sqlml.graph.dag import build_dag
from sqlml.ml.spec import function_name
from sqlml.project.types import ModelSource, NodeConfig, Project
from sqlml.relation import Relation
from sqlml.snapshotspec import SnapshotSpec

CACHE_FILE = ".cache/compile.pickle"


def compile_project(project: Project, *, use_cache: bool = True) -> CompiledProject:
    """Compile every node: render models and singular tests once, resolve `ref()`/`source()`,
    parse and cross-check their SQL; write the queries that land seeds and sources, and the
    queries of data tests.

    Writes the SQL of each node under ``target/compiled/``. With ``use_cache``, unchanged
    templates are neither rendered nor parsed again, and when nothing the compile reads has
    changed since the last compile without errors, its nodes are loaded whole and nothing is
    written (see `sqlml.compiler.snapshot`). Large compiles share rendering and parsing with
    a second process (see `sqlml.compiler.parallel`).

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
    with recording_env_reads() as env_reads, fewer_collections():
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
    templates = Templates(
        project.vars,
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
    helper = Helper(templates)
    files = CompiledFiles(cache.written)
    try:
        compiled, keep, folders = _compile_nodes(
            project, cache, templates, helper, files, env_reads
        )
    finally:
        helper.close()
        written = files.close()
    if written:
        cache.written.update(written)
        cache.dirty = True
    if use_cache:
        save_cache(cache, project.target_dir / CACHE_FILE, keep)
    elif written:
        forget_written(project.target_dir / CACHE_FILE, written)
    return compiled, folders


def _compile_nodes(
    project: Project,
    cache: CompileCache,
    templates: Templates,
    helper: Helper,
    files: CompiledFiles,
    env_reads: dict[str, str | None],
) -> tuple[CompiledProject, set[str], set[str]]:
    """Render, link and assemble every node; returns the compiled project, the digests of the
    parses in use and the folders written to."""
    views = {v.name: v for v in project.feature_views}
    singular = _singular_templates(project)
    sources = [
        *project.models,
        *project.snapshots,
        *(feature_view_template(v) for v in project.feature_views),
        *project.training_queries,
        *singular,
    ]
    kinds = {t.name: "model" for t in project.models}
    kinds.update({t.name: "snapshot" for t in project.snapshots})
    kinds.update(dict.fromkeys(views, "feature_view"))
    kinds.update({t.name: "training" for t in project.training_queries})
    kinds.update({t.name: "test" for t in singular})
    outcomes, renders = _render(sources, cache, templates, helper)
    rendered, configs, errors, specs = _configure(sources, kinds, outcomes, env_reads)

    database = project.target.database
    relations = {
        name: Relation(config.schema or project.target.schema, config.alias or name, database)
        for name, config in configs.items()
        if kinds[name] in ("model", "snapshot", "feature_view")
    }
    static = static_nodes(project, templates.jinja)
    relations.update({node.name: node.relation for node in static})
    # Scores tables are relations models may ref(); a name taken already is an error below.
    scorings = scoring_specs(project)
    named = {name: kinds.get(name, "seed" if "." not in name else "source") for name in relations}
    named.update({s.name: "training" for s in project.ml_specs})
    for output, spec in scorings.items():
        check_output(spec, named)
        relations[output] = scoring_relation(project, spec)
        kinds[output] = "scoring"
    ephemeral = {name for name, config in configs.items() if config.materialized == "ephemeral"}
    by_name = {t.name: t for t in sources}
    folders: set[str] = set()

    def write(path: str, sql: str, key: str) -> None:
        files.write(path, sql, key)
        folders.add(os.path.dirname(path))

    linker = Linker(project, by_name, kinds, relations, ephemeral, errors, write)
    linker.specs = specs
    linker.disabled = {m.name for m in [*project.models, *project.snapshots]} - set(configs)
    bodies, parsed, parses, keep = linker.link(rendered, cache, helper)
    depends = {
        name: tuple(dict.fromkeys(c.node for c in result.refs if c.node in relations))
        for name, result in rendered.items()
    }
    scorers = {function_name(spec.name).lower(): spec.name for spec in project.ml_specs}
    for name in parsed:  # predict_<model>(...) reads what the model's training node makes
        depends[name] = (*depends[name], *linker.ml_parents(name, bodies, parsed, scorers))
    for name in errors:
        depends.setdefault(name, ())
    prebuilt = {node.name: node for node in static}
    for node in build_test_nodes(project, relations, templates.jinja, taken=set(relations)):
        prebuilt[node.name] = node
    taken = set(relations) | set(prebuilt)
    ml_monitors = [m for spec in project.ml_specs for m in spec.monitors]
    trained = {spec.name: spec.name for spec in project.ml_specs}
    for node in build_monitor_nodes(
        project, [*project.monitors, *ml_monitors], relations, trained, templates.jinja,
        taken=taken,
    ):  # fmt: skip
        prebuilt[node.name] = node
    for node in prebuilt.values():
        depends[node.name] = node.depends_on
        if node.sql:
            # compiled_path starts with the target folder's name
            write(str(project.target_dir.parent / node.compiled_path), node.sql, node.compiled_path)
    trainings = {spec.name: spec for spec in project.ml_specs}
    known = {name: kinds.get(name, "seed" if "." not in name else "source") for name in relations}
    training_errors: dict[str, SqlmlError] = {}
    for spec in project.ml_specs:
        read, error = training_parents(spec, known)
        if error is not None:
            training_errors[spec.name] = error
        depends[spec.name] = tuple(dict.fromkeys((*depends.get(spec.name, ()), *read)))
    scoring_errors: dict[str, SqlmlError] = {}
    for output, spec in scorings.items():
        read, error = scoring_parents(spec, known)
        if error is None and spec.scoring is not None and spec.scoring.input is None:
            relation = (spec.relation.name,) if spec.relation is not None else ()
            read = (*read, *relation, *spec.feature_views)
        if error is not None:
            scoring_errors[output] = error
        depends[output] = read
    try:
        dag = build_dag(depends)
    except GraphError as exc:
        if exc.node in by_name:
            exc.location = Location(by_name[exc.node].path)
        for name, sql in bodies.items():  # the files not written yet, as they render
            if any(p in ephemeral for p in depends[name]):
                path = by_name[name].path
                write(linker.compiled_root + path, sql, path)
        raise
    nodes = Nodes()
    for name in dag.order:
        parents = [nodes[p].fingerprint for p in depends[name]]
        if name in prebuilt:
            node = with_scored_rows(prebuilt[name], nodes)
            nodes[name] = replace(
                node,
                fingerprint=fingerprint(node.sql, node.config, [node.fingerprint, *parents])
                if node.error is None
                else "",
            )
            continue
        if name in trainings:
            query = None
            if name in by_name:
                query = linker.node(name, TEST_CONFIG, depends, bodies, parsed, nodes, parents)
            nodes[name] = training_node(
                project,
                trainings[name],
                nodes,
                depends[name],
                training_errors.get(name),
                query,
                lambda path, sql: write(str(project.target_dir.parent / path), sql, path),
            )
            continue
        if name in scorings:
            spec = scorings[name]
            error = scoring_errors.get(name)
            nodes[name] = scoring_node(project, spec, nodes, depends[name], error)
            continue
        node = linker.node(name, configs[name], depends, bodies, parsed, nodes, parents)
        if name in views:
            node = feature_view_node(node, views[name], project.root)
        nodes[name] = node
    return CompiledProject(project, nodes, rendered=renders, parsed=parses), keep, folders


def _configure(
    sources: list[ModelSource],
    kinds: Mapping[str, str],
    outcomes: Mapping[str, Outcome],
    env_reads: dict[str, str | None],
) -> tuple[
    dict[str, Rendered], dict[str, NodeConfig], dict[str, SqlmlError], dict[str, SnapshotSpec]
]:
    """Each rendered template's config (and a snapshot's spec), leaving disabled nodes out.

    A template that failed to render or configure gets its error, and a config from what it
    said of itself before failing. Returns the renders, configs, errors and snapshot specs.
    """
    rendered: dict[str, Rendered] = {}
    configs: dict[str, NodeConfig] = {}
    errors: dict[str, SqlmlError] = {}
    validated: dict[str, NodeConfig] = {}
    specs: dict[str, SnapshotSpec] = {}
    for model in sources:
        outcome = outcomes[model.name]
        said = outcome[2] if outcome[0] == "error" else outcome[1].config
        try:
            if outcome[0] == "error":
                raise outcome[1]
            result = outcome[1]
            env_reads.update(result.env_vars)
            if kinds[model.name] in ("model", "feature_view"):
                config = node_config(model, result, validated)
            elif kinds[model.name] == "snapshot":
                config, specs[model.name] = snapshot_config(model, result)
            else:
                config = TEST_CONFIG
        except SqlmlError as exc:
            place(exc, model.name)
            errors[model.name] = exc
            # What the template said of itself before failing still counts (e.g. ephemeral).
            shown = safe_config({**model.config, **said})
            if kinds[model.name] == "snapshot":
                shown["materialized"] = "snapshot"
            configs[model.name] = NodeConfig(**shown)
            continue
        if config.enabled:
            rendered[model.name] = result
            configs[model.name] = config
    return rendered, {n: c for n, c in configs.items() if c.enabled}, errors, specs


def _render(
    sources: list[ModelSource], cache: CompileCache, templates: Templates, helper: Helper
) -> tuple[dict[str, Outcome], int]:
    """Each template's render (from the cache, else rendered now); how many were rendered."""
    outcomes: dict[str, Outcome] = {}
    todo: list[tuple[ModelSource, str]] = []
    for model in sources:
        digest = hashlib.sha256(model.sql.encode()).hexdigest()
        result = cache.render(model.path, digest)
        if result is None:
            todo.append((model, digest))
        else:
            outcomes[model.name] = ("ok", result)
    # Templates Jinja must compile first: the helper process takes work from the front.
    todo.sort(key=lambda item: not _needs_jinja(item[0].sql))
    costs = [COST_MS["jinja" if _needs_jinja(m.sql) else "template"] for m, _ in todo]
    helper.start_if(sum(costs) + COST_MS["parse"] * len(todo))
    done = helper.share(
        "render", [(m.name, m.path, m.sql) for m, _ in todo], templates.render, costs
    )
    for (model, digest), outcome in zip(todo, done, strict=True):
        if outcome[0] == "ok":
            cache.store_render(model.path, digest, outcome[1])
        outcomes[model.name] = outcome
    return outcomes, len(todo)


def _needs_jinja(source: str) -> bool:
    return "{%" in source or "{#" in source


def _singular_templates(project: Project) -> list[ModelSource]:
    """Singular data tests render like models: a query, here returning failing rows."""
    return [
        ModelSource(name=t.name or "", path=t.path, sql=t.sql or "", config={})
        for t in project.data_tests
        if t.sql is not None
    ]
