"""The Python API: `Context(path)` loads a project and runs each stage on request.

The CLI is a thin layer over this class; everything it does, Python code can do too::

    from sqlml import Context

    result = Context("path/to/project").run(select=["+fct_orders"])
    assert result.success
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property, partial
from pathlib import Path
from typing import Any

from sqlml.commands import COMMANDS, Refresh, invocation, plan_options, retry_request, select_for
from sqlml.compiler import CompiledNode, CompiledProject, compile_project
from sqlml.engine import Engine
from sqlml.errors import ExecutionError
from sqlml.execution import execute_command
from sqlml.graph import DAG, build_dag, select_nodes
from sqlml.graph.selection import uses_state
from sqlml.models_api import ModelsAPI
from sqlml.plan import Plan, make_plan
from sqlml.project import Project, load_project
from sqlml.runner import Listener, RunResult
from sqlml.runner import state as run_state
from sqlml.runner.artifacts import write_manifest, write_run_results
from sqlml.runner.history import LastRun
from sqlml.warehouse import Warehouse

# Refresh is part of the Python API: `Context.plan(refresh=Refresh(...))`.
__all__ = ["Context", "Refresh"]


class Context(ModelsAPI):
    """One project, one target, one set of vars.

    Args:
        project_dir: the folder holding ``project.yml``.
        target: a target name from ``project.yml`` (default: the project's default target).
        vars: values overriding the project's ``vars``.
        listener: told about each node as a run progresses (the CLI draws a progress display).
        lock_timeout: seconds a writing command waits while another holds the warehouse
            (default: ``lock_timeout`` in ``project.yml``, else 60).
        on_lock_wait: told, once, what a writing command is waiting for.
        clock: returns the current time (aware); a run's start, which schedules are
            evaluated at and count from. Tests pass a fixed one.
    """

    def __init__(
        self,
        project_dir: str | os.PathLike[str] = ".",
        *,
        target: str | None = None,
        vars: Mapping[str, Any] | None = None,
        listener: Listener | None = None,
        lock_timeout: float | None = None,
        on_lock_wait: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.project_dir = Path(project_dir)
        self.target = target
        self.vars = dict(vars or {})
        self.listener = listener
        self.lock_timeout = lock_timeout
        self.on_lock_wait = on_lock_wait
        self.clock = clock or _utc_now

    @cached_property
    def project(self) -> Project:
        return load_project(self.project_dir, target=self.target, vars=self.vars)

    def compile(self) -> CompiledProject:
        """Render and check every model; writes ``target/compiled/`` and ``manifest.json``."""
        from sqlml.export.nodes import add_export_nodes
        from sqlml.export.spec import load_exports

        compiled = add_export_nodes(compile_project(self.project), load_exports(self.project.root))
        write_manifest(compiled)
        return compiled

    def dag(self, compiled: CompiledProject) -> DAG:
        return build_dag({name: node.depends_on for name, node in compiled.nodes.items()})

    def ls(self, select: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[CompiledNode]:
        """The selected nodes, in topological order."""
        compiled = self.compile()
        dag = self.dag(compiled)
        chosen = select_nodes(
            dag, compiled.nodes, select, exclude, built=self._built(select, exclude)
        )
        return [compiled.nodes[name] for name in dag.order if name in chosen]

    def plan(
        self,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        command: str = "run",
        refresh: Refresh | None = None,
        ignore_schedules: bool = False,
    ) -> Plan:
        """What ``command`` would do now. Reads the warehouse's state if it can; never writes.

        Scheduled nodes that are not due are listed in ``Plan.not_due``, unless
        ``ignore_schedules``.
        """
        compiled = self.compile()
        dag = self.dag(compiled)
        state = self.warehouse.peek_state()
        selected = select_for(command, compiled, dag, select, exclude, state.fingerprints)
        return make_plan(
            compiled,
            dag,
            selected,
            state,
            kinds=COMMANDS[command],
            now=self.clock(),
            ignore_schedules=ignore_schedules,
            **plan_options(refresh),
        )

    def run(
        self,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        threads: int | None = None,
        full_refresh: bool = False,
        start: datetime | None = None,
        end: datetime | None = None,
        retrain: bool = False,
        ignore_schedules: bool = False,
    ) -> RunResult:
        """Land sources and seeds, build models and feature views, and train ML models whose
        data or spec changed (all selected ones with ``retrain``), in dependency order.

        Incremental models add only new rows to their tables; ``full_refresh`` rebuilds them.
        ``start``/``end`` (UTC) rebuild that range of every selected time_range model.
        Nodes with a ``schedule`` are built only when due (see `sqlml.plan.due`);
        ``ignore_schedules`` builds every selected node (``--all``).

        Returns the run's result; ``result.success`` is False if any node failed or was skipped.
        Raises only for problems of the whole project (bad config, cycles, a locked warehouse).
        """
        return self._execute(
            "run",
            select,
            exclude,
            threads,
            retrain,
            ignore_schedules=ignore_schedules,
            refresh=Refresh(full_refresh, start, end),
        )

    def build(
        self,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        threads: int | None = None,
        full_refresh: bool = False,
        start: datetime | None = None,
        end: datetime | None = None,
        retrain: bool = False,
        ignore_schedules: bool = False,
    ) -> RunResult:
        """Like `run`, with data tests: a node's children wait for its tests, and an
        error-severity failure skips them."""
        return self._execute(
            "build",
            select,
            exclude,
            threads,
            retrain,
            ignore_schedules=ignore_schedules,
            refresh=Refresh(full_refresh, start, end),
        )

    def train(
        self,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        threads: int | None = None,
        ignore_schedules: bool = True,
    ) -> RunResult:
        """Train the selected ML models (all when nothing is selected) even if their data and
        spec are unchanged; their inputs are read as they are in the warehouse. Asked for by
        name, they train whatever their schedule."""
        return self._execute(
            "train", select, exclude, threads, True, ignore_schedules=ignore_schedules
        )

    def test(
        self,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        threads: int | None = None,
        ignore_schedules: bool = False,
    ) -> RunResult:
        """Run the data tests of the selected nodes (all tests when nothing is selected)."""
        return self._execute("test", select, exclude, threads, ignore_schedules=ignore_schedules)

    def seed(
        self,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        threads: int | None = None,
        ignore_schedules: bool = False,
    ) -> RunResult:
        """Load the seed CSV files."""
        return self._execute("seed", select, exclude, threads, ignore_schedules=ignore_schedules)

    def snapshot(
        self,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        threads: int | None = None,
        ignore_schedules: bool = False,
    ) -> RunResult:
        """Record what changed in each selected snapshot's select since its last run."""
        return self._execute(
            "snapshot", select, exclude, threads, ignore_schedules=ignore_schedules
        )

    def monitor(
        self,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        threads: int | None = None,
        ignore_schedules: bool = False,
        reset_reference: bool = False,
    ) -> RunResult:
        """Run the selected monitors alone (all of them when nothing is selected), against
        what is in the warehouse now; append their figures to the history and act on them.
        With ``reset_reference``, first forget their first-window references (see
        `reset_references`), so this run freezes new ones."""
        if reset_reference:
            self.reset_references(select, exclude)
        return self._execute("monitor", select, exclude, threads, ignore_schedules=ignore_schedules)

    def reset_references(
        self, select: Sequence[str] = (), exclude: Sequence[str] = ()
    ) -> list[str]:
        """Forget the frozen references of the selected monitors with ``reference:
        first_window``, so that their next run freezes its window as the new reference (e.g.
        once a shift is accepted as the new normal). Returns their names."""
        from sqlml.compiler.monitornodes import MonitorNode
        from sqlml.monitor.reference import reset_first_window

        names = [
            node.name
            for node in self.ls(select, exclude)
            if isinstance(node.spec, MonitorNode) and node.spec.monitor.reference == "first_window"
        ]

        def reset(engine: Engine, schema: str) -> None:
            for name in names:
                reset_first_window(engine, schema, name)

        self.warehouse.run(reset, write=True)
        return names

    def freshness(self, select: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[Any]:
        """Check how old the newest row of each selected source is; record the results.

        Returns one `FreshnessResult` per source that declares ``loaded_at``.
        """
        from sqlml.runner.freshness import check_freshness, record_freshness

        nodes = self.ls(select, exclude)

        def check(engine: Engine, schema: str) -> list[Any]:
            run_state.ensure_state(engine, schema)
            results = check_freshness(engine, nodes)
            record_freshness(engine, schema, results)
            return results

        return self.warehouse.run(check, write=True)

    def unit_test(self, select: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[Any]:
        """Run the unit tests of the selected models on in-memory DuckDB (never the warehouse).

        Returns one `UnitTestResult` per test.
        """
        from sqlml.unit import run_unit_tests

        compiled = self.compile()
        chosen = None
        if select or exclude:
            built = self._built(select, exclude)
            chosen = select_nodes(self.dag(compiled), compiled.nodes, select, exclude, built=built)
        return run_unit_tests(self.project, compiled, chosen)

    def report(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the monitoring report, one self-contained HTML file, from the history tables.

        Args:
            path: where to write it (default: ``target/monitoring.html``).
        """
        from sqlml.monitor.report import write_report

        out = Path(path) if path is not None else self.project.target_dir / "monitoring.html"
        if not self.project.target.path.exists():
            raise ExecutionError(
                f"no warehouse at {self.project.target.path.name} yet: nothing to report",
                hint="run the project first (`sqlml run`), then its monitors (`sqlml monitor`)",
                exit_code=2,
            )
        title = f"{self.project.name}: monitoring"
        return self.warehouse.run(
            lambda engine, schema: write_report(engine, schema, out, title=title)
        )

    def last_run(self) -> LastRun | None:
        """The latest run of a command that executes nodes, read from the warehouse; None
        when there is none (or no warehouse yet)."""
        return self.warehouse.last_run(COMMANDS)

    def retry(self, *, threads: int | None = None, last: LastRun | None = None) -> RunResult | None:
        """Run again only the nodes that failed or were skipped in the last run, with its
        command (run, build, test, seed or snapshot) and flags; ``vars`` given to this
        Context win over the last run's, and so does ``threads``.

        A run that never finished (killed) recorded no node results: it is run again whole,
        with the same selection. Returns None when the last run succeeded (nothing to retry);
        raises ExecutionError when no run was recorded.
        """
        last = last or self.last_run()
        if last is None:
            raise ExecutionError(
                "no run recorded in the warehouse: nothing to retry",
                hint="`sqlml retry` repeats the failed part of the last run, build, test, seed "
                "or snapshot; run one first",
                exit_code=2,
            )
        if last.status == "success":
            return None
        again = retry_request(last)
        context = self
        merged = {**again.vars, **self.vars}
        if merged != self.vars:
            context = Context(
                self.project_dir,
                target=self.target,
                vars=merged,
                listener=self.listener,
                lock_timeout=self.lock_timeout,
                on_lock_wait=self.on_lock_wait,
                clock=self.clock,
            )
        return context._execute(
            again.command,
            again.select,
            again.exclude,
            threads or again.threads,
            again.retrain,
            ignore_schedules=again.ignore_schedules,
            only=again.only,
            retry_of=last.run_id,
            refresh=again.refresh,
        )

    def serve(
        self,
        options: Any = None,
        settings: Any = None,
        ready: Callable[[str], None] | None = None,
    ) -> None:
        """Serve the champions of the registry over HTTP until interrupted.

        Args:
            options: a `sqlml.serve.server.ServeOptions` (host, port, polling).
            settings: a `sqlml.serve.app.ServeSettings` (token, body and row limits).
            ready: called with the URL once the socket listens.
        """
        from sqlml.serve.app import ServeSettings
        from sqlml.serve.server import ServeOptions, make_refresher, serve

        options = options or ServeOptions()
        project = self.project
        refresher = make_refresher(
            project.target.path, project.state_schema, self.entity_sources(), options
        )
        serve(refresher, settings or ServeSettings(), options, ready)

    def entity_sources(self) -> dict[str, Any]:
        """Per ML model trained on feature views, where entity keys find their features: the
        training node's spine keys and views (`sqlml.serve.entities.EntitySource`)."""
        from sqlml.serve.entities import entity_sources

        return entity_sources(self.compile())

    def _execute(
        self,
        command: str,
        select: Sequence[str],
        exclude: Sequence[str],
        threads: int | None,
        retrain: bool = False,
        *,
        ignore_schedules: bool = False,
        only: frozenset[str] | None = None,
        retry_of: str | None = None,
        refresh: Refresh | None = None,
    ) -> RunResult:
        """Plan and run ``command``; ``only`` replaces selection by these nodes (a retry)."""
        compiled = self.compile()
        project = self.project
        dag = self.dag(compiled)
        if only is None:
            # Bad selectors fail here, before waiting for the warehouse: with no fingerprints
            # known, state: selectors match every node, so only the other selectors can fail.
            selected = select_for(command, compiled, dag, select, exclude, {})
        else:  # nodes renamed or removed since are not retried
            selected = frozenset(n for n in only if n in compiled.nodes)
        flags = invocation(
            select,
            exclude,
            threads,
            ignore_schedules=ignore_schedules,
            vars=self.vars,
            retrain=retrain,
            refresh=refresh,
            nodes=None if only is None else selected,
            retry_of=retry_of,
        )
        reselect: Callable[[Mapping[str, str]], frozenset[str]] | None = None
        if only is None and uses_state(select, exclude):
            reselect = partial(select_for, command, compiled, dag, select, exclude)
        engine = self.connect()
        try:
            run = execute_command(
                engine,
                compiled,
                dag,
                command,
                selected,
                reselect=reselect,
                retrain=retrain,
                ignore_schedules=ignore_schedules,
                refresh=refresh,
                threads=threads,
                listener=self.listener,
                clock=self.clock,
                flags=flags,
            )
        finally:
            engine.close()
        write_run_results(run, project.target_dir, project.name, project.target.name)
        return run

    def connect(self, *, read_only: bool = False) -> Engine:
        """Open the target's warehouse; relative file paths in SQL resolve to the project.

        A writing connection holds the warehouse lock until closed, waiting up to the lock
        timeout for another command to finish first (`sqlml.engine.connect`).
        """
        return self.warehouse.connect(read_only=read_only)

    @property
    def warehouse(self) -> Warehouse:
        """The target's warehouse, reached with this Context's lock timeout."""
        project, timeout = self.project, self.lock_timeout
        return Warehouse(
            project.target.path,
            project.root,
            project.state_schema,
            project.lock_timeout if timeout is None else timeout,
            self.on_lock_wait,
        )

    def _built(self, select: Sequence[str], exclude: Sequence[str]) -> Mapping[str, str] | None:
        """The fingerprints of the last builds, read only when a ``state:`` selector needs them."""
        if not uses_state(select, exclude):
            return None
        state = self.warehouse.peek_state()
        if state.unreadable:
            raise ExecutionError(
                f"cannot read the warehouse for a state: selector: {state.unreadable}",
                hint="retry once the command writing to the warehouse has finished",
                exit_code=2,
            )
        return state.fingerprints


def _utc_now() -> datetime:
    return datetime.now(UTC)
