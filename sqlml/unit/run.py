"""Run unit tests: each on a fresh in-memory catalog named like the warehouse, never on it,
through an in-memory engine."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlml.compiler import CompiledNode, CompiledProject, compile_project
from sqlml.engine import Engine, connect
from sqlml.errors import CompileError, ExecutionError, Location, SqlmlError
from sqlml.project.types import Project, UnitTest
from sqlml.unit.compare import compare_rows
from sqlml.unit.inputs import find_model, resolve_fixtures
from sqlml.unit.rows import TableColumn, create_table, first_line, quote
from sqlml.unit.types import Fixture, UnitTestResult

# The connection's own catalog, so every test can attach one named like the warehouse (even
# "memory") and detach it afterwards; opening a DuckDB connection costs far more than that.
_HOME = "__sqlml_unit_home"
_DEFAULT_CATALOG = "__sqlml_unit_warehouse"  # for targets that name no catalog
_WORK = "__sqlml_unit"  # schema in the test catalog for the actual and expected rows
_ACTUAL = f"{quote(_WORK)}.{quote('actual')}"
_EXPECTED = f"{quote(_WORK)}.{quote('expected')}"


def run_unit_tests(
    project: Project, compiled: CompiledProject, select: Collection[str] | None = None
) -> list[UnitTestResult]:
    """Run the project's unit tests on in-memory DuckDB, in the order they are declared.

    Args:
        project: the loaded project; its ``unit_tests`` are run.
        compiled: the project compiled; tests that set ``vars`` compile it again with them.
        select: names of models whose tests to run; None runs all.

    Returns:
        One result per test. A test that cannot run (unknown model, bad fixture, failing SQL)
        is an "error" result, never an exception.
    """
    tests = [t for t in project.unit_tests if select is None or t.model in select]
    if not tests:
        return []
    compiles: dict[str, CompiledProject | SqlmlError] = {"{}": compiled}
    disabled = {m.name for m in project.models} - set(compiled.nodes)
    results = []
    with _connection(project) as engine:
        for test in tests:
            started = time.perf_counter()
            try:
                nodes = _compiled_with_vars(project, test.vars, compiles).nodes
                message = _run_one(engine, project, test, nodes, disabled)
                status = "pass" if message is None else "fail"
            except SqlmlError as exc:
                status, message = "error", exc.render()
            duration = time.perf_counter() - started
            results.append(UnitTestResult(test.name, test.model, status, message, duration))
    return results


def _run_one(
    engine: Engine,
    project: Project,
    test: UnitTest,
    nodes: Mapping[str, CompiledNode],
    disabled: Collection[str],
) -> str | None:
    """The failure message of one test, None when it passes; raises SqlmlError if it cannot run."""
    where = Location(test.path, test.line)
    model = find_model(test, nodes, disabled)
    if model.error is not None:
        raise CompileError(
            f"unit test '{test.name}': model '{model.name}' does not compile:\n"
            + model.error.render(),
            location=where,
        )
    fixtures = resolve_fixtures(test, model, nodes)
    try:
        with _catalog(engine, project.target.database or _DEFAULT_CATALOG):
            for fixture in fixtures:
                _load_fixture(engine, test, fixture, where)
            try:
                engine.execute(f"create table {_ACTUAL} as\n{model.sql}")
            except ExecutionError as exc:
                raise ExecutionError(
                    f"unit test '{test.name}': model '{model.name}' failed on the given rows: "
                    + first_line(exc),
                    node=model.name,
                    location=where,
                    hint="check the given rows have the columns and types the model reads",
                ) from None
            return compare_rows(
                engine,
                _ACTUAL,
                _EXPECTED,
                test.expect,
                what=f"unit test '{test.name}'",
                model=model.name,
                location=where,
            )
    except ExecutionError as exc:
        if exc.location is not None:
            raise
        # The warehouse's own error, e.g. comparing values DuckDB cannot order or compare.
        raise ExecutionError(
            f"unit test '{test.name}': {first_line(exc)}", location=where
        ) from None


def _load_fixture(engine: Engine, test: UnitTest, fixture: Fixture, where: Location) -> None:
    """Create the input's table at its relation: its known columns, then any others given."""
    node = fixture.node
    relation = node.relation
    catalog = f"{quote(relation.database)}." if relation.database else ""
    engine.execute(f"create schema if not exists {catalog}{quote(relation.schema)}")
    columns: dict[str, TableColumn] = {}
    seed_types = getattr(node.spec, "column_types", None) or {}
    for column in node.declared_columns:
        columns[column.name.lower()] = TableColumn(
            column.name, column.data_type or seed_types.get(column.name)
        )
    for name in [*node.columns, *seed_types]:
        columns.setdefault(name.lower(), TableColumn(name, seed_types.get(name)))
    for row in fixture.rows:
        for key in row:
            columns.setdefault(key.lower(), TableColumn(key))
    create_table(
        engine,
        f"create table {relation}",
        list(columns.values()),
        fixture.rows,
        what=f"unit test '{test.name}', input {fixture.label}",
        location=where,
        cast_hint=f"give a value of that type, or change the column's data_type on '{node.name}'",
    )


def _compiled_with_vars(
    project: Project, vars: Mapping[str, Any], compiles: dict[str, CompiledProject | SqlmlError]
) -> CompiledProject:
    """The project compiled with a test's vars over the project's, once per distinct vars."""
    key = json.dumps(vars, sort_keys=True, default=str)
    if key not in compiles:
        # Compiled SQL goes to a scratch folder so target/compiled/ keeps the project's own.
        with tempfile.TemporaryDirectory(prefix="sqlml-unit-") as scratch:
            varied = replace(
                project,
                vars={**project.vars, **vars},
                target_dir=Path(scratch) / project.target_dir.name,
                data_tests=(),
            )
            try:
                compiles[key] = compile_project(varied, use_cache=False)
            except SqlmlError as exc:
                compiles[key] = exc
    found = compiles[key]
    if isinstance(found, SqlmlError):
        raise found
    return found


@contextmanager
def _connection(project: Project) -> Iterator[Engine]:
    """An in-memory engine whose current catalog is its own (file paths in SQL resolve
    against the project and times are UTC, as in the warehouse)."""
    engine = connect(":memory:", search_path=project.root)
    try:
        engine.execute(f"attach ':memory:' as {quote(_HOME)}")
        engine.execute(f"use {quote(_HOME)}")
        engine.execute("detach memory")
        yield engine
    finally:
        engine.close()


@contextmanager
def _catalog(engine: Engine, name: str) -> Iterator[None]:
    """A fresh empty in-memory catalog named ``name``, current while the block runs."""
    engine.execute(f"attach ':memory:' as {quote(name)}")
    try:
        engine.execute(f"use {quote(name)}")
        engine.execute(f"create schema {quote(_WORK)}")
        yield
    finally:
        engine.execute(f"use {quote(_HOME)}")
        engine.execute(f"detach {quote(name)}")
