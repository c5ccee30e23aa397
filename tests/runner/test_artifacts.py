"""`target/manifest.json` and `target/run_results.json` have the shape docs/artifacts.md shows."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlml import Context, __version__
from tests.projectfactory import write_project

PROJECT = {
    "project.yml": "name: shop\nmodels:\n  +tags: [nightly]\n",
    "models/stg.sql": """\
        {{ config(materialized='view') }}
        select range as order_id, range * 2.5 as amount from range(4)
    """,
    "models/eph.sql": """\
        {{ config(materialized='ephemeral') }}
        select order_id, amount from {{ ref('stg') }} where amount > 0
    """,
    "models/fct.sql": """\
        {{ config(schema='marts', meta={'owner': 'ana'}) }}
        select order_id, amount as total from {{ ref('eph') }}
    """,
    "models/everything.sql": "select * from {{ ref('fct') }}",
    "models/bad.sql": "select error('boom') as x from {{ ref('stg') }}",
    "models/after_bad.sql": "select x from {{ ref('bad') }}",
    "models/broken.sql": "select 1 as id from",
    "models/schema.yml": """\
        models:
          - name: fct
            description: One row per order.
            columns:
              - name: order_id
                description: Primary key.
                data_type: bigint
              - name: note
                description: Declared but not selected.
    """,
}

METADATA_KEYS = {"schema_version", "sqlml_version", "generated_at", "project", "target"}


def read_json(root: Path, name: str) -> Any:
    return json.loads((root / "target" / name).read_text(encoding="utf-8"))


def test_run_results_has_the_documented_shape(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)
    run = Context(root).run(threads=1)

    document = read_json(root, "run_results.json")

    metadata = document.pop("metadata")
    assert set(metadata) == METADATA_KEYS
    assert metadata["schema_version"] == "sqlml.run_results.v1"
    assert metadata["sqlml_version"] == __version__
    assert (metadata["project"], metadata["target"]) == ("shop", "dev")
    datetime.fromisoformat(metadata["generated_at"])
    assert set(document) == {
        "run_id",
        "command",
        "started_at",
        "finished_at",
        "elapsed_s",
        "success",
        "results",
    }
    assert (document["run_id"], document["command"], document["success"]) == (
        run.run_id,
        "run",
        False,
    )
    started = datetime.fromisoformat(document["started_at"])
    assert datetime.fromisoformat(document["finished_at"]) >= started
    assert document["elapsed_s"] >= 0

    results = {r["node"]: r for r in document["results"]}
    assert [r["node"] for r in document["results"]] == [r.node for r in run.results]
    for result in results.values():
        assert set(result) == {
            "node",
            "status",
            "materialization",
            "relation",
            "started_at",
            "duration_s",
            "rows_affected",
            "message",
            "location",
        }
        assert result["duration_s"] >= 0
    assert {n: (r["status"], r["rows_affected"]) for n, r in results.items()} == {
        "stg": ("success", None),
        "fct": ("success", 3),
        "everything": ("success", 3),
        "bad": ("error", None),
        "after_bad": ("skipped", None),
        "broken": ("error", None),
    }
    assert results["fct"]["relation"] == '"warehouse"."marts"."fct"'
    assert results["fct"]["materialization"] == "table"
    assert datetime.fromisoformat(results["fct"]["started_at"]) >= started
    assert results["fct"]["message"] is None
    assert results["bad"]["location"] == "target/compiled/models/bad.sql"
    assert results["bad"]["message"].startswith(
        "target/compiled/models/bad.sql: model 'bad' failed: Invalid Input Error: boom"
    )
    assert results["broken"]["location"] == "target/compiled/models/broken.sql:1:16"
    assert results["after_bad"] == {
        "node": "after_bad",
        "status": "skipped",
        "materialization": "table",
        "relation": '"warehouse"."main"."after_bad"',
        "started_at": None,
        "duration_s": 0.0,
        "rows_affected": None,
        "message": "upstream 'bad' failed",
        "location": None,
    }


def test_run_results_of_a_clean_run_say_success(tmp_path: Path) -> None:
    files = {k: v for k, v in PROJECT.items() if "bad" not in k and "broken" not in k}
    root = write_project(tmp_path, files)

    Context(root).run()

    document = read_json(root, "run_results.json")
    assert document["success"] is True
    assert {r["status"] for r in document["results"]} == {"success"}


def test_manifest_has_the_documented_shape(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)
    context = Context(root)
    compiled = context.compile()

    document = read_json(root, "manifest.json")

    assert set(document) == {"metadata", "nodes", "parent_map", "child_map"}
    assert set(document["metadata"]) == METADATA_KEYS
    assert document["metadata"]["schema_version"] == "sqlml.manifest.v1"
    nodes = document["nodes"]
    assert set(nodes) == {"stg", "eph", "fct", "everything", "bad", "after_bad", "broken"}
    assert nodes["fct"] == {
        "name": "fct",
        "resource_type": "model",
        "path": "models/fct.sql",
        "compiled_path": "target/compiled/models/fct.sql",
        "relation": {"schema": "marts", "name": "fct"},
        "config": {
            "materialized": "table",
            "schema": "marts",
            "alias": None,
            "tags": ["nightly"],
            "meta": {"owner": "ana"},
            "schedule": None,
        },
        "description": "One row per order.",
        "depends_on": ["eph"],
        "columns": {
            "order_id": {"description": "Primary key.", "data_type": "bigint"},
            "total": {"description": None, "data_type": None},
            "note": {"description": "Declared but not selected.", "data_type": None},
        },
        "fingerprint": compiled.nodes["fct"].fingerprint,
        "error": None,
    }
    assert len(nodes["fct"]["fingerprint"]) == 64
    assert nodes["eph"]["relation"] is None
    assert nodes["everything"]["columns"] == {}  # select *
    assert nodes["broken"]["fingerprint"] is None
    error = compiled.nodes["broken"].error
    assert error is not None
    assert nodes["broken"]["error"] == error.render()
    assert nodes["broken"]["error"].startswith(
        "target/compiled/models/broken.sql:1:16: SQL syntax error in model 'broken'"
    )
    assert document["parent_map"]["fct"] == ["eph"]
    assert document["parent_map"]["stg"] == []
    assert sorted(document["child_map"]["stg"]) == ["bad", "eph"]
    assert document["child_map"]["everything"] == []


def test_a_parent_change_changes_the_childs_fingerprint_in_the_manifest(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)
    Context(root).compile()
    before = read_json(root, "manifest.json")["nodes"]

    write_project(root, {"models/stg.sql": "select 1 as order_id, 1.0 as amount"})
    Context(root).compile()
    after = read_json(root, "manifest.json")["nodes"]

    changed = {n for n in before if before[n]["fingerprint"] != after[n]["fingerprint"]}
    assert changed == {"stg", "eph", "fct", "everything", "bad", "after_bad"}


def test_run_writes_the_manifest_too(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)

    Context(root).run()

    assert set(read_json(root, "manifest.json")["nodes"]) == set(
        read_json(root, "manifest.json")["parent_map"]
    )
    assert not list((root / "target").glob("*.tmp"))
