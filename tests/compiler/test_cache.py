"""The compile cache: unchanged files are neither rendered nor parsed again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compiler.conftest import CompileFiles

ENV = "SQLML_TEST_CACHE_REGION"
FAST_ENV = "SQLML_TEST_CACHE_UNIT"
FILES = {
    "project.yml": "name: demo\nvars:\n  limit: 10\n",
    "models/a.sql": "select {{ var('limit') }} as x",
    "models/b.sql": "select x from {{ ref('a') }}",
    # Through Jinja, so the env var is read by the Jinja path.
    "models/c.sql": "{% if true %}select '{{ env_var('" + ENV + "', 'eu') }}' as region{% endif %}",
    # Through the fast path.
    "models/d.sql": "select 1 as y, '{{ env_var('" + FAST_ENV + "', 'kg') }}' as unit",
}


@pytest.fixture(autouse=True)
def _no_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.delenv(FAST_ENV, raising=False)


def counts(
    compile_files: CompileFiles, files: dict[str, str] | None = None, **kw: Any
) -> tuple[int, int]:
    compiled = compile_files(files, **kw)
    assert compiled.errors == {}
    return compiled.rendered, compiled.parsed


def test_second_compile_renders_and_parses_nothing(compile_files: CompileFiles) -> None:
    assert counts(compile_files, FILES) == (4, 4)
    assert counts(compile_files) == (0, 0)


def test_second_compile_gives_the_same_nodes(compile_files: CompileFiles) -> None:
    first = compile_files(FILES)
    second = compile_files()

    assert second.nodes == first.nodes


def test_without_cache_everything_is_rendered(compile_files: CompileFiles) -> None:
    compile_files(FILES)

    assert counts(compile_files, use_cache=False) == (4, 4)


def test_editing_one_file_rerenders_only_it(compile_files: CompileFiles) -> None:
    compile_files(FILES)

    assert counts(compile_files, {"models/d.sql": "select 2 as y"}) == (1, 1)
    assert counts(compile_files) == (0, 0)


def test_an_edit_that_renders_the_same_sql_is_not_parsed_again(
    compile_files: CompileFiles,
) -> None:
    compile_files(FILES)

    assert counts(compile_files, {"models/a.sql": "select {{ var( 'limit' ) }} as x"}) == (1, 0)


def test_editing_a_parent_reparses_nothing_else(compile_files: CompileFiles) -> None:
    compile_files(FILES)

    # b's rendered SQL only names a's relation, which did not change.
    assert counts(compile_files, {"models/a.sql": "select 11 as x"}) == (1, 1)


def test_changing_a_var_rerenders_everything(compile_files: CompileFiles) -> None:
    compile_files(FILES)

    # Only a's SQL changes, so only it is parsed again.
    assert counts(compile_files, vars={"limit": 20}) == (4, 1)
    assert counts(compile_files, vars={"limit": 20}) == (0, 0)
    # Only parses still in use are kept, so going back parses a's old SQL again.
    assert counts(compile_files) == (4, 1)


def test_changing_project_yml_rerenders_everything(compile_files: CompileFiles) -> None:
    compile_files(FILES)

    assert counts(compile_files, {"project.yml": "name: demo\nvars:\n  limit: 10\n# x\n"}) == (4, 0)


def test_changing_an_env_var_rerenders_the_templates_that_read_it(
    compile_files: CompileFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    compile_files(FILES)

    monkeypatch.setenv(ENV, "us")
    assert counts(compile_files) == (1, 1)
    assert compile_files().nodes["c"].sql == "select 'us' as region"
    assert counts(compile_files) == (0, 0)

    monkeypatch.delenv(ENV)
    assert counts(compile_files) == (1, 1)
    assert compile_files().nodes["c"].sql == "select 'eu' as region"

    monkeypatch.setenv(FAST_ENV, "lb")
    assert counts(compile_files) == (1, 1)
    assert compile_files().nodes["d"].sql == "select 1 as y, 'lb' as unit"


def test_a_failed_render_is_retried(compile_files: CompileFiles) -> None:
    compiled = compile_files({"models/a.sql": "select {{ nope }}"})
    assert list(compiled.errors) == ["a"]

    again = compile_files()

    assert again.rendered == 1
    assert list(again.errors) == ["a"]


def test_a_corrupt_cache_is_ignored(compile_files: CompileFiles) -> None:
    compiled = compile_files(FILES)
    (compiled.project.target_dir / ".cache/compile.pickle").write_bytes(b"not a pickle")

    again = compile_files()

    assert (again.rendered, again.parsed) == (4, 4)
    assert again.nodes == compiled.nodes
