"""Options the commands accept, the Context they describe, and the one decorator that prints
errors."""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from sqlml.errors import SqlmlError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Options:
    """Typed options gathered from the group and the command (the command's win)."""

    project_dir: str = "."
    target: str | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    debug: bool = False
    lock_timeout: float | None = None


def parse_vars(value: str | None) -> dict[str, Any]:
    """Parse ``--vars`` as a YAML (or JSON) mapping."""
    if not value:
        return {}
    import yaml

    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        mark = getattr(exc, "problem_mark", None)
        where = f" at column {mark.column + 1}" if mark is not None else ""
        raise click.BadParameter(
            f"not valid YAML: {problem}{where}", param_hint="'--vars'"
        ) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter(
            "must be a mapping, e.g. '{start_date: 2026-01-01}'", param_hint="'--vars'"
        )
    return parsed


def _store(attribute: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        options = ctx.ensure_object(Options)
        if value is not None and value is not False:
            setattr(options, attribute, parse_vars(value) if attribute == "vars" else value)
        return value

    return callback


def common_options(func: F) -> F:
    """--project-dir, --target, --vars and --debug, accepted before or after the command."""
    decorators = [
        click.option(
            "--project-dir",
            expose_value=False,
            callback=_store("project_dir"),
            type=click.Path(file_okay=False),
            help="Project folder (default: .).",
        ),
        click.option(
            "--target",
            "-t",
            expose_value=False,
            callback=_store("target"),
            help="Target from project.yml to use.",
        ),
        click.option(
            "--vars",
            expose_value=False,
            callback=_store("vars"),
            help="YAML mapping overriding project vars, e.g. '{days: 7}'.",
        ),
        click.option(
            "--debug",
            is_flag=True,
            expose_value=False,
            callback=_store("debug"),
            help="Show tracebacks.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def lock_option(func: F) -> F:
    """--lock-timeout, for the commands that write to the warehouse."""
    return click.option(
        "--lock-timeout",
        expose_value=False,
        callback=_store("lock_timeout"),
        type=click.FloatRange(min=0),
        metavar="SECONDS",
        help="Wait this long for another command writing to the warehouse, then exit 2 "
        "(default: lock_timeout in project.yml, else 60).",
    )(func)


def selection_options(func: F) -> F:
    """-s/--select and --exclude."""
    func = click.option(
        "--exclude", multiple=True, help="Nodes to leave out (same grammar as --select)."
    )(func)
    func = click.option(
        "-s",
        "--select",
        multiple=True,
        help="Nodes to include: name, +name, name+, N+name, tag:T, path:P, state:modified.",
    )(func)
    return func


def handle_errors(func: F) -> F:
    """Print `Error: ...` for sqlml errors (traceback only with --debug) and set the exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        options = click.get_current_context().ensure_object(Options)
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except SqlmlError as exc:
            if options.debug:
                traceback.print_exc()
            click.echo(f"Error: {exc.render()}", err=True)
            sys.exit(exc.exit_code)
        except Exception as exc:
            if options.debug:
                traceback.print_exc()
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {exc}\n"
                "hint: run again with --debug for a traceback, and please report it",
                err=True,
            )
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def open_context(listener: Any = None) -> Any:
    """The `sqlml.Context` the command's options describe (a Note on stderr while it waits
    for the warehouse lock)."""
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


ALL = click.option(
    "--all",
    "ignore_schedules",
    is_flag=True,
    help="Build every selected node, due by its schedule or not.",
)
THREADS = click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Nodes built at once (default: the target's threads, else the CPU count).",
)


_DATETIME = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"])


def refresh_options(func: Any) -> Any:
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


RETRAIN = click.option(
    "--retrain", is_flag=True, help="Train the selected ML models even if nothing changed."
)
OUTPUT = click.option(
    "--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True
)
