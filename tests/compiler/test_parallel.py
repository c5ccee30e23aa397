"""Sharing rendering and parsing with a helper process changes nothing in what compiles."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from sqlml.compiler import CompiledProject, compile_project, parallel
from sqlml.project import load_project
from tests.projectfactory import write_project


def project_files(models: int) -> dict[str, str]:
    """Models of every kind the compiler handles, and some that fail."""
    files = {
        "project.yml": "name: demo\nvars:\n  limit: 3\n",
        "macros/m.sql": "{% macro double(x) %}({{ x }} * 2){% endmacro %}",
        "models/root.sql": "select range as k, range as v from range(10)",
        "models/eph.sql": "{{ config(materialized='ephemeral') }}\n"
        "select k, v from {{ ref('root') }}",
        "models/bad_sql.sql": "select k from {{ ref('root') }} where",
        "models/bad_jinja.sql": "{% if %}select 1",
        "models/bad_table.sql": "select k from elsewhere",
        "models/same_a.sql": "select k from {{ ref('root') }} where",  # same SQL, own error
        "models/same_b.sql": "select k from {{ ref('root') }} where",
    }
    for i in range(models):
        parent = "eph" if i % 7 == 0 else "root"
        if i % 3 == 0:
            body = (
                "{% for c in ['k', 'v'] %}{% if not loop.first %}, {% endif %}"
                f"{{{{ c }}}} + {i} as {{{{ c }}}}{{% endfor %}}\nfrom {{{{ ref('{parent}') }}}}"
            )
            files[f"models/m{i}.sql"] = "select " + body
        elif i % 3 == 1:
            files[f"models/m{i}.sql"] = (
                f"select {{{{ double('k') }}}} as k, v from {{{{ ref('{parent}') }}}} "
                "where v < {{ var('limit') }}"
            )
        else:
            files[f"models/m{i}.sql"] = (
                f"with x as (select * from {{{{ ref('{parent}') }}}})\nselect k, v from x"
            )
    return files


def compile_with(root: Path, monkeypatch: pytest.MonkeyPatch, *, helper: bool) -> CompiledProject:
    monkeypatch.setattr(parallel, "MIN_WORK_MS", 0.0 if helper else float("inf"))
    monkeypatch.setattr(parallel, "CHUNK_MS", 1.0)  # many chunks, both sides take some
    if helper:
        monkeypatch.setattr(parallel, "cores", lambda: 2)
    shutil.rmtree(root / "target", ignore_errors=True)
    return compile_project(load_project(root))


def same(one: CompiledProject, other: CompiledProject) -> None:
    assert list(one.nodes) == list(other.nodes)
    for name, node in one.nodes.items():
        theirs = other.nodes[name]
        error, their_error = node.error, theirs.error
        assert (error and error.render()) == (their_error and their_error.render()), name
        assert node == theirs or (error is not None and node.sql == theirs.sql), name
    assert (one.rendered, one.parsed) == (other.rendered, other.parsed)


def test_a_compile_shared_with_a_helper_equals_one_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path, project_files(120))
    alone = compile_with(root, monkeypatch, helper=False)
    files = {p: p.read_text() for p in sorted((root / "target/compiled").rglob("*.sql"))}

    shared = compile_with(root, monkeypatch, helper=True)

    same(alone, shared)
    assert {p: p.read_text() for p in sorted((root / "target/compiled").rglob("*.sql"))} == files
    assert set(alone.errors) == {"bad_sql", "bad_jinja", "bad_table", "same_a", "same_b"}


def test_the_helper_did_part_of_the_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_project(tmp_path, project_files(120))
    done_here: list[Any] = []
    original = parallel.parse

    def parse_here(item: Any) -> Any:
        done_here.append(item)
        return original(item)

    monkeypatch.setattr(parallel, "parse", parse_here)
    from sqlml.compiler import modelnodes

    monkeypatch.setattr(modelnodes, "parse", parse_here)

    compiled = compile_with(root, monkeypatch, helper=True)

    assert 0 < len(done_here) < compiled.parsed


def test_a_helper_that_dies_leaves_the_work_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path, project_files(60))
    alone = compile_with(root, monkeypatch, helper=False)
    monkeypatch.setattr(parallel.sys, "executable", "/bin/false")  # starts, answers nothing

    shared = compile_with(root, monkeypatch, helper=True)

    same(alone, shared)


def test_a_helper_running_another_sqlml_leaves_the_work_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path, project_files(60))
    alone = compile_with(root, monkeypatch, helper=False)
    monkeypatch.setattr(parallel, "_package", lambda: "/elsewhere/sqlml/compiler")

    shared = compile_with(root, monkeypatch, helper=True)

    same(alone, shared)


def test_vars_that_cannot_be_pickled_keep_the_work_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = project_files(30)
    root = write_project(tmp_path, files)
    monkeypatch.setattr(parallel, "MIN_WORK_MS", 0.0)
    monkeypatch.setattr(parallel, "cores", lambda: 2)

    compiled = compile_project(load_project(root, vars={"limit": 3, "f": lambda: 1}))

    assert set(compiled.errors) == {"bad_sql", "bad_jinja", "bad_table", "same_a", "same_b"}
