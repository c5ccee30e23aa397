"""Fingerprints change with a node's SQL, config or parents, and with nothing else."""

from __future__ import annotations

import pytest

from tests.compiler.conftest import CompileFiles

FILES = {
    "project.yml": "name: demo\n",
    "models/a.sql": "select 1 as x",
    "models/b.sql": "select x from {{ ref('a') }}",
    "models/c.sql": "select x from {{ ref('b') }}",
    "models/other.sql": "select 1 as y",
    "models/props.yml": "models:\n  - name: b\n    description: B.\n",
}


def fingerprints(compile_files: CompileFiles, files: dict[str, str] | None = None) -> dict:
    compiled = compile_files(files, use_cache=False)
    assert compiled.errors == {}
    return {name: node.fingerprint for name, node in compiled.nodes.items()}


def changed(before: dict, after: dict) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def test_fingerprints_are_stable(compile_files: CompileFiles) -> None:
    first = fingerprints(compile_files, FILES)

    assert fingerprints(compile_files) == first
    assert all(len(f) == 64 for f in first.values())
    assert len(set(first.values())) == len(first)


def test_fingerprints_do_not_depend_on_the_project_folder(
    compile_files: CompileFiles, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from sqlml.compiler import compile_project
    from sqlml.project import load_project
    from tests.projectfactory import write_project

    here = fingerprints(compile_files, FILES)
    elsewhere = write_project(tmp_path_factory.mktemp("elsewhere"), FILES)
    compiled = compile_project(load_project(elsewhere), use_cache=False)

    assert {n: node.fingerprint for n, node in compiled.nodes.items()} == here


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"models/a.sql": "select 2 as x"}, {"a", "b", "c"}),
        ({"models/b.sql": "select x + 0 as x from {{ ref('a') }}"}, {"b", "c"}),
        ({"models/c.sql": "select x as x from {{ ref('b') }}"}, {"c"}),
        (
            {"models/b.sql": "{{ config(materialized='view') }}select x from {{ ref('a') }}"},
            {"b", "c"},
        ),
        ({"models/props.yml": "models:\n  - name: b\n    config:\n      tags: [t]\n"}, {"b", "c"}),
        (
            {"models/props.yml": "models:\n  - name: b\n    config:\n      meta: {o: 1}\n"},
            {"b", "c"},
        ),
        ({"project.yml": "name: demo\nmodels:\n  +schema: s\n"}, {"a", "b", "c", "other"}),
        ({"models/other.sql": "select 2 as y"}, {"other"}),
        ({"models/props.yml": "models:\n  - name: b\n    description: Changed.\n"}, set()),
        ({"models/a.sql": "select 1 as x\n"}, set()),
        ({"project.yml": "name: demo\nvars:\n  unused: 1\n"}, set()),
    ],
    ids=[
        "root-sql",
        "middle-sql",
        "leaf-sql",
        "materialized",
        "tags",
        "meta",
        "schema",
        "unrelated",
        "description",
        "trailing-newline",
        "unused-var",
    ],
)
def test_what_changes_a_fingerprint(
    compile_files: CompileFiles, edit: dict[str, str], expected: set[str]
) -> None:
    before = fingerprints(compile_files, FILES)

    after = fingerprints(compile_files, edit)

    assert changed(before, after) == expected


def test_ephemeral_parent_changes_reach_through_inlining(compile_files: CompileFiles) -> None:
    files = {
        **FILES,
        "models/a.sql": "{{ config(materialized='ephemeral') }}select 1 as x",
    }
    before = fingerprints(compile_files, files)

    after = fingerprints(
        compile_files, {"models/a.sql": "{{ config(materialized='ephemeral') }}select 2 as x"}
    )

    assert changed(before, after) == {"a", "b", "c"}
