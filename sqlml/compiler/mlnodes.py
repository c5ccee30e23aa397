"""Feature views and training nodes: the ML parts of a project as nodes of the one DAG.

A feature view compiles like a model (render, link, parse, cross-check) and is materialized as a
table; its node's ``spec`` is a `FeatureViewSpec`. A training node (kind ``training``, one per
``ml/<name>.yml``) holds the query of its training rows: ``select *`` from its relation, its
rendered ``ml/<name>.sql``, or the point-in-time join of a spine with feature views. Its
``spec`` is a `TrainingSpec`; training itself happens when the plan is executed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from sqlml.compiler.types import CompiledNode
from sqlml.errors import CompileError, ConfigError, GraphError, Location, SqlmlError, did_you_mean
from sqlml.ml.pointintime import (
    FeatureView,
    event_time_column,
    latest_features_sql,
    training_set_sql,
)
from sqlml.ml.spec import MLSpec
from sqlml.project.types import FeatureViewSource, ModelSource, NodeConfig, Project
from sqlml.project.yamlfile import key_location
from sqlml.relation import Relation

TRAINING_MATERIALIZATION = "training"
REGISTRY_TABLE = "model_versions"  # where a training node's versions land


@dataclass(frozen=True)
class FeatureViewSpec:
    """What a feature view node carries: its keys, event timestamp, TTL and feature columns."""

    keys: tuple[str, ...]
    timestamp: str
    features: tuple[str, ...]
    ttl_s: float | None
    source: FeatureViewSource

    def view(self, name: str, relation: Relation) -> FeatureView:
        """The view as the point-in-time SQL generators take it."""
        return FeatureView(
            name, str(relation), self.keys, self.timestamp, self.features, self.ttl_s
        )


@dataclass(frozen=True)
class TrainingSpec:
    """What a training node carries.

    Attributes:
        spec: the ML spec (``not_features`` set for a spine).
        views: the feature views joined to the spine, in spec order (empty without a spine).
        keys: the entity key columns of the spine (empty without a spine).
        latest_sql: for a spine, the latest feature values per entity, as of now (named as in
            training: ``<view>__<feature>``) — what scoring reads; None otherwise.
    """

    spec: MLSpec
    views: tuple[FeatureView, ...] = ()
    keys: tuple[str, ...] = ()
    latest_sql: str | None = None


def feature_view_template(view: FeatureViewSource) -> ModelSource:
    """The view's SQL as a template to render like a model; always a table."""
    config: dict[str, object] = {"materialized": "table", "tags": list(view.tags)}
    if view.schema:
        config["schema"] = view.schema
    if view.meta:
        config["meta"] = dict(view.meta)
    return ModelSource(
        name=view.name,
        path=view.path,
        sql=view.sql,
        config=config,
        description=view.description,
        columns=view.columns,
        properties_path=view.properties_path,
    )


def feature_view_node(node: CompiledNode, view: FeatureViewSource, root: Path) -> CompiledNode:
    """The compiled view with its `FeatureViewSpec`, or with an error saying what is wrong."""
    where = Location(view.properties_path, view.line)

    def at(column: str) -> Location:
        """Where the YAML entry names ``column`` (its entry when it names it nowhere)."""
        key: list[str | int] = ["timestamp"]
        if column in view.keys:
            key = ["entities", view.keys.index(column)]
        elif column != view.timestamp:
            key = ["features", (view.features or ()).index(column)]
        path = root / view.properties_path
        return key_location(path, view.properties_path, ["feature_views", view.index, *key])

    error: SqlmlError | None = node.error
    features: tuple[str, ...] = view.features or ()
    if error is None and node.config.materialized != "table":
        error = CompileError(
            f"feature view '{view.name}' is materialized '{node.config.materialized}'; "
            "feature views are tables",
            node=view.name,
            location=Location(view.path),
            hint="remove materialized from its config()",
        )
    if error is None and node.columns:
        for column in (*view.keys, view.timestamp, *(view.features or ())):
            if column not in node.columns:
                error = CompileError(
                    f"feature view '{view.name}' has no column '{column}'",
                    node=view.name,
                    location=at(column),
                    hint=did_you_mean(column, node.columns)
                    or f"its columns: {', '.join(node.columns)}",
                )
                break
    if error is None and view.features is None:
        if not node.columns:
            error = CompileError(
                f"cannot tell the feature columns of feature view '{view.name}': its select "
                "does not name every column",
                node=view.name,
                location=where,
                hint="list them under features: in its YAML, or name each column in the select",
            )
        else:
            skip = {*view.keys, view.timestamp}
            features = tuple(c for c in node.columns if c not in skip)
    spec = FeatureViewSpec(view.keys, view.timestamp, features, view.ttl_s, view)
    if error is not None:
        return replace(node, error=error, fingerprint="", spec=spec)
    return replace(node, spec=spec)


def training_parents(
    spec: MLSpec, known: Mapping[str, str]
) -> tuple[tuple[str, ...], SqlmlError | None]:
    """The nodes a training reads (``known``: node name -> kind), and an error for a name
    that is not there or not a feature view."""
    parents: list[str] = []
    named = [(spec.relation, ("relation",)), (spec.spine, ("spine",))]
    for reference, key in named:
        if reference is None:
            continue
        if reference.name not in known:
            candidates = [n for n in known if ("." in n) == (reference.function == "source")]
            return (), GraphError(
                f"ML model '{spec.name}' reads {reference}, which does not exist",
                node=spec.name,
                location=spec.location(*key),
                hint=did_you_mean(reference.name, candidates) or "name a model, seed or source",
            )
        parents.append(reference.name)
    for index, view in enumerate(spec.feature_views):
        kind = known.get(view)
        if kind != "feature_view":
            views = [n for n, k in known.items() if k == "feature_view"]
            what = "does not exist" if kind is None else f"is a {kind}, not a feature view"
            return (), GraphError(
                f"feature view '{view}' of ML model '{spec.name}' {what}",
                node=spec.name,
                location=spec.location("feature_views", index),
                hint=did_you_mean(view, views)
                or (
                    f"feature views: {', '.join(sorted(views))}"
                    if views
                    else "define it in features/ (SQL plus a YAML entry)"
                ),
            )
        parents.append(view)
    return tuple(dict.fromkeys(parents)), None


def training_node(
    project: Project,
    spec: MLSpec,
    nodes: Mapping[str, CompiledNode],
    depends: tuple[str, ...],
    error: SqlmlError | None,
    query: CompiledNode | None,
    write: Callable[[str, str], None],
) -> CompiledNode:
    """The training node of ``spec``; ``query`` is its compiled ``ml/<name>.sql``, if any.

    ``write(path, sql)`` stores the generated training query under ``target/compiled/``.
    """
    training = TrainingSpec(spec)
    sql = ""
    compiled_path = f"{project.target_dir.name}/compiled/{spec.display}".removesuffix(".yml")
    compiled_path = compiled_path.removesuffix(".yaml") + ".sql"
    if query is not None:
        error = error or query.error
        sql = query.sql
        compiled_path = query.compiled_path
    failed = next((p for p in depends if nodes[p].error is not None), None)
    if error is None and failed is not None:
        error = CompileError(
            f"ML model '{spec.name}' reads '{failed}', which failed to compile",
            node=spec.name,
            location=Location(spec.display),
            hint=f"fix '{failed}' first",
        )
    if error is None and query is None:
        try:
            training, sql = _generated(spec, nodes)
        except SqlmlError as exc:
            error = exc
        else:
            write(compiled_path, sql)
    config = NodeConfig(
        materialized=TRAINING_MATERIALIZATION,
        schema=project.state_schema,
        tags=spec.tags,
        meta=spec.meta,
    )
    return CompiledNode(
        name=spec.name,
        kind="training",
        path=spec.display,
        config=config,
        relation=Relation(project.state_schema, REGISTRY_TABLE, project.target.database),
        sql=sql,
        body_sql=sql,
        depends_on=depends,
        columns=(),
        declared_columns=(),
        description=spec.description,
        fingerprint="" if error else spec_fingerprint(training.spec, sql),
        compiled_path=compiled_path,
        error=error,
        spec=training,
    )


def spec_fingerprint(spec: MLSpec, sql: str) -> str:
    """sha256 of what a training depends on besides its data: the spec as loaded, the
    training query, and sqlml's version (a new sqlml may train differently)."""
    from sqlml import __version__

    fields = dataclasses.asdict(spec)
    for local in ("path", "display", "sql_path"):  # where the project lives is no part of it
        fields.pop(local)
    fields.pop("scoring")  # how scores are written does not change the model
    payload = json.dumps([fields, sql, __version__], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _generated(spec: MLSpec, nodes: Mapping[str, CompiledNode]) -> tuple[TrainingSpec, str]:
    """The training query of a spec with a relation, or with a spine and feature views."""
    if spec.relation is not None:
        return TrainingSpec(spec), f"select * from {nodes[spec.relation.name].relation}"
    assert spec.spine is not None and spec.as_of is not None
    specs = [nodes[name].spec for name in spec.feature_views]
    views = tuple(
        s.view(name, nodes[name].relation)
        for name, s in zip(spec.feature_views, specs, strict=True)
    )
    keys = spec.spine_keys or views[0].keys
    spine = nodes[spec.spine.name]
    if spine.columns:
        for key, column in [*(("keys", k) for k in keys), ("as_of", spec.as_of)]:
            if column not in spine.columns:
                raise CompileError(
                    f"the spine {spec.spine} has no column '{column}'",
                    node=spec.name,
                    location=spec.location(key),
                    hint=did_you_mean(column, spine.columns)
                    or f"its columns: {', '.join(spine.columns)}",
                )
    try:
        sql = training_set_sql(str(spine.relation), keys, spec.as_of, views)
        latest = latest_features_sql(views, keys)
    except ConfigError as exc:
        exc.node = spec.name
        exc.location = exc.location or spec.location("feature_views")
        raise
    not_features = (*keys, spec.as_of, *(event_time_column(v) for v in views))
    spec = replace(spec, not_features=tuple(dict.fromkeys(not_features)))
    return TrainingSpec(spec, views, tuple(keys), latest), sql
