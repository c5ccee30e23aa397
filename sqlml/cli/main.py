"""The `sqlml` command. Each command is a few lines over `sqlml.Context`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from sqlml import __version__
from sqlml.cli.options import (
    Options,
    common_options,
    handle_errors,
    lock_option,
    selection_options,
)


def _context(listener: Any = None) -> Any:
    from sqlml.context import Context

    options = click.get_current_context().ensure_object(Options)
    return Context(
        options.project_dir,
        target=options.target,
        vars=options.vars,
        listener=listener,
        lock_timeout=options.lock_timeout,
        on_lock_wait=lambda message: click.echo(f"Note: {message}", err=True),
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sqlml")
@common_options
def cli() -> None:
    """sqlml: SQL-first analytics and machine learning on DuckDB.

    Write Jinja SQL models; `sqlml run` builds them as a DAG in the warehouse.
    """


@cli.command()
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    help="Where to create the project (default: ./NAME).",
)
@common_options
@handle_errors
def init(name: str, directory: str | None) -> None:
    """Create a new project NAME with a few models that run."""
    from sqlml.scaffold import create_project

    path = create_project(name, directory)
    click.echo(f"Created project '{name}' in {path}\nNext: cd {path} && sqlml run")


@cli.command()
@common_options
@selection_options
@handle_errors
def compile(select: tuple[str, ...], exclude: tuple[str, ...]) -> None:
    """Render and check every model; write target/compiled/ and target/manifest.json."""
    context = _context()
    compiled = context.compile()
    chosen = {n.name for n in context.ls(select, exclude)} if select or exclude else None
    errors = {n: e for n, e in compiled.errors.items() if chosen is None or n in chosen}
    total = len(compiled.nodes) if chosen is None else len(chosen)
    click.echo(
        f"Compiled {total} nodes ({compiled.rendered} rendered, {compiled.parsed} parsed, "
        f"the rest cached) into {context.project.target_dir.name}/compiled/"
    )
    for error in errors.values():
        click.echo(f"Error: {error.render()}", err=True)
    sys.exit(1 if errors else 0)


_VERBS = {
    "run": "Running",
    "build": "Building",
    "test": "Testing",
    "seed": "Seeding",
    "snapshot": "Snapshotting",
    "train": "Training",
    "monitor": "Monitoring with",
}
_ALL = click.option(
    "--all",
    "ignore_schedules",
    is_flag=True,
    help="Build every selected node, due by its schedule or not.",
)
_THREADS = click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Nodes built at once (default: the target's threads, else the CPU count).",
)


_DATETIME = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"])


def _refresh_options(func: Any) -> Any:
    """--full-refresh, --start and --end: how incremental models are built."""
    for decorator in reversed(
        [
            click.option(
                "--full-refresh",
                is_flag=True,
                help="Rebuild incremental models from scratch (and reset their intervals).",
            ),
            click.option(
                "--start",
                type=_DATETIME,
                help="Rebuild time_range models from this moment (UTC), whatever is done.",
            ),
            click.option("--end", type=_DATETIME, help="...up to this moment (UTC, exclusive)."),
        ]
    ):
        func = decorator(func)
    return func


def _execute(
    command: str,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    threads: int | None,
    ignore_schedules: bool = False,
    *,
    retry: Any = None,
    **options: Any,
) -> None:
    """Run ``command`` with a progress display; with ``retry`` (the last run), retry it."""
    from sqlml.cli.progress import make_listener, summarize

    context = _context()
    project = context.project
    verb = f"Retrying ({command})" if retry is not None else _VERBS[command]
    context.listener = listener = make_listener(
        f"{verb} {{nodes}} of project '{project.name}' on target "
        f"'{project.target.name}' ({project.target.path.name})"
    )
    try:
        if retry is not None:
            result = context.retry(threads=threads, last=retry)
        else:
            if ignore_schedules:  # only then: a command may not know schedules
                options = {**options, "ignore_schedules": True}
            result = getattr(context, command)(select, exclude, threads=threads, **options)
    finally:
        listener.close()
    summarize(result)
    sys.exit(0 if result.success else 1)


# The commands that execute nodes: each a plan of one set of node kinds (see Context).
_EXECUTIONS = {
    "run": "Build sources, seeds, models, snapshots and feature views; train ML models.\n\n"
    "An ML model trains only when its training data or spec changed (or with --retrain). "
    "No data tests run.",
    "build": "Run, with each node's data tests right after it.\n\n"
    "An error-severity failure skips the tested node's downstream.",
    "test": "Run data tests; failing rows are kept in a table.",
    "seed": "Load the CSV files under seeds/ as tables.",
    "snapshot": "Record what changed in each snapshot since its last run.\n\n"
    "Changed rows get a new version; the old one is closed (sqlml_valid_to).",
    "monitor": "Run monitors alone, against what the warehouse holds now.\n\n"
    "Figures go to the history tables; warnings and failures alert (and may retrain). "
    "Exits 1 when a monitor reaches monitoring.fail_on (default: error).",
}


_RETRAIN = click.option(
    "--retrain", is_flag=True, help="Train the selected ML models even if nothing changed."
)


def _execution_command(command: str, help_text: str) -> None:
    def execute(
        select: tuple[str, ...],
        exclude: tuple[str, ...],
        threads: int | None,
        ignore_schedules: bool,
        **options: Any,
    ) -> None:
        _execute(command, select, exclude, threads, ignore_schedules, **options)

    execute = handle_errors(execute)
    if command in ("run", "build"):
        execute = _RETRAIN(_refresh_options(execute))
    execute = lock_option(_ALL(execute))
    cli.command(name=command, help=help_text)(common_options(selection_options(_THREADS(execute))))


for _name, _help in _EXECUTIONS.items():
    _execution_command(_name, _help)


@cli.command()
@common_options
@_THREADS
@lock_option
@handle_errors
def retry(threads: int | None) -> None:
    """Run again the nodes that failed or were skipped in the last run.

    The last run's command (run, build, test, seed, snapshot or train) and flags are reused; what
    succeeded is not run again. A run that was killed is run again whole.
    """
    context = _context()
    last = context.last_run()
    if last is None:
        context.retry()  # raises: no run to retry
        return
    if last.status == "success":
        started = last.started_at.strftime("%Y-%m-%d %H:%M:%S")
        click.echo(
            f"The last run (sqlml {last.command}, started {started} UTC) succeeded: "
            "nothing to retry."
        )
        return
    if last.status == "running":
        click.echo(
            f"The last run (sqlml {last.command} {last.run_id[:8]}) did not finish: "
            "running it again whole."
        )
    else:
        click.echo(
            f"Retrying sqlml {last.command} {last.run_id[:8]}: "
            f"{_count(len(last.failed), 'failed node')}, "
            f"{_count(len(last.skipped), 'skipped node')}."
        )
    _execute(last.command, (), (), threads, retry=last)


@cli.command()
@click.argument("names", nargs=-1)
@common_options
@selection_options
@_THREADS
@lock_option
@handle_errors
def train(
    names: tuple[str, ...], select: tuple[str, ...], exclude: tuple[str, ...], threads: int | None
) -> None:
    """Train ML models NAMES now, even if their data and spec are unchanged.

    Without NAMES (or -s), every ML model trains. Their inputs are read as they are in the
    warehouse: `sqlml run -s +NAME` rebuilds them first. Each training registers a new
    version and decides its promotion.
    """
    _execute("train", (*names, *select), exclude, threads, ignore_schedules=True)


@cli.command("unit-test")
@common_options
@selection_options
@handle_errors
def unit_test(select: tuple[str, ...], exclude: tuple[str, ...]) -> None:
    """Run model unit tests on in-memory DuckDB.

    Each test gives rows for a model's inputs and the rows it must return.
    """
    results = _context().unit_test(select, exclude)
    labels = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}
    for result in results:
        click.echo(
            f"{labels[result.status]:<5} {result.name} ({result.model}) in {result.duration_s:.2f}s"
        )
        if result.message:
            click.echo(_indent(result.message), err=result.status != "pass")
    failed = sum(1 for r in results if r.status != "pass")
    click.echo(
        f"{_count(len(results), 'unit test')}: {len(results) - failed} passed, {failed} failed."
    )
    sys.exit(1 if failed else 0)


@cli.command()
@common_options
@selection_options
@lock_option
@handle_errors
def freshness(select: tuple[str, ...], exclude: tuple[str, ...]) -> None:
    """Check the age of each source's newest row.

    Sources with `loaded_at` are compared with their warn/error thresholds; results are
    recorded in the state schema.
    """
    results = _context().freshness(select, exclude)
    labels = {"pass": "OK", "warn": "WARN", "error": "ERROR"}
    width = max((len(r.source) for r in results), default=0)
    for r in results:
        click.echo(f"{labels[r.status]:<5} {r.source:<{width}}  {r.message}")
    if not results:
        click.echo("No source declares loaded_at: nothing to check.")
    sys.exit(1 if any(r.status == "error" for r in results) else 0)


@cli.command()
@common_options
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(dir_okay=False),
    help="Where to write the HTML file (default: target/monitoring.html).",
)
@handle_errors
def report(out: str | None) -> None:
    """Write the monitoring report: one self-contained HTML file.

    Status per model and table, drift by PSI with histograms, metrics over time with their
    thresholds, alerts and retraining; it works offline.
    """
    path = _context().report(out)
    click.echo(f"Wrote the monitoring report to {path}")


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


@cli.command()
@common_options
@selection_options
@click.option(
    "--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@handle_errors
def ls(select: tuple[str, ...], exclude: tuple[str, ...], output: str) -> None:
    """List the selected nodes in dependency order."""
    nodes = _context().ls(select, exclude)
    if output == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "name": n.name,
                        "kind": n.kind,
                        "materialized": n.config.materialized,
                        "relation": None
                        if n.config.materialized == "ephemeral"
                        else str(n.relation),
                        "path": n.path,
                        "tags": list(n.tags),
                        "depends_on": list(n.depends_on),
                    }
                    for n in nodes
                ],
                indent=2,
            )
        )
        return
    width = max((len(n.name) for n in nodes), default=0)
    for node in nodes:
        tags = f"  [{', '.join(node.tags)}]" if node.tags else ""
        click.echo(f"{node.name:<{width}}  {node.config.materialized:<9}  {node.path}{tags}")


@cli.command()
@common_options
@selection_options
@click.option(
    "--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@_refresh_options
@_ALL
@handle_errors
def plan(
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    output: str,
    full_refresh: bool,
    start: Any,
    end: Any,
    ignore_schedules: bool,
) -> None:
    """Show what `run` would do now, without writing to the warehouse."""
    from sqlml.cli.progress import describe_not_due, describe_plan
    from sqlml.context import Refresh

    context = _context()
    result = context.plan(
        select,
        exclude,
        refresh=Refresh(full_refresh, start, end),
        ignore_schedules=ignore_schedules,
    )
    if output == "json":
        document = {
            "steps": describe_plan(result),
            "inlined": list(result.inlined),
            "not_due": describe_not_due(result),
            "warehouse_unreadable": result.unreadable,
        }
        click.echo(json.dumps(document, indent=2))
        return
    if result.unreadable:
        click.echo(
            f"Warning: could not read the warehouse ({result.unreadable}); "
            "the plan assumes it is empty",
            err=True,
        )
    click.echo(
        f"Plan: {_count(len(result.steps), 'node')} to build on target "
        f"'{context.project.target.name}'"
    )
    names = [s.node for s in result.steps] + [n.node for n in result.not_due]
    width = max((len(n) for n in names), default=0)
    kinds = max((len(s.materialization) for s in result.steps), default=0)
    for step in result.steps:
        relation = step.relation.display
        kind = step.materialization
        how = f", {step.incremental.describe()}" if step.incremental else ""
        how += f", {step.action}" if step.action else ""
        click.echo(f"  {step.node:<{width}}  {kind:<{kinds}}  {relation}  ({step.reason}{how})")
    for name in result.inlined:
        click.echo(f"  {name:<{width}}  ephemeral, inlined into the nodes that read it")
    if result.not_due:
        click.echo(f"Skipped: {_count(len(result.not_due), 'node')} not due (--all builds them)")
    for item in result.not_due:
        click.echo(
            f"  {item.node:<{width}}  not due: {item.schedule}, last built "
            f"{_moment(item.last_success)}, next due {_moment(item.next_due)}"
        )


def _moment(at: Any) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
    help="TCP port (0: any free port).",
)  # fmt: skip
@click.option(
    "--token", envvar="SQLML_SERVE_TOKEN", default=None,
    help="Bearer token every request but health must carry [env: SQLML_SERVE_TOKEN].",
)  # fmt: skip
@click.option(
    "--max-body", default=1_000_000, show_default=True, type=click.IntRange(min=1),
    help="Largest request body accepted, in bytes.",
)  # fmt: skip
@click.option(
    "--poll", default=1.0, show_default=True, type=click.FloatRange(min=0.01),
    help="Seconds between two looks for a new champion or new features.",
)  # fmt: skip
@common_options
@handle_errors
def serve(host: str, port: int, token: str | None, max_body: int, poll: float) -> None:
    """Serve the registry's champions over HTTP: POST /v1/models/NAME/predict.

    The warehouse is read only when it changed, briefly, so `sqlml run` can keep writing it.
    """
    from sqlml.serve.app import ServeSettings
    from sqlml.serve.server import ServeOptions

    def ready(url: str) -> None:
        auth = "bearer token required" if token else "no authentication"
        click.echo(f"Serving at {url} ({auth}); Ctrl-C stops", err=True)

    options = ServeOptions(host=host, port=port, poll_s=poll, log_level="warning")
    _context().serve(options, ServeSettings(token=token or None, max_body_bytes=max_body), ready)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@cli.group()
@common_options
def models() -> None:
    """Inspect the model registry; promote or roll back a model's champion."""


_OUTPUT = click.option(
    "--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True
)


@models.command("list")
@common_options
@_OUTPUT
@handle_errors
def models_list(output: str) -> None:
    """List registered models: owner, versions, latest version and aliases."""
    from sqlml.cli.registry import print_models

    print_models(_context().models(), output)


@models.command("show")
@click.argument("name")
@common_options
@_OUTPUT
@handle_errors
def models_show(name: str, output: str) -> None:
    """Show model NAME: every version's metrics, parity and fingerprints, and alias history."""
    from sqlml.cli.registry import print_model

    print_model(_context().model(name), output)


@models.command("promote")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", help="Why, recorded in the alias history.")
@common_options
@lock_option
@handle_errors
def models_promote(name: str, version: int, reason: str | None) -> None:
    """Make VERSION of model NAME its champion (recorded in the alias history)."""
    change = _context().promote(name, version, reason=reason)
    before = f" (was version {change.previous_version})" if change.previous_version else ""
    click.echo(f"{name}: champion is version {change.version}{before}.")


@models.command("rollback")
@click.argument("name")
@common_options
@lock_option
@handle_errors
def models_rollback(name: str) -> None:
    """Point model NAME's champion back to the version it had before its last move."""
    change = _context().rollback(name)
    click.echo(
        f"{name}: champion rolled back from version {change.previous_version} "
        f"to version {change.version}."
    )


@models.command("sql")
@click.argument("name")
@click.option("--version", "version", default="champion", show_default=True,
              help="A version number or an alias.")  # fmt: skip
@click.option("--from", "source", default="input_rows", show_default=True,
              help="The relation (or parenthesised query) whose rows to score.")  # fmt: skip
@click.option("--keep", multiple=True, help="A column of the input to keep (repeatable).")
@click.option("--dialect", default="duckdb", show_default=True,
              help="Any dialect sqlglot writes: postgres, snowflake, bigquery, ...")  # fmt: skip
@click.option("--pretty", is_flag=True, help="One clause per line.")
@common_options
@handle_errors
def models_sql(
    name: str, version: str, source: str, keep: tuple[str, ...], dialect: str, pretty: bool
) -> None:
    """Print model NAME as one SQL query that scores the rows of --from.

    Linear models and tree ensembles (with their preprocessing) compile; the query reproduces
    onnxruntime's scores, so any tool that reads the warehouse can recompute them.
    """
    click.echo(_context().model_sql(name, version, source, keep, dialect, pretty=pretty))


def main() -> None:
    cli(prog_name="sqlml")
