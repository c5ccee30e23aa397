"""Golden pairs: each `golden/<case>.sql` template compiles to `golden/<case>.expected.sql`.

The cases are compiled together as `models/cases/<case>.sql` inside the project in
`golden/project/`, which holds the models and macros they use. To accept new output after an
intended change, run with ``SQLML_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from sqlml.compiler import CompiledProject, compile_project
from sqlml.project import load_project

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("SQLML_UPDATE_GOLDEN") == "1"


def load_cases() -> list[str]:
    """The case names: every template in `golden/` that is not an expected output."""
    return sorted(
        path.name.removesuffix(".sql")
        for path in GOLDEN.glob("*.sql")
        if not path.name.endswith(".expected.sql")
    )


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> CompiledProject:
    root = tmp_path_factory.mktemp("golden")
    shutil.copytree(GOLDEN / "project", root, dirs_exist_ok=True)
    (root / "models/cases").mkdir()
    for case in load_cases():
        shutil.copy(GOLDEN / f"{case}.sql", root / f"models/cases/{case}.sql")
    with pytest.MonkeyPatch.context() as env:
        env.delenv("SQLML_GOLDEN_SURELY_UNSET", raising=False)
        return compile_project(load_project(root), use_cache=False)


def test_there_are_golden_cases() -> None:
    assert len(load_cases()) >= 15


def test_support_models_compile(compiled: CompiledProject) -> None:
    assert compiled.errors == {}


@pytest.mark.parametrize("case", load_cases())
def test_golden(compiled: CompiledProject, case: str) -> None:
    node = compiled.nodes[case]
    assert node.error is None, node.error.render()
    expected_path = GOLDEN / f"{case}.expected.sql"
    if UPDATE:
        expected_path.write_text(node.sql + "\n", encoding="utf-8")

    assert node.sql + "\n" == expected_path.read_text(encoding="utf-8")
    # What runs is also what is written for the user to read.
    written = compiled.project.target_dir / "compiled/models/cases" / f"{case}.sql"
    assert written.read_text(encoding="utf-8") == node.sql + "\n"
