"""Scoring nodes: one per ML spec with a ``scoring`` section, named as its scores table.

The node reads the model's training node (for the champion) and its input: the relation named
by ``scoring.input`` (for a model trained on a spine, a spine of the rows to score now: keys,
as-of time and the spine's own feature columns, joined point in time with the feature views as
in training), or else the feature views' latest values (a spine) or the training relation.
Downstream models ``ref()`` it like any table. Scoring itself happens when the plan is
executed (`sqlml.ml.scorestep`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from sqlml.compiler.types import CompiledNode
from sqlml.errors import CompileError, GraphError, SqlmlError, did_you_mean
from sqlml.ml.pointintime import training_set_sql
from sqlml.ml.spec import MLSpec
from sqlml.project.types import NodeConfig, Project
from sqlml.relation import Relation

SCORING_MATERIALIZATION = "scoring"


@dataclass(frozen=True)
class ScoringStepSpec:
    """What a scoring step needs: the model, the version to use, the keys, the mode."""

    model: str
    version: str
    keys: tuple[str, ...]
    incremental: bool


def scoring_specs(project: Project) -> dict[str, MLSpec]:
    """The ML specs that score, by the name of their scores table."""
    return {s.scoring.output: s for s in project.ml_specs if s.scoring is not None}


def scoring_relation(project: Project, spec: MLSpec) -> Relation:
    assert spec.scoring is not None
    schema = spec.scoring.schema or project.target.schema
    return Relation(schema, spec.scoring.output, project.target.database)


def check_output(spec: MLSpec, taken: Mapping[str, str]) -> None:
    """Raise GraphError when the scores table's name is already a node's (``taken``: name ->
    kind)."""
    assert spec.scoring is not None
    output = spec.scoring.output
    if output in taken:
        raise GraphError(
            f"scoring of ML model '{spec.name}' writes '{output}', the name of a "
            f"{taken[output]} of this project",
            node=output,
            location=spec.location("scoring"),
            hint="name another table in scoring's output:",
        )


def scoring_parents(
    spec: MLSpec, known: Mapping[str, str]
) -> tuple[tuple[str, ...], SqlmlError | None]:
    """The training node and the input the scoring reads; an error for an unknown input."""
    assert spec.scoring is not None
    scoring = spec.scoring
    if scoring.input is None:
        return (spec.name,), None
    name = scoring.input.name
    if name not in known or known[name] in ("scoring", "training", "test"):
        candidates = [n for n, k in known.items() if k not in ("scoring", "training", "test")]
        return (spec.name,), GraphError(
            f"scoring of ML model '{spec.name}' reads {scoring.input}, which does not exist",
            node=scoring.output,
            location=spec.location("scoring", "input"),
            hint=did_you_mean(name, candidates) or "name a model, seed, source or feature view",
        )
    return (spec.name, name), None


def scoring_node(
    project: Project,
    spec: MLSpec,
    nodes: Mapping[str, CompiledNode],
    depends: tuple[str, ...],
    error: SqlmlError | None,
) -> CompiledNode:
    """The scoring node of ``spec``: its SQL is the query of the rows to score."""
    assert spec.scoring is not None
    scoring = spec.scoring
    training = nodes[spec.name]
    keys = scoring.keys or getattr(training.spec, "keys", ()) or ()
    sql = ""
    failed = next((p for p in depends if nodes[p].error is not None), None)
    if error is None and failed is not None:
        error = CompileError(
            f"scoring '{scoring.output}' reads '{failed}', which failed to compile",
            node=scoring.output,
            location=spec.location("scoring"),
            hint=f"fix '{failed}' first",
        )
    views = getattr(training.spec, "views", ())
    if error is None:
        if scoring.input is not None and views and spec.as_of is not None:
            # the input is the spine of now: its rows get the features known at their as-of
            relation = str(nodes[scoring.input.name].relation)
            sql = training_set_sql(relation, keys, spec.as_of, views)
        elif scoring.input is not None:
            sql = f"select * from {nodes[scoring.input.name].relation}"
        elif getattr(training.spec, "latest_sql", None):
            sql = training.spec.latest_sql
        elif spec.relation is not None:
            sql = f"select * from {nodes[spec.relation.name].relation}"
        source = nodes[scoring.input.name] if scoring.input is not None else None
        columns = source.columns if source is not None else ()
        missing = [k for k in keys if columns and k not in columns]
        if missing:
            error = CompileError(
                f"scoring '{scoring.output}' keys on {', '.join(missing)}, which its input "
                "does not have",
                node=scoring.output,
                location=spec.location("scoring", "keys"),
                hint=did_you_mean(missing[0], columns) or f"its columns: {', '.join(columns)}",
            )
    step = ScoringStepSpec(spec.name, scoring.version, tuple(keys), scoring.incremental)
    document = json.dumps([asdict(scoring), sql], sort_keys=True, default=str)
    parents = "".join(nodes[p].fingerprint for p in depends)
    fingerprint = hashlib.sha256(f"{document}\n{parents}".encode()).hexdigest()
    return CompiledNode(
        name=scoring.output,
        kind="scoring",
        path=spec.display,
        config=NodeConfig(materialized=SCORING_MATERIALIZATION, tags=spec.tags),
        relation=scoring_relation(project, spec),
        sql=sql,
        body_sql=sql,
        depends_on=depends,
        columns=(),
        declared_columns=(),
        description=f"Scores of ML model '{spec.name}' ({scoring.version}).",
        fingerprint="" if error else fingerprint,
        compiled_path=spec.display,
        error=error,
        spec=step,
    )
