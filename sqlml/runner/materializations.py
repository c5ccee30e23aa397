"""How each kind of node is built: small functions in a dict keyed by materialization."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlml.engine.base import Engine
from sqlml.errors import ExecutionError, SqlmlError
from sqlml.plan.types import Step
from sqlml.runner.columns import column_check
from sqlml.runner.paths import anchored_sql


@dataclass(frozen=True)
class RunEnv:
    """What materializations may need beyond the engine and the step."""

    root: Path  # the project folder: relative paths resolve against it
    state_schema: str = "_sqlml"  # run history, the registry, interval state
    run_id: str | None = None
    # Models train one at a time: scikit-learn's warnings are caught process-wide, and each
    # fit may use every core already.
    training_lock: threading.Lock = field(default_factory=threading.Lock, compare=False)
    # Called before each step runs, e.g. to register the SQL functions its SQL calls.
    prepare: Callable[[Engine, str], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Outcome:
    rows: int | None = None
    status: str = "success"  # or "warn" / "error" for data tests
    message: str | None = None


def build_table(engine: Engine, step: Step, env: RunEnv) -> Outcome:
    check = column_check(engine, step.node, step.declared_columns, exact=step.contract)
    sql = anchored_sql(step, env.root)
    try:
        return Outcome(engine.build_table(step.relation, sql, step.existing, check))
    except SqlmlError as exc:
        if sql is not step.sql:  # name files as the user wrote them, relative to the project
            exc.message = exc.message.replace(f"{env.root.resolve()}/", "")
        raise


def build_view(engine: Engine, step: Step, env: RunEnv) -> Outcome:
    check = column_check(engine, step.node, step.declared_columns, exact=step.contract)
    engine.build_view(step.relation, step.sql, step.existing, check)
    return Outcome()


def land_source(engine: Engine, step: Step, env: RunEnv) -> Outcome:
    """Land a table from another DuckDB file, a database through ADBC, or a Python function."""
    table = step.spec
    check = column_check(engine, step.node, step.declared_columns, exact=False)
    if table.loader == "duckdb":
        from sqlml.loads import ATTACH_ALIAS

        path = env.root / str(table.settings["path"])
        if not path.is_file():
            raise ExecutionError(
                f"no DuckDB file at {table.settings['path']}",
                hint="check `duckdb: path:` (relative to the project folder)",
            )
        with engine.attached(path, ATTACH_ALIAS):
            return Outcome(engine.build_table(step.relation, step.sql, step.existing, check))
    from sqlml.sources import extract

    data = extract(table.loader, table.settings, source=step.node, root=env.root)
    return Outcome(engine.build_table_from_arrow(step.relation, data, step.existing, check))


def check_existing(engine: Engine, step: Step, env: RunEnv) -> Outcome:
    """A source that is not landed by sqlml must exist, with its declared columns."""
    columns = engine.columns(step.relation)
    if not columns:
        raise ExecutionError(
            f"table {step.relation.display} does not exist",
            hint="create it, or say where to load it from (file, duckdb, sqlite, postgres "
            "or python) in the source's YAML",
        )
    check = column_check(engine, step.node, step.declared_columns, exact=False)
    if check is not None:
        check(columns)
    return Outcome()


def run_test(engine: Engine, step: Step, env: RunEnv) -> Outcome:
    """Count a data test's failing rows, keep them for inspection, judge the thresholds."""
    from sqlml.thresholds import count_is_failure

    config = step.spec.config
    sql = (
        step.sql if config.limit is None else f"select * from (\n{step.sql}\n) limit {config.limit}"
    )
    if config.store_failures:
        engine.ensure_schema(step.relation.schema)
        count = engine.build_table(step.relation, sql, step.existing) or 0
        where = f"; failing rows in {step.relation.display}"
    else:
        count = int(engine.execute(f"select count(*) from (\n{sql}\n)")[0][0])
        where = ""
    # As in dbt: with severity error, error_if decides failure and warn_if a warning;
    # with severity warn, only warn_if counts.
    if config.severity == "error" and count_is_failure(count, config.error_if):
        return Outcome(count, "error", f"{_rows(count)} (error_if {config.error_if}){where}")
    if count_is_failure(count, config.warn_if):
        return Outcome(count, "warn", f"{_rows(count)} (warn_if {config.warn_if}){where}")
    return Outcome(count)


def run_export(engine: Engine, step: Step, env: RunEnv) -> Outcome:
    """Deliver the parent's rows (or its changed rows) to a file or an HTTP endpoint."""
    from sqlml.export.deliver import export_rows

    rows, message = export_rows(
        engine, step, state_schema=env.state_schema, run_id=env.run_id or "", root=env.root
    )
    return Outcome(rows, message=message)


def train_model(engine: Engine, step: Step, env: RunEnv) -> Outcome:
    """Train, export and register an ML model when its data or spec changed (or if forced)."""
    from sqlml.ml.trainstep import train_step

    outcome = train_step(
        engine,
        step,
        state_schema=env.state_schema,
        run_id=env.run_id,
        training_lock=env.training_lock,
    )
    return Outcome(outcome.rows, outcome.status, outcome.message)


def run_monitor(engine: Engine, step: Step, env: RunEnv) -> Outcome:
    """Run a monitor: its figures, history, alerts and retraining request."""
    from sqlml.monitor.step import monitor_step

    outcome = monitor_step(engine, step.spec, run_id=env.run_id or "")
    return Outcome(len(outcome.result.metrics), outcome.status, outcome.message)


def score_rows(engine: Engine, step: Step, env: RunEnv) -> Outcome:
    """Score the step's rows with its model's champion into its table (new and changed rows
    only when the table holds the same version's scores)."""
    from sqlml.ml.scorestep import score_model

    spec = step.spec
    outcome = score_model(
        engine,
        model=spec.model,
        source_sql=step.sql,
        keys=spec.keys,
        relation=step.relation,
        existing=step.existing,
        state_schema=env.state_schema,
        run_id=env.run_id,
        alias=spec.version,
        incremental=spec.incremental,
    )
    return Outcome(outcome.rows, message=outcome.message)


def _rows(n: int) -> str:
    return "1 failing row" if n == 1 else f"{n} failing rows"


def build_snapshot(engine: Engine, step: Step, env: RunEnv) -> Outcome:
    """Record what changed in a snapshot's select since its last run (see runner.snapshots)."""
    from sqlml.runner.snapshots import keep_history

    return keep_history(engine, step, env)


def build_incremental(engine: Engine, step: Step, env: RunEnv) -> Outcome:
    from sqlml.runner.incremental import build_incremental as build

    return build(engine, step, env)


MATERIALIZATIONS: dict[str, Callable[[Engine, Step, RunEnv], Outcome]] = {
    "table": build_table,
    "view": build_view,
    "incremental": build_incremental,
    "source": land_source,
    "existing": check_existing,
    "test": run_test,
    "snapshot": build_snapshot,
    "export": run_export,
    "training": train_model,
    "monitor": run_monitor,
    "scoring": score_rows,
}
