"""The warehouse lock: one writing command at a time, with real processes on real files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sqlml import Context
from sqlml.cli.main import cli
from sqlml.engine import connect
from sqlml.engine.lock import WarehouseLock, current_holder, lock_path
from sqlml.errors import ExecutionError
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import held_open, relations

# A writing sqlml command in another process: it opens the warehouse as `sqlml run` does,
# says so, and holds it until told to go (a line on stdin) or killed.
_HOLDER = """
import sys
from sqlml import Context

engine = Context(sys.argv[1]).connect()
engine.execute("create table if not exists main.by_holder as select 1 as id")
print("held", flush=True)
sys.stdin.readline()
engine.close()
print("released", flush=True)
sys.stdin.readline()
"""


@contextmanager
def holder_process(root: Path) -> Iterator[subprocess.Popen[str]]:
    script = root / "hold_warehouse.py"
    script.write_text(_HOLDER)
    process = subprocess.Popen(
        [sys.executable, str(script), str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        assert process.stdout.readline() == "held\n"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="sqlml")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(
        tmp_path, {"project.yml": MINIMAL_PROJECT, "models/a.sql": "select 1 as x"}
    )


def test_a_lock_excludes_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    first = WarehouseLock(warehouse, "sqlml run -s a")
    second = WarehouseLock(warehouse, "sqlml seed")

    assert first.acquire(0) is None and first.held
    holder = second.acquire(0)

    assert not second.held
    assert holder is not None
    assert (holder.pid, holder.command) == (os.getpid(), "sqlml run -s a")
    assert current_holder(warehouse) == holder
    first.release()
    assert current_holder(warehouse) is None
    assert second.acquire(0) is None and second.held
    second.release()


@pytest.mark.slow
def test_a_second_run_gives_up_after_the_timeout_naming_the_holder(project: Path) -> None:
    with holder_process(project) as holder:
        result = invoke("run", "--project-dir", project, "--lock-timeout", "0.2")

    assert result.exit_code == 2
    warehouse = project / "warehouse.duckdb"
    first, hint = result.stderr.splitlines()[-2:]
    assert first.startswith(f"Error: warehouse {warehouse} is in use by pid {holder.pid} on ")
    assert f"`hold_warehouse.py {project}`, started 20" in first
    assert first.endswith(" UTC; gave up after waiting 0.2 s")
    assert hint == (
        "hint: let that command finish, or wait longer with --lock-timeout SECONDS "
        "(or lock_timeout in project.yml); a lock whose process died is freed at once"
    )
    assert ("main", "a") not in relations(project)  # nothing was written


@pytest.mark.slow
def test_a_killed_holder_leaves_no_stale_lock(project: Path) -> None:
    with holder_process(project) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        assert lock_path(project / "warehouse.duckdb").exists()  # the file stays behind...

        result = invoke("run", "--project-dir", project, "--lock-timeout", "0")

    assert result.exit_code == 0, result.output  # ...but the lock died with its process
    assert relations(project)[("main", "a")] == "table"


@pytest.mark.slow
def test_a_waiting_run_goes_on_once_the_holder_finishes(project: Path) -> None:
    with holder_process(project) as holder:
        assert holder.stdin is not None and holder.stdout is not None
        run = subprocess.Popen(
            [sys.executable, "-m", "sqlml", "run", "--project-dir", str(project)],
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert run.stderr is not None
        note = run.stderr.readline()  # the run says what it waits for, then waits
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == "released\n"
        _out, err = run.communicate(timeout=120)

    assert note.startswith(f"Note: waiting up to 60 s for pid {holder.pid} on ")
    assert run.returncode == 0, err
    assert relations(project) == {("main", "a"): "table", ("main", "by_holder"): "table"}


def test_read_only_commands_work_while_a_run_holds_the_warehouse(project: Path) -> None:
    assert invoke("run", "--project-dir", project).exit_code == 0

    with holder_process(project) as holder:
        listed = invoke("ls", "--project-dir", project)
        compiled = invoke("compile", "--project-dir", project)
        planned = invoke("plan", "--project-dir", project)

    assert (listed.exit_code, compiled.exit_code, planned.exit_code) == (0, 0, 0)
    assert planned.stderr.startswith(
        f"Warning: could not read the warehouse (it is being written by pid {holder.pid} on "
    )


def test_another_program_holding_the_file_is_waited_for_then_named(project: Path) -> None:
    warehouse = project / "warehouse.duckdb"

    with held_open(warehouse), pytest.raises(ExecutionError) as caught:
        Context(project, lock_timeout=0.2).run()

    error = caught.value
    assert error.exit_code == 2
    assert error.message.startswith(f"cannot open warehouse {warehouse}: IO Error: Could not set")
    assert error.hint is not None
    assert error.hint.startswith("another program (python")
    assert error.hint.endswith(
        "has the database file open (a BI tool, an IDE?): close it, "
        "or wait longer with --lock-timeout SECONDS"
    )
    assert current_holder(warehouse) is None  # the run let go of the sqlml lock as it failed


def test_memory_and_read_only_connections_take_no_lock(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    connect(warehouse).close()
    lock = WarehouseLock(warehouse, "someone else")
    assert lock.acquire(0) is None

    reader = connect(warehouse, read_only=True, lock_timeout=0)
    memory = connect(":memory:", lock_timeout=0)

    assert reader.execute("select 1") == [(1,)]
    assert memory.execute("select 1") == [(1,)]
    reader.close()
    memory.close()
    lock.release()


def test_a_second_writer_in_the_same_process_fails_at_once(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    first = connect(warehouse, lock_timeout=0)

    with pytest.raises(ExecutionError) as caught:
        connect(warehouse, lock_timeout=3600)  # waiting for ourselves could never end well

    assert caught.value.render() == (
        f"warehouse {warehouse} is already open for writing in this process\n"
        "hint: close the other engine first (engine.close()), or use it"
    )
    first.close()
    connect(warehouse, lock_timeout=0).close()


def test_a_writer_waits_while_this_process_reads_the_file(tmp_path: Path) -> None:
    """`sqlml serve` keeps a read-only connection: a writer in its process waits it out."""
    import threading
    import time

    import duckdb

    warehouse = tmp_path / "w.duckdb"
    connect(warehouse).close()
    reader = duckdb.connect(str(warehouse), read_only=True)
    notes: list[str] = []
    opened: list[object] = []
    writer = threading.Thread(
        target=lambda: opened.append(connect(warehouse, lock_timeout=60, on_wait=notes.append))
    )
    writer.start()
    deadline = time.monotonic() + 60
    while not notes and writer.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)  # until the writer says it waits
    reader.close()
    writer.join(timeout=60)

    assert notes == [
        f"waiting up to 60 s for another connection of this process to close {warehouse}"
    ]
    engine = opened[0]
    assert engine.execute("select 42") == [(42,)]  # type: ignore[attr-defined]
    engine.close()  # type: ignore[attr-defined]
