"""Exports as DAG nodes: each one a child of the relation it reads."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict

from sqlml.compiler.types import CompiledNode, CompiledProject
from sqlml.errors import GraphError, Location, did_you_mean
from sqlml.export.spec import ExportSpec
from sqlml.project.types import NodeConfig


def add_export_nodes(compiled: CompiledProject, specs: Sequence[ExportSpec]) -> CompiledProject:
    """``compiled`` with one node of kind ``export`` per enabled spec, after its parent.

    Raises GraphError at the spec when the relation it names is not a node of the project,
    or when its name is taken.
    """
    specs = [s for s in specs if s.enabled]
    if not specs:
        return compiled
    nodes = dict(compiled.nodes)
    for spec in specs:
        parent = nodes.get(spec.parent)
        if parent is None or parent.kind not in ("model", "seed", "source"):
            relations = [n for n, node in nodes.items() if node.kind in ("model", "seed", "source")]
            raise GraphError(
                f"export '{spec.name}' reads '{spec.parent}', which is not a model, seed or "
                "source of this project",
                node=spec.name,
                location=Location(spec.path),
                hint=did_you_mean(spec.parent, relations) or "check relation: in the file",
            )
        if spec.name in nodes:
            raise GraphError(
                f"export '{spec.name}' has the name of another node",
                node=spec.name,
                location=Location(spec.path),
                hint="rename the export file",
            )
        config = NodeConfig(materialized="export", tags=spec.tags)
        document = json.dumps(asdict(spec), sort_keys=True, default=str)
        fingerprint = hashlib.sha256(f"{document}\n{parent.fingerprint}".encode()).hexdigest()
        nodes[spec.name] = CompiledNode(
            name=spec.name,
            kind="export",
            path=spec.path,
            config=config,
            relation=parent.relation,
            sql="",
            body_sql="",
            depends_on=(spec.parent,),
            columns=(),
            declared_columns=(),
            description=spec.description,
            fingerprint=fingerprint,
            compiled_path=spec.path,
            spec=spec,
        )
    return CompiledProject(compiled.project, nodes, compiled.rendered, compiled.parsed)
