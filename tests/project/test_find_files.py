"""Finding project files without pathlib finds what `sorted(Path.rglob(...))` finds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sqlml.project.files import file_stem, find_files

TREE = [
    "models/a.sql",
    "models/a-b/x.sql",
    "models/a/x.sql",
    "models/a/deeper/y.sql",
    "models/B.sql",
    "models/.hidden.sql",
    "models/notes.txt",
    "models/schema.yml",
    "models/a/more.yaml",
    "models/dir.sql/inside.sql",  # a folder named like a model
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for rel in TREE:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("select 1", encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "linked.sql").write_text("select 2", encoding="utf-8")
    os.symlink(outside, tmp_path / "models" / "linked_folder")
    os.symlink(outside / "linked.sql", tmp_path / "models" / "link_to_file.sql")
    os.symlink(tmp_path / "nowhere.sql", tmp_path / "models" / "broken.sql")
    return tmp_path


def pathlib_finds(root: Path, folder: str, suffix: str, *, files_only: bool) -> list[str]:
    found = sorted(Path(root, folder).rglob("*" + suffix))
    return [p.relative_to(root).as_posix() for p in found if not files_only or p.is_file()]


@pytest.mark.parametrize("files_only", [True, False])
@pytest.mark.parametrize("folder", ["models", "models/a", "./models", "missing"])
def test_finds_what_pathlib_finds_in_the_same_order(
    root: Path, folder: str, files_only: bool
) -> None:
    suffixes = (".sql", ".yml", ".yaml")
    found = find_files(
        str(root), folder, suffixes, files_only=set(suffixes) if files_only else set()
    )

    for suffix in suffixes:
        assert found[suffix] == pathlib_finds(root, folder, suffix, files_only=files_only)


@pytest.mark.parametrize("name", ["a.sql", "a.b.sql", ".sql", "..sql", "a.", "plain", ".x.sql"])
def test_stem_is_pathlibs(name: str) -> None:
    assert file_stem(f"models/{name}") == Path(name).stem
