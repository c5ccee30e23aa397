"""Commands that check and report: unit tests, source freshness, the monitoring report."""

from __future__ import annotations

import sys

import click

from sqlml.cli.options import (
    common_options,
    handle_errors,
    lock_option,
    open_context,
    selection_options,
)
from sqlml.cli.text import count, indent


@click.command("unit-test")
@common_options
@selection_options
@handle_errors
def unit_test(select: tuple[str, ...], exclude: tuple[str, ...]) -> None:
    """Run model unit tests on in-memory DuckDB.

    Each test gives rows for a model's inputs and the rows it must return.
    """
    results = open_context().unit_test(select, exclude)
    labels = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}
    for result in results:
        click.echo(
            f"{labels[result.status]:<5} {result.name} ({result.model}) in {result.duration_s:.2f}s"
        )
        if result.message:
            click.echo(indent(result.message), err=result.status != "pass")
    failed = sum(1 for r in results if r.status != "pass")
    click.echo(
        f"{count(len(results), 'unit test')}: {len(results) - failed} passed, {failed} failed."
    )
    sys.exit(1 if failed else 0)


@click.command()
@common_options
@selection_options
@lock_option
@handle_errors
def freshness(select: tuple[str, ...], exclude: tuple[str, ...]) -> None:
    """Check the age of each source's newest row.

    Sources with `loaded_at` are compared with their warn/error thresholds; results are
    recorded in the state schema.
    """
    results = open_context().freshness(select, exclude)
    labels = {"pass": "OK", "warn": "WARN", "error": "ERROR"}
    width = max((len(r.source) for r in results), default=0)
    for r in results:
        click.echo(f"{labels[r.status]:<5} {r.source:<{width}}  {r.message}")
    if not results:
        click.echo("No source declares loaded_at: nothing to check.")
    sys.exit(1 if any(r.status == "error" for r in results) else 0)


@click.command()
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
    path = open_context().report(out)
    click.echo(f"Wrote the monitoring report to {path}")
