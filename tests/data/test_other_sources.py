"""Sources copied from another DuckDB file, sources that must already exist, a Python source."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from sqlml import Context
from sqlml.plan.types import Step
from tests.data.helpers import invoke, message, statuses
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import Recorder, query, relations

CRM = """\
    sources:
      - name: crm
        tables:
          - name: accounts
            duckdb: {path: other.duckdb, table: sales.accounts}
          - name: big_accounts
            duckdb: {path: other.duckdb, query: "select id, name from sales.accounts where id > 0"}
          - name: regions
            duckdb: {path: other.duckdb, query: "select * from regions"}
"""


def write_other(path: Path) -> None:
    """A second DuckDB file with a table in a schema and one in main."""
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "create schema sales;"
            "create table sales.accounts as select range as id, 'acct ' || range as name "
            "from range(3);"
            "create table regions as select * from (values ('eu'), ('na')) t(region)"
        )


@pytest.fixture
def crm(tmp_path: Path) -> Path:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/_sources.yml": CRM,
            "models/account_count.sql": "select count(*) as n from {{ source('crm', 'accounts') }}",
        },
    )
    write_other(root / "other.duckdb")
    return root


def test_a_duckdb_table_lands_in_the_source_schema(crm: Path) -> None:
    result = Context(crm).run(select=["crm.accounts+"])

    assert statuses(result) == {"crm.accounts": "success", "account_count": "success"}
    assert query(crm, "select * from crm.accounts order by id") == [
        (0, "acct 0"),
        (1, "acct 1"),
        (2, "acct 2"),
    ]
    assert query(crm, "select n from main.account_count") == [(3,)]


def test_a_duckdb_query_runs_in_the_other_file(crm: Path) -> None:
    result = Context(crm).run(select=["crm.big_accounts", "crm.regions"], threads=1)

    assert statuses(result) == {"crm.big_accounts": "success", "crm.regions": "success"}
    assert query(crm, "select * from crm.big_accounts order by id") == [
        (1, "acct 1"),
        (2, "acct 2"),
    ]
    assert query(crm, "select * from crm.regions order by region") == [("eu",), ("na",)]


class Rendezvous(Recorder):
    """Holds each started step until ``parties`` steps have started, so they overlap."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=10)

    def started(self, step: Step) -> None:
        super().started(step)
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait()


def test_duckdb_sources_land_at_the_same_time(tmp_path: Path) -> None:
    tables = "".join(
        f"      - name: t{i}\n        duckdb: {{path: other.duckdb, table: sales.accounts}}\n"
        for i in range(4)
    )
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/_sources.yml": f"sources:\n  - name: crm\n    tables:\n{tables}",
        },
    )
    write_other(root / "other.duckdb")

    result = Context(root, listener=Rendezvous(parties=4)).run(threads=4)

    assert statuses(result) == {f"crm.t{i}": "success" for i in range(4)}, [
        r.message for r in result.results
    ]
    for i in range(4):
        assert query(root, f"select count(*) from crm.t{i}") == [(3,)]


def test_a_missing_duckdb_file_fails_with_the_path(crm: Path) -> None:
    assert Context(crm).run(select=["crm.accounts"]).success
    (crm / "other.duckdb").unlink()

    result = invoke(crm, "run", "-s", "crm.accounts")

    assert result.exit_code == 1
    assert result.stderr.endswith(
        "source 'crm.accounts' failed: no DuckDB file at other.duckdb\n"
        "hint: check `duckdb: path:` (relative to the project folder)\n"
    )
    assert "model 'crm.accounts'" not in result.stderr
    assert query(crm, "select count(*) from crm.accounts") == [(3,)]


EXISTING = """\
    sources:
      - name: ext
        tables:
          - name: ready
            columns:
              - {name: id, data_type: integer}
              - {name: label}
          - name: absent
"""


def test_an_existing_source_passes_when_the_table_has_the_declared_columns(
    tmp_path: Path,
) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/_sources.yml": EXISTING,
            "models/labels.sql": "select label from {{ source('ext', 'ready') }}",
        },
    )
    with duckdb.connect(str(root / "warehouse.duckdb")) as connection:
        connection.execute(
            "create schema ext; create table ext.ready (id integer, label varchar, extra date);"
            "insert into ext.ready values (1, 'one', null)"
        )

    result = Context(root).run(select=["ext.ready+"])

    assert statuses(result) == {"ext.ready": "success", "labels": "success"}
    assert query(root, "select * from main.labels") == [("one",)]
    assert query(root, "select * from ext.ready") == [(1, "one", None)]  # left as it was


def test_an_existing_source_that_does_not_exist_fails(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/_sources.yml": EXISTING,
            "models/from_absent.sql": "select * from {{ source('ext', 'absent') }}",
        },
    )

    result = invoke(root, "run", "-s", "+from_absent")

    assert result.exit_code == 1
    assert "SKIP  from_absent (upstream 'ext.absent' failed)" in result.stdout
    assert result.stderr.endswith(
        "source 'ext.absent' failed: table ext.absent does not exist\n"
        "hint: create it, or say where to load it from (file, duckdb, sqlite, postgres or "
        "python) in the source's YAML\n"
    )
    assert "model 'ext.absent'" not in result.stderr
    assert relations(root) == {}


def test_an_existing_source_with_other_columns_fails(tmp_path: Path) -> None:
    root = write_project(
        tmp_path, {"project.yml": MINIMAL_PROJECT, "models/_sources.yml": EXISTING}
    )
    with duckdb.connect(str(root / "warehouse.duckdb")) as connection:
        connection.execute("create schema ext; create table ext.ready (id varchar, other int)")

    result = Context(root).run(select=["ext.ready"])

    error = message(result, "ext.ready")
    assert (
        "'ext.ready' does not match its declared columns: "
        "column 'id' is VARCHAR, declared INTEGER; missing column 'label'"
    ) in error
    # Nothing was built or replaced: the hint must not speak of a previous table or of SQL.
    assert "previous table" not in error
    assert "model 'ext.ready'" not in error


@pytest.fixture
def isolated_imports(tmp_path: Path) -> Iterator[None]:
    """Forget the modules a test imported from its project folder."""
    path = list(sys.path)
    yield
    sys.path[:] = path
    folder = str(tmp_path.resolve())
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(folder):
            del sys.modules[name]


def test_a_python_source_lands_what_the_function_returns(
    tmp_path: Path, isolated_imports: None
) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/_sources.yml": """\
                sources:
                  - name: api
                    tables:
                      - name: squares
                        python: {function: "connectors_e2e.squares:fetch", args: {n: 4}}
                        columns:
                          - {name: id, data_type: bigint}
                          - {name: square, data_type: bigint}
            """,
            "connectors_e2e/__init__.py": "",
            "connectors_e2e/squares.py": """\
                def fetch(n):
                    return [{"id": i, "square": i * i} for i in range(n)]
            """,
            "models/square_sum.sql": "select sum(square) as s from {{ source('api', 'squares') }}",
        },
    )

    result = Context(root).run()

    assert statuses(result) == {"api.squares": "success", "square_sum": "success"}
    assert query(root, "select * from api.squares order by id") == [
        (0, 0),
        (1, 1),
        (2, 4),
        (3, 9),
    ]
    assert query(root, "select s from main.square_sum") == [(14,)]
