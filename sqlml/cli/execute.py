"""The commands that execute nodes: run, build, test, seed, snapshot, monitor, train, retry;
each a plan of some kinds of node, shown with a progress display."""

from __future__ import annotations

import sys
from typing import Any

import click

from sqlml.cli.options import (
    ALL,
    RETRAIN,
    THREADS,
    common_options,
    handle_errors,
    lock_option,
    open_context,
    refresh_options,
    selection_options,
)
from sqlml.cli.text import count

_VERBS = {
    "run": "Running",
    "build": "Building",
    "test": "Testing",
    "seed": "Seeding",
    "snapshot": "Snapshotting",
    "train": "Training",
    "monitor": "Monitoring with",
}


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

    context = open_context()
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


_RESET_REFERENCE = click.option(
    "--reset-reference",
    is_flag=True,
    help="Forget the selected monitors' first-window references first (reference: "
    "first_window), so this run's window becomes the new reference.",
)


def _execution_command(command: str, help_text: str) -> click.Command:
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
        execute = RETRAIN(refresh_options(execute))
    if command == "monitor":
        execute = _RESET_REFERENCE(execute)
    execute = lock_option(ALL(execute))
    return click.command(name=command, help=help_text)(
        common_options(selection_options(THREADS(execute)))
    )


EXECUTIONS = [_execution_command(name, help_text) for name, help_text in _EXECUTIONS.items()]


@click.command()
@common_options
@THREADS
@lock_option
@handle_errors
def retry(threads: int | None) -> None:
    """Run again the nodes that failed or were skipped in the last run.

    The last run's command (run, build, test, seed, snapshot or train) and flags are reused; what
    succeeded is not run again. A run that was killed is run again whole.
    """
    context = open_context()
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
            f"{count(len(last.failed), 'failed node')}, "
            f"{count(len(last.skipped), 'skipped node')}."
        )
    _execute(last.command, (), (), threads, retry=last)


@click.command()
@click.argument("names", nargs=-1)
@common_options
@selection_options
@THREADS
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
