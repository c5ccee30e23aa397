"""The `sqlml` command. Each command is a few lines over `sqlml.Context`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from sqlml import __version__
from sqlml.cli.checks import freshness, report, unit_test
from sqlml.cli.execute import EXECUTIONS, retry, train
from sqlml.cli.models import models, serve
from sqlml.cli.options import (
    ALL,
    OUTPUT,
    common_options,
    handle_errors,
    open_context,
    refresh_options,
    selection_options,
)
from sqlml.cli.text import count, moment


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
    context = open_context()
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


@cli.command()
@common_options
@selection_options
@OUTPUT
@handle_errors
def ls(select: tuple[str, ...], exclude: tuple[str, ...], output: str) -> None:
    """List the selected nodes in dependency order."""
    nodes = open_context().ls(select, exclude)
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
@OUTPUT
@refresh_options
@ALL
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

    context = open_context()
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
        f"Plan: {count(len(result.steps), 'node')} to build on target "
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
        click.echo(f"Skipped: {count(len(result.not_due), 'node')} not due (--all builds them)")
    for item in result.not_due:
        click.echo(
            f"  {item.node:<{width}}  not due: {item.schedule}, last built "
            f"{moment(item.last_success)}, next due {moment(item.next_due)}"
        )


for _command in [*EXECUTIONS, retry, train, unit_test, freshness, report, serve, models]:
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="sqlml")
