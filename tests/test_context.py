"""The Python API: `Context(path)` with targets, vars, selection, plans and runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import sqlml
from sqlml import Context
from sqlml.errors import ConfigError, ExecutionError
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import held_open, query, relations

PROJECT = {
    "project.yml": """\
        name: demo
        target: dev
        targets:
          dev:
            path: warehouse.duckdb
          prod:
            path: prod/warehouse.duckdb
            schema: prod
        vars:
          factor: 2
    """,
    "data/people.csv": "id,name\n1,ada\n2,grace\n3,edsger\n",
    "models/people.sql": "select id, name from read_csv('data/people.csv')",
    "models/scaled.sql": "select id * {{ var('factor') }} as id from {{ ref('people') }}",
    "models/names.sql": "{{ config(materialized='view') }}\nselect name from {{ ref('people') }}",
}


def test_context_is_importable_from_the_package() -> None:
    from sqlml.context import Context as Direct

    assert sqlml.Context is Direct
    with pytest.raises(AttributeError):
        _ = sqlml.Nothing


@pytest.mark.parametrize("threads", [1, 3])
def test_relative_file_paths_resolve_against_the_project_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    root = write_project(tmp_path / "project", PROJECT)
    monkeypatch.chdir(tmp_path)

    result = Context("project").run(threads=threads)

    assert result.success
    assert query(root, 'select id from "main"."scaled" order by id') == [(2,), (4,), (6,)]


def test_vars_override_the_project_vars(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)

    Context(root, vars={"factor": 10}).run()

    assert query(root, 'select id from "main"."scaled" order by id') == [(10,), (20,), (30,)]


def test_a_target_builds_into_its_own_warehouse_and_schema(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)

    result = Context(root, target="prod").run()

    assert result.success
    assert {r.relation for r in result.results} == {
        '"warehouse"."prod"."people"',
        '"warehouse"."prod"."scaled"',
        '"warehouse"."prod"."names"',
    }
    assert not (root / "warehouse.duckdb").exists()
    assert (root / "prod" / "warehouse.duckdb").is_file()
    assert (root / "target" / "run_results.json").is_file()


def test_ls_lists_the_selected_nodes_in_dependency_order(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)
    context = Context(root)

    assert [n.name for n in context.ls()] == ["people", "names", "scaled"]
    assert [n.name for n in context.ls(select=["scaled+"])] == ["scaled"]
    assert [n.name for n in context.ls(select=["+scaled"], exclude=["people"])] == ["scaled"]


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_plan_does_not_create_the_warehouse(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)

    plan = Context(root).plan()

    assert [(s.node, s.reason) for s in plan.steps] == [
        ("people", "new"),
        ("names", "new"),
        ("scaled", "new"),
    ]
    assert sorted(p.name for p in root.iterdir()) == ["data", "models", "project.yml", "target"]


def test_plan_does_not_change_an_existing_warehouse(tmp_path: Path) -> None:
    root = write_project(tmp_path, PROJECT)
    Context(root).run()
    warehouse = root / "warehouse.duckdb"
    before = fingerprint(warehouse)
    files_before = sorted(p.name for p in root.iterdir())
    write_project(root, {"models/names.sql": "select name, id from {{ ref('people') }}"})

    plan = Context(root).plan()

    assert {s.node: (s.reason, s.existing) for s in plan.steps} == {
        "people": ("unchanged", "table"),
        "names": ("modified", "view"),
        "scaled": ("unchanged", "table"),
    }
    assert fingerprint(warehouse) == before
    assert sorted(p.name for p in root.iterdir()) == files_before


def test_a_missing_project_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Context(tmp_path).run()

    assert caught.value.render() == (
        f"no project.yml in {tmp_path}\n"
        "hint: run sqlml from a project directory, pass --project-dir, "
        "or create one with `sqlml init NAME`"
    )


def test_running_on_a_locked_warehouse_raises_and_builds_nothing(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"project.yml": MINIMAL_PROJECT, "models/a.sql": "select 1"})
    warehouse = root / "warehouse.duckdb"

    with held_open(warehouse), pytest.raises(ExecutionError) as caught:
        Context(root, lock_timeout=0).run()

    assert caught.value.message.startswith(f"cannot open warehouse {warehouse}: IO Error:")
    assert caught.value.hint is not None and "another program" in caught.value.hint
    assert relations(root) == {("main", "held"): "table"}
    assert not (root / "target" / "run_results.json").exists()


def test_planning_while_a_run_holds_the_warehouse_still_plans(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"project.yml": MINIMAL_PROJECT, "models/a.sql": "select 1"})

    with held_open(root / "warehouse.duckdb"):
        plan = Context(root).plan()

    assert [s.node for s in plan.steps] == ["a"]
