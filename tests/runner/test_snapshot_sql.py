"""Golden files for the SQL that keeps a snapshot's history: `snapshot_golden/<case>.sql`.

Each case is a spec and a shape; its statements, separated by `;` lines, are compared with
the file. To accept new output after an intended change, run with ``SQLML_UPDATE_GOLDEN=1``
and review the diff.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sqlml.relation import Relation
from sqlml.runner import snapshot_sql as sql
from sqlml.snapshotspec import SnapshotSpec

GOLDEN = Path(__file__).parent / "snapshot_golden"
UPDATE = os.environ.get("SQLML_UPDATE_GOLDEN") == "1"
TARGET = Relation("snapshots", "customers", "warehouse")
NOW = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
COLUMNS = ("customer_id", "country", "segment", "updated_at")


def spec(**changes: object) -> SnapshotSpec:
    values: dict[str, object] = {
        "unique_key": ("customer_id",),
        "strategy": "timestamp",
        "updated_at": "updated_at",
        "check_cols": None,
        "hard_deletes": "ignore",
        "path": "snapshots/customers.sql",
    }
    values.update(changes)
    return SnapshotSpec(**values)  # type: ignore[arg-type]


def shape(time_type: str = "TIMESTAMP", kept: tuple[str, ...] = COLUMNS) -> sql.Shape:
    return sql.Shape(TARGET, COLUMNS, time_type, NOW, kept)


CHECK = {"strategy": "check", "updated_at": None}
CASES: dict[str, list[str]] = {
    "stage": [sql.stage('select * from "warehouse"."main"."stg_customers"')],
    "checks_composite_key": [
        sql.duplicate_keys(spec(unique_key=("region", "customer_id"))),
        sql.null_counts(spec(unique_key=("region", "customer_id"))),
    ],
    "checks_check_strategy": [sql.null_counts(spec(**CHECK))],
    "create_timestamp": [sql.create(spec(), shape())],
    "create_check": [sql.create(spec(**CHECK), shape(sql.NOW_TYPE))],
    "merge_timestamp": sql.merge(spec(), shape()),
    "merge_timestamp_invalidate": sql.merge(spec(hard_deletes="invalidate"), shape()),
    "merge_check_columns": sql.merge(
        spec(**CHECK, check_cols=("country", "segment")), shape(sql.NOW_TYPE)
    ),
    "merge_check_all_new_column": sql.merge(
        spec(**CHECK, unique_key=("customer_id", "country"), hard_deletes="invalidate"),
        shape("DATE", kept=("customer_id", "country", "updated_at")),
        ["VARCHAR"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    text = ";\n\n".join(CASES[case]) + ";\n"
    path = GOLDEN / f"{case}.sql"
    if UPDATE:
        path.write_text(text, encoding="utf-8")

    assert text == path.read_text(encoding="utf-8")


def test_every_golden_file_has_a_case() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.sql")) == sorted(CASES)
