"""`sqlml retry`: the failed and skipped nodes of the last run, with its command and flags."""

from __future__ import annotations

import json
from pathlib import Path

from sqlml import Context
from tests.data.helpers import invoke, statuses, timeless
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import query

FILES = {
    "project.yml": MINIMAL_PROJECT + "vars:\n  factor: 1\n",
    "models/a.sql": "select 1 as id, 10 as amount",
    "models/b.sql": "select id, amount * {{ var('factor') }} as total, oops from {{ ref('a') }}",
    "models/c.sql": "select id, total from {{ ref('b') }}",
    "models/d.sql": "select 2 as id",
    "models/_models.yml": """\
        models:
          - name: b
            columns:
              - name: id
                data_tests: [unique]
    """,
}
FIXED = {"models/b.sql": "select id, amount * {{ var('factor') }} as total from {{ ref('a') }}"}


def failed_run(tmp_path: Path, *args: str) -> Path:
    root = write_project(tmp_path, FILES)
    result = invoke(root, *args, "--threads", "1")
    assert result.exit_code == 1, result.output
    write_project(root, FIXED)
    return root


def test_retry_runs_only_the_failed_node_and_its_skipped_downstream(tmp_path: Path) -> None:
    root = failed_run(tmp_path, "run")

    result = invoke(root, "retry")

    assert result.exit_code == 0, result.output
    assert timeless(result.stdout) == (
        f"Retrying sqlml run {last_run_id(root, 1)[:8]}: 1 failed node, 1 skipped node.\n"
        "Retrying (run) 2 nodes of project 'demo' on target 'dev' (warehouse.duckdb)\n"
        "1/2 OK    b (table main.b, 1 row) in 0.00s\n"
        "2/2 OK    c (table main.c, 1 row) in 0.00s\n"
        "Done in 0.00s: 2 succeeded, 0 failed, 0 skipped.\n"
    )
    assert query(root, "select * from main.c") == [(1, 10)]
    runs = query(root, "select command, status, invocation from _sqlml.runs order by started_at")
    assert [(command, status) for command, status, _ in runs] == [
        ("run", "error"),
        ("run", "success"),
    ]
    flags = json.loads(runs[1][2])
    assert flags["nodes"] == ["b", "c"] and flags["retry_of"] == last_run_id(root, 1)

    again = invoke(root, "retry")
    assert again.exit_code == 0
    assert again.stdout.startswith("The last run (sqlml run, started ")
    assert again.stdout.endswith(" UTC) succeeded: nothing to retry.\n")


def test_retry_reuses_the_command_and_its_flags(tmp_path: Path) -> None:
    root = failed_run(tmp_path, "build", "-s", "a+", "--exclude", "c", "--vars", "{factor: 3}")

    result = Context(root).retry()

    assert result is not None and result.command == "build"
    # b's test was skipped with it; c was never selected; the vars are the failed run's.
    assert statuses(result) == {"b": "success", "unique_b_id": "success"}
    assert query(root, "select total from main.b") == [(30,)]
    assert query(root, "select count(*) from duckdb_tables() where table_name = 'c'") == [(0,)]


def test_given_vars_and_threads_win_over_the_last_runs(tmp_path: Path) -> None:
    root = failed_run(tmp_path, "run", "--vars", "{factor: 3}")

    result = Context(root, vars={"factor": 5}).retry(threads=1)

    assert result is not None and result.success
    assert query(root, "select total from main.c") == [(50,)]
    flags = json.loads(query(root, "select invocation from _sqlml.runs order by started_at")[1][0])
    assert flags["vars"] == {"factor": 5} and flags["threads"] == 1


def test_a_retry_that_fails_again_is_retried_from_what_is_still_failing(tmp_path: Path) -> None:
    root = failed_run(tmp_path, "run")
    write_project(root, {"models/c.sql": "select id, nope from {{ ref('b') }}"})

    first = Context(root).retry()
    assert first is not None and statuses(first) == {"b": "success", "c": "error"}
    write_project(root, {"models/c.sql": FILES["models/c.sql"]})

    second = Context(root).retry()

    assert second is not None and statuses(second) == {"c": "success"}


def test_a_killed_run_is_run_again_whole(tmp_path: Path) -> None:
    root = failed_run(tmp_path, "run", "-s", "+c")
    # What a run killed before it finished leaves: its row still 'running', no node results.
    import duckdb

    with duckdb.connect(str(root / "warehouse.duckdb")) as connection:
        connection.execute("update _sqlml.runs set status = 'running'")
        connection.execute("delete from _sqlml.node_results")

    result = invoke(root, "retry")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        f"The last run (sqlml run {last_run_id(root, 1)[:8]}) did not finish: "
        "running it again whole."
    )
    assert [line.split()[2] for line in result.stdout.splitlines()[2:-1]] == ["a", "b", "c"]


def test_retry_without_a_previous_run_says_so(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)

    result = invoke(root, "retry")

    assert result.exit_code == 2
    assert "Error: no run recorded in the warehouse: nothing to retry" in result.stderr


def last_run_id(root: Path, position: int) -> str:
    rows = query(root, "select run_id from _sqlml.runs order by started_at")
    return str(rows[position - 1][0])


def test_a_warehouse_written_before_flags_were_kept(tmp_path: Path) -> None:
    root = failed_run(tmp_path, "run")
    import duckdb

    with duckdb.connect(str(root / "warehouse.duckdb")) as connection:
        connection.execute("alter table _sqlml.runs drop column invocation")

    result = Context(root).retry()

    assert result is not None and statuses(result) == {"b": "success", "c": "success"}


def test_retry_repeats_a_full_refresh_for_the_nodes_that_missed_it(tmp_path: Path) -> None:
    # Appending without a filter duplicates every row: only a full refresh keeps one copy each.
    inc = "{{ config(materialized='incremental') }} select * from {{ ref('a') }}"
    root = write_project(tmp_path, {**FILES, **FIXED, "models/inc.sql": inc})
    assert invoke(root, "run", "-s", "a inc").exit_code == 0
    write_project(root, {"models/inc.sql": inc.replace("*", "*, missing")})
    assert invoke(root, "run", "-s", "a inc", "--full-refresh").exit_code == 1
    write_project(root, {"models/inc.sql": inc})

    result = invoke(root, "retry")

    assert result.exit_code == 0, result.output
    assert query(root, "select * from main.inc") == [(1, 10)]
    runs = query(root, "select invocation from _sqlml.runs order by started_at")
    assert json.loads(runs[-1][0])["full_refresh"] is True
