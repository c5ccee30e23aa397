"""Schema changes: the columns of every built relation, per run, and what changed since the
previous build, in the state schema and in the CLI's output."""

from __future__ import annotations

from pathlib import Path

from sqlml import Context
from tests.data.helpers import invoke, timeless
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import query

FIRST = "select 1 as id, 'x' as label, 2.5 as amount"
SECOND = "select 1::bigint as id, 2.5 as amount, true as flag"


def test_schema_changes_are_recorded_and_printed(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/m.sql": FIRST,
            "models/steady.sql": "select 1 as id",
        },
    )
    first = invoke(root, "run", "--threads", "1")
    assert first.exit_code == 0, first.output
    assert "Schema changes" not in first.stdout
    write_project(root, {"models/m.sql": SECOND})

    second = invoke(root, "run", "--threads", "1")

    assert second.exit_code == 0, second.output
    assert timeless(second.stdout) == (
        "Running 2 nodes of project 'demo' on target 'dev' (warehouse.duckdb)\n"
        "1/2 OK    m (table main.m, 1 row) in 0.00s\n"
        "2/2 OK    steady (table main.steady, 1 row) in 0.00s\n"
        "Done in 0.00s: 2 succeeded, 0 failed, 0 skipped.\n"
        "Schema changes since the previous build:\n"
        "  m: column 'flag' added (BOOLEAN)\n"
        "  m: column 'label' removed (was VARCHAR)\n"
        "  m: column 'id' changed from INTEGER to BIGINT\n"
    )
    (run_id,) = query(root, "select run_id from _sqlml.runs order by started_at desc limit 1")[0]
    assert query(
        root,
        "select run_id, node, change, column_name, old_type, new_type "
        "from _sqlml.schema_changes order by all",
    ) == [
        (run_id, "m", "added", "flag", None, "BOOLEAN"),
        (run_id, "m", "removed", "label", "VARCHAR", None),
        (run_id, "m", "type_changed", "id", "INTEGER", "BIGINT"),
    ]


def test_relation_columns_are_recorded_for_every_run(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"project.yml": MINIMAL_PROJECT, "models/m.sql": FIRST})
    first = Context(root).run()
    write_project(root, {"models/m.sql": SECOND})
    second = Context(root).run()
    third = Context(root).run()

    assert third.schema_changes == ()
    rows = query(
        root,
        "select run_id, node, relation, position, column_name, data_type "
        "from _sqlml.relation_columns order by run_id, position",
    )
    relation = '"warehouse"."main"."m"'
    by_run = {
        run.run_id: [row[1:] for row in rows if row[0] == run.run_id]
        for run in (first, second, third)
    }
    assert by_run[first.run_id] == [
        ("m", relation, 1, "id", "INTEGER"),
        ("m", relation, 2, "label", "VARCHAR"),
        ("m", relation, 3, "amount", "DECIMAL(2,1)"),
    ]
    expected = [
        ("m", relation, 1, "id", "BIGINT"),
        ("m", relation, 2, "amount", "DECIMAL(2,1)"),
        ("m", relation, 3, "flag", "BOOLEAN"),
    ]
    assert by_run[second.run_id] == expected
    assert by_run[third.run_id] == expected
    assert [str(change) for change in second.schema_changes] == [
        "m: column 'flag' added (BOOLEAN)",
        "m: column 'label' removed (was VARCHAR)",
        "m: column 'id' changed from INTEGER to BIGINT",
    ]
    assert query(root, "select count(distinct run_id) from _sqlml.schema_changes") == [(1,)]


def test_a_failed_build_records_no_columns_and_no_changes(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"project.yml": MINIMAL_PROJECT, "models/m.sql": FIRST})
    assert Context(root).run().success
    write_project(root, {"models/m.sql": "select error('boom') as id"})

    failed = Context(root).run()

    assert failed.schema_changes == ()
    assert query(
        root, "select count(*) from _sqlml.relation_columns where run_id = ?", [failed.run_id]
    ) == [(0,)]
    write_project(root, {"models/m.sql": SECOND})
    # Compared with the last successful build, not with the failed attempt.
    assert [c.change for c in Context(root).run().schema_changes] == [
        "added",
        "removed",
        "type_changed",
    ]
