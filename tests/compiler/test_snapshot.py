"""The whole-project fast path: an unchanged project's nodes are loaded, never stale."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqlml import Context
from sqlml.compiler import CompiledProject, compile_project
from sqlml.compiler import compile as compile_module
from sqlml.compiler.snapshot import SNAPSHOT_FILE
from sqlml.project import load_project
from sqlml.project.inventory import FINE_SETTLE_NS
from tests.compiler.conftest import CompileFiles
from tests.projectfactory import write_project

MODEL_ENV = "SQLML_TEST_SNAPSHOT_MODEL"
JINJA_ENV = "SQLML_TEST_SNAPSHOT_JINJA"
SOURCE_ENV = "SQLML_TEST_SNAPSHOT_SOURCE"
TEST_ENV = "SQLML_TEST_SNAPSHOT_TEST"

FILES = {
    "project.yml": """\
        name: demo
        vars:
          limit: 10
        targets:
          dev: {}
          prod:
            schema: prod
    """,
    "models/a.sql": "select {{ var('limit') }} as x, '{{ env_var('"
    + MODEL_ENV
    + "', 'm') }}' as e",
    "models/b.sql": "{% if true %}select x, '{{ env_var('" + JINJA_ENV + "', 'j') }}' as e "
    "from {{ ref('a') }}{% endif %}",
    "models/c.sql": "select {{ cents('x') }} as y from {{ ref('eph') }}",
    "models/eph.sql": "{{ config(materialized='ephemeral') }}select x from {{ ref('a') }}",
    "models/from_source.sql": "select * from {{ source('raw', 'people') }}",
    "models/props.yml": """\
        models:
          - name: a
            description: A.
            columns:
              - name: x
                data_tests: [not_null, env_test]
        sources:
          - name: raw
            tables:
              - name: people
                file: "{{ env_var('"""
    + SOURCE_ENV
    + """', 'data') }}/people.csv"
    """,
    "macros/money.sql": "{% macro cents(c) %}{{ c }} * 100{% endmacro %}",
    "macros/tests.sql": """\
        {% test env_test(model, column_name) %}
        select * from {{ model }} where '{{ env_var('"""
    + TEST_ENV
    + """', 't') }}' = 'x'
        {% endtest %}
    """,
    "seeds/country.csv": "code,name\nfr,France\n",
    "data_tests/no_negative.sql": "select * from {{ ref('a') }} where x < 0",
}


# The compiled projects that came from a full compile (not from the snapshot).
_full: list[CompiledProject] = []


@pytest.fixture(autouse=True)
def _watch(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (MODEL_ENV, JINJA_ENV, SOURCE_ENV, TEST_ENV):
        monkeypatch.delenv(name, raising=False)
    original = compile_module._compile

    def compile_and_note(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        _full.append(result[0])
        return result

    monkeypatch.setattr(compile_module, "_compile", compile_and_note)
    yield
    _full.clear()


def from_snapshot(compiled: CompiledProject) -> bool:
    return all(full is not compiled for full in _full)


def full_compile(compile_files: CompileFiles, **kw: Any) -> CompiledProject:
    """Compile: it must not come from the snapshot, and agree with a compile from scratch of
    a copy of the project."""
    compiled = compile_files(**kw)
    assert not from_snapshot(compiled)
    assert compiled.errors == {}
    root = compiled.project.root
    copy = root.parent / (root.name + "_copy")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("target"))
    load = {k: v for k, v in kw.items() if k in ("vars", "target")}
    fresh = compile_project(load_project(copy, **load), use_cache=False)
    assert fresh.nodes == compiled.nodes
    return compiled


def files_under(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path): (path.stat().st_mtime_ns, path.stat().st_size)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_an_unchanged_project_is_loaded_whole_and_nothing_is_written(
    compile_files: CompileFiles, tmp_path: Path
) -> None:
    write_project(tmp_path, FILES)
    # Let the files settle: a load right after a write does not keep the project for reuse
    # (see sqlml.project.inventory), so the second compile would write that file.
    time.sleep(FINE_SETTLE_NS * 2 / 1e9)
    first = compile_files()
    assert first.errors == {}
    before = files_under(tmp_path / "target")

    second = compile_files()

    assert from_snapshot(second)
    assert second.nodes == first.nodes
    assert files_under(tmp_path / "target") == before


@pytest.mark.parametrize(
    ("edit", "node", "check"),
    [
        ({"models/a.sql": "select 11 as x"}, "a", lambda n: "11" in n.sql),
        (
            {"models/props.yml": FILES["models/props.yml"].replace("A.", "Changed.")},
            "a",
            lambda n: n.description == "Changed.",
        ),
        (
            {"macros/money.sql": "{% macro cents(c) %}{{ c }} * 1000{% endmacro %}"},
            "c",
            lambda n: "* 1000" in n.sql,
        ),
        (
            {"project.yml": FILES["project.yml"].replace("limit: 10", "limit: 12")},
            "a",
            lambda n: "12 as x" in n.sql,
        ),
        ({"models/d.sql": "select 1 as z"}, "d", lambda n: n.sql == "select 1 as z"),
        (
            {"data_tests/no_negative.sql": "select * from {{ ref('a') }} where x < -1"},
            "no_negative",
            lambda n: "-1" in n.sql,
        ),
    ],
    ids=["model", "properties", "macro", "project-yml", "new-model", "singular-test"],
)
def test_editing_any_file_compiles_again(
    compile_files: CompileFiles, edit: dict[str, str], node: str, check: Any
) -> None:
    compile_files(FILES)

    compiled = full_compile(compile_files, files=edit)

    assert check(compiled.nodes[node])
    assert from_snapshot(compile_files())


def test_a_changed_seed_file_changes_the_seed_fingerprint(
    compile_files: CompileFiles, tmp_path: Path
) -> None:
    first = compile_files(FILES)
    (tmp_path / "seeds/country.csv").write_text("code,name\nde,Germany\n", encoding="utf-8")

    second = full_compile(compile_files)

    assert second.nodes["country"].fingerprint != first.nodes["country"].fingerprint


def test_vars_and_target_are_inputs(compile_files: CompileFiles) -> None:
    compile_files(FILES)

    assert "13 as x" in full_compile(compile_files, vars={"limit": 13}).nodes["a"].sql
    assert full_compile(compile_files, target="prod").nodes["a"].relation.schema == "prod"
    assert from_snapshot(compile_files(target="prod"))
    assert full_compile(compile_files).nodes["a"].relation.schema == "main"


@pytest.mark.parametrize(
    ("variable", "node", "value"),
    [
        (MODEL_ENV, "a", "'model-value' as e"),
        (JINJA_ENV, "b", "'jinja-value' as e"),
        (SOURCE_ENV, "raw.people", "source-value/people.csv"),
        (TEST_ENV, "env_test_a_x", "'test-value' = 'x'"),
    ],
    ids=["fast-path-template", "jinja-template", "source-setting", "custom-test-macro"],
)
def test_environment_variables_read_while_compiling_are_inputs(
    compile_files: CompileFiles,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    node: str,
    value: str,
) -> None:
    compile_files(FILES)
    assert from_snapshot(compile_files())

    monkeypatch.setenv(variable, value.split("'")[1] if "'" in value else value.split("/")[0])
    compiled = full_compile(compile_files)

    assert value in compiled.nodes[node].sql
    assert from_snapshot(compile_files())
    monkeypatch.delenv(variable)
    assert value not in full_compile(compile_files).nodes[node].sql


def test_other_environment_variables_are_not_inputs(
    compile_files: CompileFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    compile_files(FILES)

    monkeypatch.setenv("SQLML_TEST_SNAPSHOT_UNRELATED", "x")

    assert from_snapshot(compile_files())


def test_a_deleted_compiled_file_is_written_again(
    compile_files: CompileFiles, tmp_path: Path
) -> None:
    compile_files(FILES)
    compiled_file = tmp_path / "target/compiled/models/c.sql"
    text = compiled_file.read_text(encoding="utf-8")
    compiled_file.unlink()

    full_compile(compile_files)

    assert compiled_file.read_text(encoding="utf-8") == text


def test_a_compile_with_errors_leaves_no_snapshot_behind(
    compile_files: CompileFiles, tmp_path: Path
) -> None:
    """Reverting to the inputs of an older snapshot must not bring back its nodes while the
    compiled files hold what the failed compile wrote."""
    compile_files(FILES)
    compiled_file = tmp_path / "target/compiled/models/a.sql"
    good = compiled_file.read_text(encoding="utf-8")
    assert compile_files({"models/a.sql": "select 1 as x from nowhere"}).errors

    reverted = full_compile(compile_files, files={"models/a.sql": FILES["models/a.sql"]})

    assert compiled_file.read_text(encoding="utf-8") == good
    assert from_snapshot(compile_files())
    assert reverted.nodes["a"].sql + "\n" == good


def test_compiling_without_the_cache_discards_the_snapshot(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)
    compile_project(load_project(root))
    varied = compile_project(load_project(root, vars={"limit": 99}), use_cache=False)
    assert "99" in (root / "target/compiled/models/a.sql").read_text(encoding="utf-8")
    assert not (root / "target" / SNAPSHOT_FILE).exists()

    again = compile_project(load_project(root))

    assert not from_snapshot(again)
    assert again.nodes["a"].sql != varied.nodes["a"].sql
    assert "99" not in (root / "target/compiled/models/a.sql").read_text(encoding="utf-8")


def test_a_corrupt_snapshot_is_ignored(compile_files: CompileFiles, tmp_path: Path) -> None:
    first = compile_files(FILES)
    (tmp_path / "target" / SNAPSHOT_FILE).write_bytes(b"not a pickle")

    again = compile_files()

    assert not from_snapshot(again)
    assert again.nodes == first.nodes


def test_the_manifest_is_not_rewritten_when_nothing_changed(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)
    Context(root).compile()
    manifest = root / "target/manifest.json"
    written = manifest.stat().st_mtime_ns, manifest.read_text(encoding="utf-8")

    Context(root).compile()
    assert (manifest.stat().st_mtime_ns, manifest.read_text(encoding="utf-8")) == written

    write_project(root, {"models/props.yml": FILES["models/props.yml"].replace("A.", "B.")})
    Context(root).compile()
    assert '"description": "B."' in manifest.read_text(encoding="utf-8")

    manifest.unlink()
    Context(root).compile()
    assert manifest.is_file()


def test_snapshot_and_full_compile_agree_on_every_node(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)
    full = compile_project(load_project(root))

    loaded = compile_project(load_project(root))

    assert from_snapshot(loaded)
    assert list(loaded.nodes) == list(full.nodes)
    for name, node in full.nodes.items():
        assert loaded.nodes[name] == node, name
    assert os.path.isfile(root / "target" / SNAPSHOT_FILE)
