"""The `sqlml` command: help, init, run, ls, plan, compile; exit codes and exact output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from sqlml import __version__
from sqlml.cli.main import cli
from sqlml.errors import GraphError
from tests.projectfactory import write_project
from tests.runner.helpers import held_open, query, relations

README = Path(__file__).resolve().parents[2] / "README.md"
COMMANDS = sorted(cli.commands)


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="sqlml")


def timeless(text: str) -> str:
    """Output with every duration set to 0.00s, so it can be compared exactly."""
    return re.sub(r"\b\d+\.\d\ds\b", "0.00s", text)


SHOP = {
    "project.yml": """\
        name: shop
        targets:
          dev:
            path: warehouse.duckdb
          prod:
            path: prod_warehouse.duckdb
            schema: prod
        vars:
          threshold: 10
    """,
    "models/orders.sql": "select range as order_id, range * 10 as amount from range(5)",
    "models/big_orders.sql": """\
        select
            order_id,
            amount
        from {{ ref('orders') }}
        where amount > {{ var('threshold') }}
    """,
    "models/big_orders_report.sql": "select count(*) as n from {{ ref('big_orders') }}",
    "models/parity.sql": """\
        select order_id % 2 as parity, count(*) as orders
        from {{ ref('orders') }}
        group by 1
    """,
    "models/independent.sql": "select range as id from range(2)",
}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return write_project(tmp_path / "shop", SHOP)


# Help and documentation


def test_help_lists_every_command() -> None:
    result = invoke("--help")

    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: sqlml [OPTIONS] COMMAND [ARGS]...\n")
    listed = result.stdout.split("Commands:\n")[1]
    assert [line.split()[0] for line in listed.splitlines()] == COMMANDS
    assert result.stderr == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_text(command: str) -> None:
    help_text = cli.commands[command].help

    result = invoke(command, "--help")

    assert help_text
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: sqlml {command} [OPTIONS]")
    assert help_text.splitlines()[0] in result.stdout
    assert "--project-dir" in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_documented_in_the_readme(command: str) -> None:
    assert f"sqlml {command}" in README.read_text(encoding="utf-8")


def test_version() -> None:
    result = invoke("--version")

    assert (result.exit_code, result.stdout) == (0, f"sqlml, version {__version__}\n")


# init


def test_init_creates_a_project_that_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    created = invoke("init", "demo")
    ran = invoke("run", "--project-dir", "demo")

    assert created.exit_code == 0
    assert created.stdout == "Created project 'demo' in demo\nNext: cd demo && sqlml run\n"
    assert ran.exit_code == 0, ran.stderr
    assert timeless(ran.stdout) == (
        "Running 2 nodes of project 'demo' on target 'dev' (warehouse.duckdb)\n"
        "1/2 OK    stg_payments (view main.stg_payments) in 0.00s\n"
        "2/2 OK    customer_totals (table main.customer_totals, 3 rows) in 0.00s\n"
        "Done in 0.00s: 2 succeeded, 0 failed, 0 skipped.\n"
    )
    assert ran.stderr == ""
    assert query(tmp_path / "demo", 'select count(*) from "main"."customer_totals"') == [(3,)]


def test_init_into_a_chosen_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    result = invoke("init", "shop", "--dir", "projects/shop")

    assert result.exit_code == 0
    assert result.stdout == (
        "Created project 'shop' in projects/shop\nNext: cd projects/shop && sqlml run\n"
    )
    assert (tmp_path / "projects" / "shop" / "project.yml").read_text().startswith("name: shop\n")


def test_init_into_a_non_empty_folder_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "notes.txt").write_text("mine", encoding="utf-8")

    result = invoke("init", "demo")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "Error: demo already exists and is not empty\nhint: choose another name or pass --dir\n"
    )
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["notes.txt"]


def test_init_rejects_an_invalid_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    result = invoke("init", "my-project")

    assert result.exit_code == 2
    assert result.stderr == (
        "Error: invalid project name 'my-project'\n"
        "hint: use letters, digits and underscores, starting with a letter\n"
    )
    assert list(tmp_path.iterdir()) == []


# run


def test_run_prints_a_line_per_node(shop: Path) -> None:
    result = invoke("run", "--project-dir", shop, "--threads", "1")

    assert result.exit_code == 0
    assert timeless(result.stdout) == (
        "Running 5 nodes of project 'shop' on target 'dev' (warehouse.duckdb)\n"
        "1/5 OK    independent (table main.independent, 2 rows) in 0.00s\n"
        "2/5 OK    orders (table main.orders, 5 rows) in 0.00s\n"
        "3/5 OK    big_orders (table main.big_orders, 3 rows) in 0.00s\n"
        "4/5 OK    parity (table main.parity, 2 rows) in 0.00s\n"
        "5/5 OK    big_orders_report (table main.big_orders_report, 1 row) in 0.00s\n"
        "Done in 0.00s: 5 succeeded, 0 failed, 0 skipped.\n"
    )


def test_run_with_a_syntax_error_builds_the_rest_and_keeps_the_old_table(shop: Path) -> None:
    assert invoke("run", "--project-dir", shop).exit_code == 0
    write_project(
        shop,
        {
            "models/big_orders.sql": """\
                select
                    order_id,
                    amount
                from {{ ref('orders') }}
                where amount > {{ var('threshold') }})
            """
        },
    )

    result = invoke("run", "--project-dir", shop, "--threads", "1")

    assert result.exit_code == 1
    assert timeless(result.stdout) == (
        "Running 5 nodes of project 'shop' on target 'dev' (warehouse.duckdb)\n"
        "1/5 OK    independent (table main.independent, 2 rows) in 0.00s\n"
        "2/5 OK    orders (table main.orders, 5 rows) in 0.00s\n"
        "3/5 ERROR big_orders (table main.big_orders) in 0.00s\n"
        "4/5 SKIP  big_orders_report (upstream 'big_orders' failed)\n"
        "5/5 OK    parity (table main.parity, 2 rows) in 0.00s\n"
        "Done in 0.00s: 3 succeeded, 1 failed, 1 skipped.\n"
    )
    assert result.stderr == (
        "Error: target/compiled/models/big_orders.sql:5:18: SQL syntax error in model "
        "'big_orders': Invalid expression / Unexpected token\n"
        '4 | from "warehouse"."main"."orders"\n'
        "5 | where amount > 10)\n"
        "  |                  ^\n"
        "(rendered from models/big_orders.sql)\n"
        "hint: fix the SQL in models/big_orders.sql\n"
    )
    assert query(shop, 'select amount from "main"."big_orders" order by 1') == [(20,), (30,), (40,)]
    assert query(shop, 'select n from "main"."big_orders_report"') == [(3,)]


def test_run_with_a_failing_query_exits_1_and_names_the_compiled_line(shop: Path) -> None:
    write_project(
        shop,
        {
            "models/big_orders.sql": """\
                select
                    order_id,
                    amount_usd
                from {{ ref('orders') }}
            """
        },
    )

    result = invoke("run", "--project-dir", shop)

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: target/compiled/models/big_orders.sql:3:5: model 'big_orders' failed: "
        "Binder Error: "
        'Referenced column "amount_usd" not found in FROM clause!\n'
    )
    assert result.stderr.endswith(
        "hint: the SQL that ran is in target/compiled/models/big_orders.sql, "
        "rendered from models/big_orders.sql\n"
    )
    assert "Done in " in result.stdout
    assert relations(shop) == {
        ("main", name): "table" for name in ["independent", "orders", "parity"]
    }


@pytest.mark.parametrize("placement", ["before", "after"])
def test_project_dir_is_accepted_before_or_after_the_command(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, placement: str
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["--project-dir", str(shop), "ls"]
    if placement == "after":
        args = ["ls", "--project-dir", str(shop)]

    result = invoke(*args)

    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("independent")


def test_target_chooses_the_warehouse(shop: Path) -> None:
    result = invoke("run", "--project-dir", shop, "-t", "prod", "-s", "+big_orders")

    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == (
        "Running 2 nodes of project 'shop' on target 'prod' (prod_warehouse.duckdb)"
    )
    assert not (shop / "warehouse.duckdb").exists()
    with duckdb.connect(str(shop / "prod_warehouse.duckdb"), read_only=True) as connection:
        built = connection.execute('select count(*) from "prod"."big_orders"').fetchall()
    assert built == [(3,)]


def test_vars_change_what_is_built(shop: Path) -> None:
    default = invoke("run", "--project-dir", shop, "-s", "+big_orders")
    rows_default = query(shop, 'select count(*) from "main"."big_orders"')
    overridden = invoke(
        "run", "--project-dir", shop, "-s", "+big_orders", "--vars", "{threshold: 25}"
    )
    rows_overridden = query(shop, 'select count(*) from "main"."big_orders"')

    assert (default.exit_code, overridden.exit_code) == (0, 0)
    assert (rows_default, rows_overridden) == ([(3,)], [(2,)])
    assert "big_orders (table main.big_orders, 2 rows)" in overridden.stdout


def test_select_and_exclude_choose_what_runs(shop: Path) -> None:
    result = invoke(
        "run", "--project-dir", shop, "-s", "+big_orders_report", "--exclude", "big_orders_report"
    )

    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == (
        "Running 2 nodes of project 'shop' on target 'dev' (warehouse.duckdb)"
    )
    assert relations(shop) == {("main", "orders"): "table", ("main", "big_orders"): "table"}


def test_threads_option_runs_in_parallel_and_succeeds(shop: Path) -> None:
    result = invoke("run", "--project-dir", shop, "--threads", "4")

    assert result.exit_code == 0
    assert result.stdout.endswith("5 succeeded, 0 failed, 0 skipped.\n")


# Exit code 2: bad usage and project-level errors, with their exact text


def usage(command: str, message: str) -> str:
    prefix = "sqlml" if command == "" else f"sqlml {command}"
    args = " COMMAND [ARGS]..." if command == "" else ""
    help_command = "sqlml --help" if command == "" else f"sqlml {command} --help"
    return f"Usage: {prefix} [OPTIONS]{args}\nTry '{help_command}' for help.\n\nError: {message}\n"


BAD_USAGE = {
    "unknown option": (["run", "--bogus"], usage("run", "No such option '--bogus'.")),
    "unknown command": (["frobnicate"], usage("", "No such command 'frobnicate'.")),
    "vars not a mapping": (
        ["run", "--vars", "[1, 2]"],
        usage(
            "run",
            "Invalid value for '--vars': must be a mapping, e.g. '{start_date: 2026-01-01}'",
        ),
    ),
    "zero threads": (
        ["run", "--threads", "0"],
        usage("run", "Invalid value for '--threads': 0 is not in the range x>=1."),
    ),
    "unknown output": (
        ["ls", "-o", "yaml"],
        usage("ls", "Invalid value for '--output' / '-o': 'yaml' is not one of 'text', 'json'."),
    ),
    "unknown selector method": (
        ["run", "-s", "colour:red"],
        "Error: unknown selector method 'colour:' in 'colour:red'\n"
        "hint: methods: tag, path, kind, state\n",
    ),
    "unknown node": (
        ["ls", "-s", "ordrs"],
        "Error: no node named 'ordrs'\nhint: did you mean 'orders' or 'big_orders'?\n",
    ),
    "unknown target": (
        ["plan", "-t", "prd"],
        "Error: unknown target 'prd'\nhint: did you mean 'prod'?\n",
    ),
}


@pytest.mark.parametrize("args, stderr", BAD_USAGE.values(), ids=BAD_USAGE.keys())
def test_bad_usage_exits_2_with_the_error(shop: Path, args: list[str], stderr: str) -> None:
    result = invoke(*args, "--project-dir", shop) if args[0] != "frobnicate" else invoke(*args)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == stderr


def test_a_bad_selector_leaves_no_warehouse_behind(shop: Path) -> None:
    result = invoke("run", "--project-dir", shop, "-s", "ordrs")

    assert result.exit_code == 2
    assert not (shop / "warehouse.duckdb").exists()


def test_bad_vars_yaml_exits_2(shop: Path) -> None:
    result = invoke("run", "--project-dir", shop, "--vars", "{threshold: [")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == usage(
        "run",
        "Invalid value for '--vars': not valid YAML: "
        "expected the node content, but found '<stream end>' at column 14",
    )


def test_a_missing_project_file_exits_2(tmp_path: Path) -> None:
    result = invoke("run", "--project-dir", tmp_path)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: no project.yml in {tmp_path}\n"
        "hint: run sqlml from a project directory, pass --project-dir, "
        "or create one with `sqlml init NAME`\n"
    )


def test_a_locked_warehouse_exits_2_with_the_hint(shop: Path) -> None:
    warehouse = shop / "warehouse.duckdb"

    with held_open(warehouse):
        result = invoke("run", "--project-dir", shop, "--lock-timeout", "0")

    assert result.stderr.startswith(f"Error: cannot open warehouse {warehouse}: IO Error: ")
    assert re.search(
        r"\nhint: another program \(python[\d.]*, pid \d+\) has the database file open "
        r"\(a BI tool, an IDE\?\): close it, or wait longer with --lock-timeout SECONDS\n$",
        result.stderr,
    )
    assert result.exit_code == 2  # a project-level error, as the README says


def test_a_model_file_that_is_not_utf8_is_named_in_the_error(shop: Path) -> None:
    (shop / "models" / "latin1.sql").write_bytes("select 'café' as word".encode("latin-1"))

    result = invoke("run", "--project-dir", shop)

    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert "models/latin1.sql" in result.stderr


def test_debug_prints_the_traceback_and_the_error(shop: Path) -> None:
    result = invoke("--debug", "ls", "--project-dir", shop, "-s", "nope")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Traceback (most recent call last):\n")
    assert f"{GraphError.__module__}.GraphError: no node named 'nope'\n" in result.stderr
    assert result.stderr.endswith(
        "Error: no node named 'nope'\nhint: run `sqlml ls` to see every node\n"
    )


# ls, plan, compile


def test_ls_prints_nodes_in_dependency_order(shop: Path) -> None:
    write_project(
        shop,
        {
            "project.yml": textwrap.dedent(SHOP["project.yml"]) + "models:\n  +tags: [shop]\n",
            "models/staging/eph.sql": "{{ config(materialized='ephemeral') }}\nselect 1 as id",
        },
    )

    result = invoke("ls", "--project-dir", shop)

    assert result.exit_code == 0
    assert result.stdout == (
        "eph                ephemeral  models/staging/eph.sql  [shop]\n"
        "independent        table      models/independent.sql  [shop]\n"
        "orders             table      models/orders.sql  [shop]\n"
        "big_orders         table      models/big_orders.sql  [shop]\n"
        "big_orders_report  table      models/big_orders_report.sql  [shop]\n"
        "parity             table      models/parity.sql  [shop]\n"
    )


def test_ls_json(shop: Path) -> None:
    result = invoke("ls", "--project-dir", shop, "-s", "orders+1", "-o", "json")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        {
            "name": "orders",
            "kind": "model",
            "materialized": "table",
            "relation": '"warehouse"."main"."orders"',
            "path": "models/orders.sql",
            "tags": [],
            "depends_on": [],
        },
        {
            "name": "big_orders",
            "kind": "model",
            "materialized": "table",
            "relation": '"warehouse"."main"."big_orders"',
            "path": "models/big_orders.sql",
            "tags": [],
            "depends_on": ["orders"],
        },
        {
            "name": "parity",
            "kind": "model",
            "materialized": "table",
            "relation": '"warehouse"."main"."parity"',
            "path": "models/parity.sql",
            "tags": [],
            "depends_on": ["orders"],
        },
    ]


def test_plan_prints_the_steps_without_creating_the_warehouse(shop: Path) -> None:
    write_project(
        shop,
        {"models/eph.sql": "{{ config(materialized='ephemeral') }}\nselect 1 as id"},
    )

    result = invoke("plan", "--project-dir", shop, "-s", "+big_orders", "-s", "eph")

    assert result.exit_code == 0
    assert result.stdout == (
        "Plan: 2 nodes to build on target 'dev'\n"
        "  orders      table  main.orders  (new)\n"
        "  big_orders  table  main.big_orders  (new)\n"
        "  eph         ephemeral, inlined into the nodes that read it\n"
    )
    assert not (shop / "warehouse.duckdb").exists()


def test_plan_does_not_change_an_existing_warehouse(shop: Path) -> None:
    assert invoke("run", "--project-dir", shop).exit_code == 0
    write_project(shop, {"models/parity.sql": "select 1 as parity, 2 as orders"})
    warehouse = shop / "warehouse.duckdb"
    before = (warehouse.read_bytes(), warehouse.stat().st_mtime_ns)
    files_before = sorted(p.name for p in shop.iterdir())

    result = invoke("plan", "--project-dir", shop, "-o", "json")

    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert {s["node"]: s["reason"] for s in document["steps"]} == {
        "independent": "unchanged",
        "orders": "unchanged",
        "big_orders": "unchanged",
        "parity": "modified",
        "big_orders_report": "unchanged",
    }
    assert document["steps"][2] == {
        "node": "big_orders",
        "materialization": "table",
        "relation": '"warehouse"."main"."big_orders"',
        "reason": "unchanged",
        "action": None,
        "incremental": None,
        "depends_on": ["orders"],
        "path": "models/big_orders.sql",
    }
    assert document["inlined"] == []
    assert (warehouse.read_bytes(), warehouse.stat().st_mtime_ns) == before
    assert sorted(p.name for p in shop.iterdir()) == files_before


def test_compile_reports_errors_and_exits_1(shop: Path) -> None:
    first = invoke("compile", "--project-dir", shop)
    write_project(shop, {"models/independent.sql": "select {{ oops }}"})
    second = invoke("compile", "--project-dir", shop)

    assert first.exit_code == 0
    assert first.stdout == (
        "Compiled 5 nodes (5 rendered, 5 parsed, the rest cached) into target/compiled/\n"
    )
    assert second.exit_code == 1
    assert re.fullmatch(
        r"Compiled 5 nodes \(\d rendered, \d parsed, the rest cached\) into target/compiled/\n",
        second.stdout,
    )
    assert second.stderr.startswith("Error: models/independent.sql:1: template error: ")
    assert (shop / "target" / "manifest.json").is_file()


def test_output_is_plain_lines_when_not_a_terminal(shop: Path) -> None:
    write_project(shop, {"models/independent.sql": "select error('boom') as id"})

    result = invoke("run", "--project-dir", shop)

    assert result.exit_code == 1
    assert "\x1b" not in result.output
    assert all(
        re.fullmatch(r"(Running|Done|\d/5 (OK|ERROR|SKIP) ).*", line)
        for line in result.stdout.splitlines()
    )


# The real console script, end to end


def sqlml(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "sqlml"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sqlml"]
    env = {**os.environ, "FORCE_COLOR": "1", "TERM": "xterm-256color"}
    return subprocess.run(
        [*command, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_console_script_exit_codes(shop: Path) -> None:
    ok = sqlml("run", cwd=shop)
    write_project(shop, {"models/parity.sql": "select error('boom') as parity"})
    failed = sqlml("run", cwd=shop)
    usage_error = sqlml("run", "--vars", "[]", cwd=shop)

    assert (ok.returncode, failed.returncode, usage_error.returncode) == (0, 1, 2)
    assert ok.stderr == ""
    assert failed.stderr.startswith(
        "Error: target/compiled/models/parity.sql: model 'parity' failed: "
        "Invalid Input Error: boom\n"
    )
    for output in [ok.stdout, failed.stdout, failed.stderr, usage_error.stderr]:
        assert "\x1b" not in output  # piped, so plain text even with FORCE_COLOR


def test_debug_shows_a_traceback_and_keeps_the_exit_code(shop: Path) -> None:
    plain = sqlml("run", "-s", "nope", cwd=shop)
    debug = sqlml("--debug", "run", "-s", "nope", cwd=shop)

    assert plain.returncode == 2
    assert plain.stderr.startswith("Error: no node named 'nope'")
    assert "Traceback" not in plain.stderr
    assert "Traceback (most recent call last)" in debug.stderr
    assert "sqlml.errors.GraphError: no node named 'nope'" in debug.stderr
    assert debug.returncode == 2


def test_a_terminal_gets_the_live_display(shop: Path) -> None:
    pty = pytest.importorskip("pty")
    import select

    script = Path(sys.executable).parent / "sqlml"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sqlml"]
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [*command, "run"], cwd=shop, stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary
    )
    os.close(secondary)
    chunks = []
    try:
        while select.select([primary], [], [], 60)[0]:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(primary)
        returncode = process.wait(timeout=60)
    shown = b"".join(chunks).decode()

    assert returncode == 0
    assert "5/5 OK" in shown
    assert "Done in " in shown
    assert "5 succeeded, 0 failed, 0 skipped." in shown
    assert "\x1b[" in shown  # colours and a progress bar, unlike piped output
