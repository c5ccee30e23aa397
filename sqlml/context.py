"""The Python API: `Context(path)` loads a project and runs each stage on request.

The CLI is a thin layer over this class; everything it does, Python code can do too::

    from sqlml import Context

    result = Context("path/to/project").run(select=["+fct_orders"])
    assert result.success
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlml.compiler import CompiledNode, CompiledProject, compile_project
from sqlml.engine import Engine, connect
from sqlml.errors import ExecutionError, SqlmlError
from sqlml.graph import DAG, build_dag, select_nodes
from sqlml.graph.selection import uses_state
from sqlml.ml import registry
from sqlml.plan import Plan, WarehouseState, make_plan
from sqlml.plan.intervals import naive_utc
from sqlml.project import Project, load_project
from sqlml.retraining import pending_retrains, retrain_on_request
from sqlml.runner import Listener, RunResult, execute_plan
from sqlml.runner import state as run_state
from sqlml.runner.artifacts import write_manifest, write_run_results
from sqlml.runner.history import LastRun, read_last_run
from sqlml.runner.materializations import RunEnv

if TYPE_CHECKING:
    from sqlml.ml.promotion import LoadedModel
    from sqlml.ml.registry import AliasChange, ModelDetail, ModelSummary

T = TypeVar("T")

# The kinds of node each command executes.
COMMANDS: dict[str, frozenset[str]] = {
    "run": frozenset(
        {
            "model",
            "seed",
            "source",
            "snapshot",
            "export",
            "feature_view",
            "training",
            "monitor",
            "scoring",
        }
    ),
    "build": frozenset(
        {
            "model",
            "seed",
            "source",
            "snapshot",
            "test",
            "export",
            "feature_view",
            "training",
            "monitor",
            "scoring",
        }
    ),
    "test": frozenset({"test"}),
    "seed": frozenset({"seed"}),
    "snapshot": frozenset({"snapshot"}),
    "train": frozenset({"training"}),
    "monitor": frozenset({"monitor"}),
}


@dataclass(frozen=True)
class Refresh:
    """How incremental models are built: ``full`` rebuilds them; ``start``/``end`` (UTC)
    rebuild that range of time_range models whatever is done."""

    full: bool = False
    start: datetime | None = None
    end: datetime | None = None


def _moment(stored: str | None) -> datetime | None:
    """A ``--start``/``--end`` as a run's invocation stored it."""
    return datetime.fromisoformat(stored) if stored else None


def _options(refresh: Refresh | None) -> dict[str, Any]:
    if refresh is None:
        return {}
    if refresh.start and refresh.end and naive_utc(refresh.start) >= naive_utc(refresh.end):
        raise SqlmlError(
            f"--start ({refresh.start}) must be before --end ({refresh.end})",
            hint="give the range to rebuild as --start EARLIER --end LATER",
        )
    return {"full_refresh": refresh.full, "start": refresh.start, "end": refresh.end}


class Context:
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
        state = self._peek_state()
        selected = self._select(compiled, dag, select, exclude, command, state.fingerprints)
        return make_plan(
            compiled,
            dag,
            selected,
            state,
            kinds=COMMANDS[command],
            now=self.clock(),
            ignore_schedules=ignore_schedules,
            **_options(refresh),
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
    ) -> RunResult:
        """Run the selected monitors alone (all of them when nothing is selected), against
        what is in the warehouse now; append their figures to the history and act on them."""
        return self._execute("monitor", select, exclude, threads, ignore_schedules=ignore_schedules)

    def freshness(self, select: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[Any]:
        """Check how old the newest row of each selected source is; record the results.

        Returns one `FreshnessResult` per source that declares ``loaded_at``.
        """
        from sqlml.runner.freshness import check_freshness, record_freshness

        compiled = self.compile()
        dag = self.dag(compiled)
        selected = select_nodes(
            dag, compiled.nodes, select, exclude, built=self._built(select, exclude)
        )
        nodes = [compiled.nodes[n] for n in dag.order if n in selected]
        engine = self.connect()
        try:
            run_state.ensure_state(engine, self.project.state_schema)
            results = check_freshness(engine, nodes)
            record_freshness(engine, self.project.state_schema, results)
        finally:
            engine.close()
        return results

    def unit_test(self, select: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[Any]:
        """Run the unit tests of the selected models on in-memory DuckDB (never the warehouse).

        Returns one `UnitTestResult` per test.
        """
        from sqlml.unit import run_unit_tests

        compiled = self.compile()
        chosen = None
        if select or exclude:
            chosen = select_nodes(
                self.dag(compiled),
                compiled.nodes,
                select,
                exclude,
                built=self._built(select, exclude),
            )
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
        engine = self.connect(read_only=True)
        try:
            return write_report(engine, self.project.state_schema, out,
                                title=f"{self.project.name}: monitoring")  # fmt: skip
        finally:
            engine.close()

    def last_run(self) -> LastRun | None:
        """The latest run of a command that executes nodes, read from the warehouse; None
        when there is none (or no warehouse yet)."""
        if str(self.project.target.path) != ":memory:" and not self.project.target.path.exists():
            return None
        engine = self.connect(read_only=True)
        try:
            return read_last_run(engine, self.project.state_schema, COMMANDS)
        finally:
            engine.close()

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
        flags = last.invocation
        context = self
        merged = {**(flags.get("vars") or {}), **self.vars}
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
        threads = threads or flags.get("threads")
        select, exclude = tuple(flags.get("select") or ()), tuple(flags.get("exclude") or ())
        nodes = flags.get("nodes")
        # A finished run is retried node by node, schedules aside: those nodes were due then.
        ignore_schedules = bool(flags.get("all"))
        if last.status != "running":  # it finished: only what failed or never ran
            nodes = [*last.failed, *last.skipped]
            ignore_schedules = True
        return context._execute(
            last.command,
            select,
            exclude,
            threads,
            bool(flags.get("retrain")),
            ignore_schedules=ignore_schedules,
            only=None if nodes is None else frozenset(nodes),
            retry_of=last.run_id,
            # The failed nodes never got the full refresh or backfill the run asked for.
            refresh=Refresh(
                bool(flags.get("full_refresh")),
                _moment(flags.get("start")),
                _moment(flags.get("end")),
            ),
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
        from sqlml.serve.entities import EntitySource

        sources = {}
        for node in self.compile().nodes.values():
            training = node.spec if node.kind == "training" else None
            views = tuple(getattr(training, "views", ()))
            if training is not None and views and node.error is None:
                sources[training.spec.name] = EntitySource(tuple(training.keys), views)
        return sources

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
            selected = self._select(compiled, dag, select, exclude, command, {})
        else:  # nodes renamed or removed since are not retried
            selected = frozenset(n for n in only if n in compiled.nodes)
        # What `sqlml retry` needs to repeat this run. New flags of these commands go here.
        invocation = json.dumps(
            {
                "select": list(select),
                "exclude": list(exclude),
                "threads": threads,
                "all": ignore_schedules,
                "vars": self.vars,
                "retrain": retrain,
                "full_refresh": bool(refresh and refresh.full),
                "start": refresh.start if refresh else None,
                "end": refresh.end if refresh else None,
                "nodes": None if only is None else sorted(selected),
                "retry_of": retry_of,
            },
            default=str,
        )
        engine = self.connect()
        try:
            run_state.ensure_state(engine, project.state_schema)
            state = run_state.read_state(engine, project.state_schema)
            if only is None and uses_state(select, exclude):
                selected = self._select(compiled, dag, select, exclude, command, state.fingerprints)
            forced = selected if retrain else frozenset()
            pending = pending_retrains(engine, project, compiled, COMMANDS[command], selected)
            forced = forced | frozenset(pending)
            started = self.clock()
            plan = make_plan(
                compiled,
                dag,
                selected,
                state,
                kinds=COMMANDS[command],
                retrain=forced,
                now=started,
                ignore_schedules=ignore_schedules,
                **_options(refresh),
            )
            run = RunResult(uuid.uuid4().hex, command, started, started, ())
            from sqlml import __version__
            from sqlml.ml.udf import RunFunctions

            run_state.record_run_start(
                engine, project.state_schema, run, project.target.name, __version__, invocation
            )
            results = execute_plan(
                plan,
                engine,
                threads=threads or project.target.threads or os.cpu_count() or 1,
                errors=compiled.errors,
                listener=self.listener,
                env=RunEnv(
                    project.root,
                    project.state_schema,
                    run.run_id,
                    # predict_<model>(...): the champions, registered as SQL functions
                    prepare=RunFunctions.of(compiled).prepare,
                ),
            )
            results, plan = retrain_on_request(
                engine,
                project,
                compiled,
                dag,
                COMMANDS[command],
                run.run_id,
                results,
                plan,
                pending,
            )
            run = RunResult(run.run_id, command, started, datetime.now(UTC), results)
            # One transaction (this thread's statements): a run killed while recording
            # leaves no half-written history.
            with engine.transaction():
                run = run_state.record_run_end(engine, project.state_schema, run, plan)
        finally:
            engine.close()
        write_run_results(run, project.target_dir, project.name, project.target.name)
        return run

    @staticmethod
    def _select(
        compiled: CompiledProject,
        dag: DAG,
        select: Sequence[str],
        exclude: Sequence[str],
        command: str,
        built: Mapping[str, str] | None = None,
    ) -> frozenset[str]:
        selected = select_nodes(dag, compiled.nodes, select, exclude, built=built)
        if "test" not in COMMANDS[command] or not select:
            return selected
        # A data test comes along with any node it tests (dbt's "eager" indirect selection),
        # unless it was excluded by name.
        excluded = set(compiled.nodes) - select_nodes(dag, compiled.nodes, (), exclude, built=built)
        tests = {
            name
            for name, node in compiled.nodes.items()
            if node.kind == "test" and set(dag.parents[name]) & selected and name not in excluded
        }
        return selected | tests

    def models(self) -> list[ModelSummary]:
        """Every model in the registry: latest version, number of versions, aliases."""
        return self._registry(lambda engine, schema: registry.list_models(engine, schema))

    def model(self, name: str) -> ModelDetail:
        """One registered model: its versions (metrics, parity, fingerprints), aliases and
        alias history."""
        return self._registry(lambda engine, schema: registry.show_model(engine, schema, name))

    def promote(self, name: str, version: int, *, reason: str | None = None) -> AliasChange:
        """Make ``version`` of model ``name`` its champion, recorded in the alias history."""
        why = reason or f"promoted by hand to version {version}"
        return self._registry(
            lambda engine, schema: registry.promote(engine, schema, name, version, reason=why),
            write=True,
        )

    def rollback(self, name: str) -> AliasChange:
        """Point model ``name``'s champion back where it pointed before its last move."""
        return self._registry(
            lambda engine, schema: registry.rollback(engine, schema, name), write=True
        )

    def load_model(self, name: str, version: int | str = "champion") -> LoadedModel:
        """A registered version (a number or an alias) with its ONNX bytes, sha256 verified,
        and its feature columns; raises ScoringError when it does not exist or was tampered."""
        from sqlml.ml.promotion import LoadedModel

        def load(engine: Engine, schema: str) -> LoadedModel:
            return LoadedModel.load(engine, schema, name, version)

        return self._registry(load)

    def model_sql(
        self,
        name: str,
        version: int | str = "champion",
        source: str = "input_rows",
        keep: Sequence[str] = (),
        dialect: str = "duckdb",
        *,
        pretty: bool = False,
    ) -> str:
        """A registered version of model ``name`` compiled to one SELECT scoring ``source``
        (a relation or a parenthesised query) in ``dialect``; raises ScoringError for models
        the SQL compiler does not translate (see `sqlml.ml.sqlmodel`)."""
        from sqlml.ml.sqlmodel import compile_model

        loaded = self.load_model(name, version)
        return compile_model(loaded.onnx, name).sql(source, keep, dialect, pretty)

    def _registry(self, operation: Callable[[Engine, str], T], *, write: bool = False) -> T:
        """Run a registry operation on the warehouse (read-only unless ``write``)."""
        if not write and not self.project.target.path.exists():
            engine = connect(":memory:")
        else:
            engine = self.connect(read_only=not write)
        try:
            return operation(engine, self.project.state_schema)
        finally:
            engine.close()

    def connect(self, *, read_only: bool = False) -> Engine:
        """Open the target's warehouse; relative file paths in SQL resolve to the project.

        A writing connection holds the warehouse lock until closed, waiting up to the lock
        timeout for another command to finish first (`sqlml.engine.connect`).
        """
        timeout = self.lock_timeout
        return connect(
            self.project.target.path,
            search_path=self.project.root,
            read_only=read_only,
            lock_timeout=self.project.lock_timeout if timeout is None else timeout,
            on_wait=self.on_lock_wait,
        )

    def _built(self, select: Sequence[str], exclude: Sequence[str]) -> Mapping[str, str] | None:
        """The fingerprints of the last builds, read only when a ``state:`` selector needs them."""
        if not uses_state(select, exclude):
            return None
        state = self._peek_state()
        if state.unreadable:
            raise ExecutionError(
                f"cannot read the warehouse for a state: selector: {state.unreadable}",
                hint="retry once the command writing to the warehouse has finished",
                exit_code=2,
            )
        return state.fingerprints

    def _peek_state(self) -> WarehouseState:
        if not self.project.target.path.exists():
            return WarehouseState()
        try:
            engine = self.connect(read_only=True)
        except ExecutionError as exc:
            from sqlml.engine.lock import current_holder

            holder = current_holder(self.project.target.path)
            if holder is not None:  # say which command, rather than DuckDB's process name
                return WarehouseState(unreadable=f"it is being written by {holder.describe()}")
            return WarehouseState(unreadable=exc.message)
        try:
            return run_state.read_state(engine, self.project.state_schema)
        finally:
            engine.close()


def _utc_now() -> datetime:
    return datetime.now(UTC)
