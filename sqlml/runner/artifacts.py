"""Versioned JSON artifacts in the target directory: `manifest.json` and `run_results.json`.

Both carry ``metadata.schema_version``; fields are only ever added within a version.
The formats are documented in docs/artifacts.md.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlml.compiler.types import CompiledProject
from sqlml.runner.types import RunResult

MANIFEST_VERSION = "sqlml.manifest.v1"
RUN_RESULTS_VERSION = "sqlml.run_results.v1"


def _metadata(version: str, project: str, target: str) -> dict[str, Any]:
    from sqlml import __version__

    return {
        "schema_version": version,
        "sqlml_version": __version__,
        "generated_at": datetime.now(UTC).isoformat(),
        "project": project,
        "target": target,
    }


def write_manifest(compiled: CompiledProject) -> Path:
    """Write ``target/manifest.json``: every node, its dependencies, columns and fingerprint."""
    project = compiled.project
    nodes = {}
    for name, node in compiled.nodes.items():
        declared = {c.name: c for c in node.declared_columns}
        columns = {
            column: {
                "description": declared[column].description if column in declared else None,
                "data_type": declared[column].data_type if column in declared else None,
            }
            for column in dict.fromkeys([*node.columns, *declared])
        }
        nodes[name] = {
            "name": name,
            "resource_type": node.kind,
            "path": node.path,
            "compiled_path": node.compiled_path,
            "relation": None
            if node.config.materialized == "ephemeral"
            else {"schema": node.relation.schema, "name": node.relation.name},
            "config": {
                "materialized": node.config.materialized,
                "schema": node.config.schema,
                "alias": node.config.alias,
                "tags": list(node.config.tags),
                "meta": dict(node.config.meta),
            },
            "description": node.description,
            "depends_on": list(node.depends_on),
            "columns": columns,
            "fingerprint": node.fingerprint or None,
            "error": node.error.render() if node.error else None,
        }
    children: dict[str, list[str]] = {name: [] for name in nodes}
    for name, node in compiled.nodes.items():
        for parent in node.depends_on:
            children[parent].append(name)
    document = {
        "metadata": _metadata(MANIFEST_VERSION, project.name, project.target.name),
        "nodes": nodes,
        "parent_map": {name: list(node.depends_on) for name, node in compiled.nodes.items()},
        "child_map": children,
    }
    return _write(project.target_dir / "manifest.json", document)


def write_run_results(run: RunResult, target_dir: Path, project: str, target: str) -> Path:
    """Write ``target/run_results.json``: status, timing, rows and error of every node."""
    document = {
        "metadata": _metadata(RUN_RESULTS_VERSION, project, target),
        "run_id": run.run_id,
        "command": run.command,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
        "elapsed_s": round(run.duration_s, 4),
        "success": run.success,
        "results": [
            {
                "node": r.node,
                "status": r.status,
                "materialization": r.materialization,
                "relation": r.relation,
                "started_at": r.started_at.isoformat() if r.started_at else None,
                "duration_s": round(r.duration_s, 4),
                "rows_affected": r.rows,
                "message": r.message,
                "location": r.location,
            }
            for r in run.results
        ],
    }
    return _write(target_dir / "run_results.json", document)


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)
    return path
