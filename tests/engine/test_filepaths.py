"""Relative file reads are anchored to the project folder only where the working directory
would shadow them, and only where the SQL reads a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlml.engine.filepaths import anchor_file_reads

SQL = (
    "create table t as\n"
    "select *, 'data/x.csv' as source, 'label' as kind, '' as empty, \"\" as none\n"
    "from read_csv(['data/x.csv', 'data/missing.csv']) join \"data/y.parquet\" using (id)\n"
    "where name <> 'data/x.csv'"
)


def test_only_file_reads_that_the_working_directory_shadows_are_anchored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    for folder in (root, elsewhere):
        (folder / "data").mkdir(parents=True)
        for name in ("x.csv", "y.parquet"):
            (folder / "data" / name).write_text("id\n1\n")
    monkeypatch.chdir(elsewhere)

    anchored = anchor_file_reads(SQL, root)
    monkeypatch.chdir(root)
    at_home = anchor_file_reads(SQL, root)

    assert anchored == (
        "create table t as\n"
        "select *, 'data/x.csv' as source, 'label' as kind, '' as empty, \"\" as none\n"
        f"from read_csv(['{root}/data/x.csv', 'data/missing.csv']) "
        f'join "{root}/data/y.parquet" using (id)\n'
        "where name <> 'data/x.csv'"
    )
    assert at_home is SQL
