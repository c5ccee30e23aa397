"""Reusing the last loaded project: only while no file it was read from has changed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqlml.project import Project, load_project
from sqlml.project import inventory as inventory_module
from sqlml.project import loader as loader_module
from sqlml.project.inventory import INVENTORY_FILE
from tests.projectfactory import write_project

FILES = {
    "project.yml": """\
        name: demo
        vars:
          limit: 10
        targets:
          dev:
            path: data/warehouse.duckdb
          prod:
            schema: prod
        models:
          +materialized: table
          staging:
            +materialized: view
          missing_folder:
            +tags: [x]
    """,
    "models/a.sql": "select 1 as x",
    "models/staging/b.sql": "select x from {{ ref('a') }}",
    "models/props.yml": "models:\n  - name: a\n    description: A.\n",
    "macros/m.sql": "{% macro m() %}1{% endmacro %}",
    "seeds/country.csv": "code\nfr\n",
    "seeds/seeds.yml": "seeds:\n  - name: country\n    description: Countries.\n",
    "data_tests/t.sql": "select * from {{ ref('a') }} where x < 0",
}

_loads: list[Project] = []


@pytest.fixture(autouse=True)
def _settled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every file counts as settled (written long ago), and full loads are noted."""
    monkeypatch.setattr(inventory_module, "SETTLE_NS", -(10**15))
    monkeypatch.setattr(inventory_module, "FINE_SETTLE_NS", -(10**15))
    original = loader_module._load

    def load_and_note(*args: Any, **kwargs: Any) -> Project:
        project = original(*args, **kwargs)
        _loads.append(project)
        return project

    monkeypatch.setattr(loader_module, "_load", load_and_note)
    yield
    _loads.clear()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project", FILES)


def reused(project: Project) -> bool:
    return all(loaded is not project for loaded in _loads)


def bump(path: Path) -> None:
    """A new modification time, as an edit a clock tick later would leave."""
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))


def test_an_unchanged_project_is_reused(root: Path) -> None:
    first = load_project(root)
    second = load_project(root)

    assert not reused(first)
    assert reused(second)
    assert second == first


@pytest.mark.parametrize(
    ("edit", "check"),
    [
        ({"models/a.sql": "select 2 as x"}, lambda p: p.models[0].sql == "select 2 as x"),
        ({"models/c.sql": "select 3 as z"}, lambda p: [m.name for m in p.models][-1] == "c"),
        (
            {"models/props.yml": "models:\n  - name: a\n    description: AA.\n"},
            lambda p: p.models[0].description == "AA.",
        ),
        (
            {"macros/m.sql": "{% macro m() %}2{% endmacro %}"},
            lambda p: p.macros[0].sql.endswith("2{% endmacro %}"),
        ),
        (
            {"seeds/other.csv": "a\n1\n"},
            lambda p: [s.name for s in p.seeds] == ["country", "other"],
        ),
        (
            {"seeds/seeds.yml": "seeds:\n  - name: country\n    description: Lands.\n"},
            lambda p: p.seeds[0].description == "Lands.",
        ),
        (
            {"data_tests/t.sql": "select * from {{ ref('a') }} where x < 1"},
            lambda p: p.data_tests[0].sql.endswith("x < 1"),
        ),
        ({"data_tests/u.sql": "select 1 as x"}, lambda p: len(p.data_tests) == 2),
        (
            {"project.yml": FILES["project.yml"].replace("limit: 10", "limit: 11")},
            lambda p: p.vars["limit"] == 11,
        ),
        ({"models/missing_folder/d.sql": "select 4 as d"}, lambda p: p.warnings == ()),
        (
            {"models/staging/deeper/e.sql": "select 5 as e"},
            lambda p: (p.models[-1].name, p.models[-1].config["materialized"]) == ("e", "view"),
        ),
    ],
    ids=[
        "edit-model",
        "add-model",
        "edit-properties",
        "edit-macro",
        "add-seed",
        "edit-seed-properties",
        "edit-singular-test",
        "add-singular-test",
        "edit-project-yml",
        "create-configured-folder",
        "add-subfolder",
    ],
)
def test_any_change_to_a_file_read_loads_again(
    root: Path, edit: dict[str, str], check: Any
) -> None:
    before = load_project(root)
    assert not check(before)

    write_project(root, edit)
    after = load_project(root)

    assert not reused(after)
    assert check(after)
    assert reused(load_project(root))


def test_an_edit_of_the_same_size_is_seen(root: Path) -> None:
    load_project(root)
    path = root / "models/a.sql"
    path.write_text("select 9 as x", encoding="utf-8")
    bump(path)

    assert load_project(root).models[0].sql == "select 9 as x"


def test_removing_a_file_loads_again(root: Path) -> None:
    load_project(root)
    (root / "models/staging/b.sql").unlink()

    assert [m.name for m in load_project(root).models] == ["a"]


def test_target_and_vars_are_part_of_the_key(root: Path) -> None:
    load_project(root)

    assert load_project(root, target="prod").target.schema == "prod"
    assert load_project(root, vars={"limit": 3}).vars["limit"] == 3
    assert reused(load_project(root, vars={"limit": 3}))
    assert load_project(root).vars["limit"] == 10


def test_a_retargeted_link_gives_the_new_warehouse_path(root: Path) -> None:
    (root / "one").mkdir()
    (root / "two").mkdir()
    os.symlink(root / "one", root / "data")
    assert load_project(root).target.path == root / "one" / "warehouse.duckdb"

    (root / "data").unlink()
    os.symlink(root / "two", root / "data")

    assert load_project(root).target.path == root / "two" / "warehouse.duckdb"


def test_files_changed_just_before_a_load_are_not_trusted(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inventory_module, "SETTLE_NS", 10**12)  # nothing has settled
    monkeypatch.setattr(inventory_module, "FINE_SETTLE_NS", 10**12)

    load_project(root)

    assert not (root / "target" / INVENTORY_FILE).exists()
    assert not reused(load_project(root))


def test_the_inventory_lives_in_the_configured_target_folder(root: Path) -> None:
    write_project(root, {"project.yml": "name: demo\npaths:\n  target: out\n"})

    load_project(root)

    assert (root / "out" / INVENTORY_FILE).is_file()
    assert reused(load_project(root))


def test_a_corrupt_inventory_is_ignored(root: Path) -> None:
    first = load_project(root)
    (root / "target" / INVENTORY_FILE).write_bytes(b"not a pickle")

    again = load_project(root)

    assert not reused(again)
    assert again == first


@pytest.mark.parametrize(
    ("change_ns", "settled"),
    [
        (1_700_000_000_190_000_001, False),  # fine timestamps, changed 10 ms before
        (1_699_999_999_000_000_000, False),  # whole seconds, changed a second ago
        (1_699_999_990_123_456_789, True),
        (1_699_999_990_000_000_000, True),
    ],
)
def test_how_long_a_change_takes_to_settle_depends_on_timestamp_precision(
    monkeypatch: pytest.MonkeyPatch, change_ns: int, settled: bool
) -> None:
    monkeypatch.undo()  # the real margins
    inventory = inventory_module.Inventory()
    inventory.started = 1_700_000_000_200_000_000
    inventory.stats["f"] = (change_ns, change_ns, 1, 1)

    assert inventory.settled() is settled


def test_vars_that_cannot_be_pickled_load_in_full(root: Path) -> None:
    first = load_project(root, vars={"f": lambda: 1})
    second = load_project(root, vars={"f": lambda: 1})

    assert not reused(first)
    assert not reused(second)
    assert not (root / "target" / INVENTORY_FILE).exists()
