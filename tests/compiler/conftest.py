"""Fixtures for compiler tests: write a project from strings and compile it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from sqlml.compiler import CompiledProject, compile_project
from sqlml.project import load_project
from tests.projectfactory import MINIMAL_PROJECT, write_project

CompileFiles = Callable[..., CompiledProject]


@pytest.fixture
def compile_files(tmp_path: Path) -> CompileFiles:
    """Write ``files`` into ``tmp_path`` (with a minimal project.yml unless given) and compile.

    Keyword arguments go to `load_project` (``vars``, ``target``), except ``use_cache`` which
    goes to `compile_project`. Call it again to edit files and recompile the same project.
    """

    def run(
        files: Mapping[str, str] | None = None, *, use_cache: bool = True, **load: Any
    ) -> CompiledProject:
        files = files or {}
        if not (tmp_path / "project.yml").exists() and "project.yml" not in files:
            write_project(tmp_path, {"project.yml": MINIMAL_PROJECT})
        write_project(tmp_path, files)
        return compile_project(load_project(tmp_path, **load), use_cache=use_cache)

    return run
