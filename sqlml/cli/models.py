"""Commands over the model registry: inspect it, move a champion, print a model as SQL, and
serve the champions over HTTP."""

from __future__ import annotations

import click

from sqlml.cli.options import OUTPUT, common_options, handle_errors, lock_option, open_context


@click.group()
@common_options
def models() -> None:
    """Inspect the model registry; promote or roll back a model's champion."""


@models.command("list")
@common_options
@OUTPUT
@handle_errors
def models_list(output: str) -> None:
    """List registered models: owner, versions, latest version and aliases."""
    from sqlml.cli.registry import print_models

    print_models(open_context().models(), output)


@models.command("show")
@click.argument("name")
@common_options
@OUTPUT
@handle_errors
def models_show(name: str, output: str) -> None:
    """Show model NAME: every version's metrics, parity and fingerprints, and alias history."""
    from sqlml.cli.registry import print_model

    print_model(open_context().model(name), output)


@models.command("promote")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", help="Why, recorded in the alias history.")
@common_options
@lock_option
@handle_errors
def models_promote(name: str, version: int, reason: str | None) -> None:
    """Make VERSION of model NAME its champion (recorded in the alias history)."""
    change = open_context().promote(name, version, reason=reason)
    before = f" (was version {change.previous_version})" if change.previous_version else ""
    click.echo(f"{name}: champion is version {change.version}{before}.")


@models.command("rollback")
@click.argument("name")
@common_options
@lock_option
@handle_errors
def models_rollback(name: str) -> None:
    """Point model NAME's champion back to the version it had before its last move."""
    change = open_context().rollback(name)
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
    click.echo(open_context().model_sql(name, version, source, keep, dialect, pretty=pretty))


@click.command()
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
    open_context().serve(
        options, ServeSettings(token=token or None, max_body_bytes=max_body), ready
    )
