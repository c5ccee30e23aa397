"""Stage 5: `Plan` → results. Parallel where dependencies allow; a failure skips only downstream."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlml.engine.base import Engine
from sqlml.errors import ExecutionError, Location, SqlmlError
from sqlml.plan.types import Plan, Step
from sqlml.runner.materializations import MATERIALIZATIONS, Outcome, RunEnv
from sqlml.runner.types import NodeResult


class Listener(Protocol):
    """Told about progress; the CLI draws it, the Python API may ignore it."""

    def planned(self, plan: Plan) -> None: ...

    def started(self, step: Step) -> None: ...

    def finished(self, step: Step, result: NodeResult) -> None: ...


def execute_plan(
    plan: Plan,
    engine: Engine,
    *,
    threads: int = 1,
    errors: Mapping[str, SqlmlError] | None = None,
    listener: Listener | None = None,
    env: RunEnv | None = None,
) -> tuple[NodeResult, ...]:
    """Run every step of ``plan`` once its dependencies succeeded.

    Args:
        plan: the steps, in a valid order.
        engine: the warehouse.
        threads: how many steps may run at once.
        errors: nodes that already failed to compile; they fail without touching the warehouse.
        listener: told when each step starts and finishes.
        env: what materializations need besides the engine (the project folder).

    Returns:
        One result per step, in the plan's order. A failed step leaves its relation as it
        was; every step downstream of it is skipped; independent steps go on.
    """
    errors = errors or {}
    env = env or RunEnv(Path.cwd())
    if listener:
        listener.planned(plan)
    for schema in plan.schemas:
        engine.ensure_schema(schema)
    steps = {s.node: s for s in plan.steps}
    waiting = {s.node: set(s.depends_on) for s in plan.steps}
    children: dict[str, list[str]] = {s.node: [] for s in plan.steps}
    for step in plan.steps:
        for parent in step.depends_on:
            children[parent].append(step.node)
    results: dict[str, NodeResult] = {}
    failed_upstream: dict[str, str] = {}  # skipped node -> the failed node that caused it

    def settle(name: str, result: NodeResult) -> list[str]:
        """Record a result; return the children now ready to run."""
        results[name] = result
        if listener:
            listener.finished(steps[name], result)
        cause = failed_upstream.get(name, name)
        ready = []
        for child in children[name]:
            if child in results:
                continue
            if result.status not in ("success", "warn"):
                failed_upstream[child] = cause
                ready.extend(settle(child, _skipped(steps[child], cause)))
                continue
            waiting[child].discard(name)
            if not waiting[child]:
                ready.append(child)
        return ready

    def run(name: str) -> NodeResult:
        step = steps[name]
        if listener:
            listener.started(step)
        return _run_step(engine, step, env, errors.get(name))

    ready = [s.node for s in plan.steps if not s.depends_on]
    if threads <= 1:
        while ready:
            name = ready.pop(0)
            ready.extend(settle(name, run(name)))
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sqlml") as pool:
            running: dict[Future[NodeResult], str] = {}

            def submit(names: list[str]) -> None:
                for name in names:
                    running[pool.submit(run, name)] = name

            submit(ready)
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    submit(settle(running.pop(future), future.result()))
    if len(results) != len(steps):  # every step either ran or was skipped; anything else is a bug
        stuck = sorted(set(steps) - set(results))
        raise RuntimeError(f"steps never became ready: {', '.join(stuck)}")
    return tuple(results[s.node] for s in plan.steps)


def _run_step(
    engine: Engine, step: Step, env: RunEnv, compile_error: SqlmlError | None
) -> NodeResult:
    started = datetime.now(UTC)
    clock = time.perf_counter()
    if compile_error is not None:
        return _failed(step, started, 0.0, compile_error)
    build: Callable[[Engine, Step, RunEnv], Outcome] | None = MATERIALIZATIONS.get(
        step.materialization
    )
    try:
        if build is None:
            raise ExecutionError(
                f"no materialization '{step.materialization}'",
                hint="use one of: " + ", ".join(sorted(MATERIALIZATIONS)),
            )
        if env.prepare is not None:
            env.prepare(engine, step.node)
        outcome = build(engine, step, env)
    except ExecutionError as exc:
        if step.kind in ("source", "seed", "export"):
            # What to fix is the declaration (or the file it reads), not generated SQL.
            location = Location(step.path, getattr(step.spec, "line", 0))
            hint = exc.hint or f"check the declaration of '{step.node}' in {step.path}"
        else:
            # The statement sent starts with one line of CREATE ... AS before the model's SQL.
            line = max(exc.statement_line - 1, 0)
            location = Location(step.compiled_path, line, exc.statement_column if line else 0)
            hint = exc.hint or (
                f"the SQL that ran is in {step.compiled_path}, rendered from {step.path}"
            )
        prefix = f"{step.kind} '{step.node}'"
        message = exc.message.removeprefix(f"{prefix}: ")  # loaders name the source themselves
        error = ExecutionError(
            f"{prefix} failed: {message}",
            node=step.node,
            location=location,
            hint=hint,
        )
        return _failed(step, started, time.perf_counter() - clock, error)
    except SqlmlError as exc:  # e.g. a training error: it names its file and key already
        exc.node = exc.node or step.node
        return _failed(step, started, time.perf_counter() - clock, exc)
    except Exception as exc:  # a bug must not take the rest of the run down with it
        error = ExecutionError(f"{step.kind} '{step.node}' failed: {type(exc).__name__}: {exc}")
        return _failed(step, started, time.perf_counter() - clock, error)
    return NodeResult(
        node=step.node,
        status=outcome.status,
        materialization=step.materialization,
        relation=str(step.relation),
        started_at=started,
        duration_s=time.perf_counter() - clock,
        rows=outcome.rows,
        message=f"{step.kind} '{step.node}' failed: {outcome.message}"
        if outcome.status == "error"
        else outcome.message,
        fingerprint=step.fingerprint,
        kind=step.kind,
    )


def _failed(step: Step, started: datetime, duration: float, error: SqlmlError) -> NodeResult:
    return NodeResult(
        node=step.node,
        status="error",
        materialization=step.materialization,
        relation=str(step.relation),
        started_at=started,
        duration_s=duration,
        message=error.render(),
        location=str(error.location) if error.location else None,
        kind=step.kind,
    )


def _skipped(step: Step, because: str) -> NodeResult:
    return NodeResult(
        node=step.node,
        status="skipped",
        materialization=step.materialization,
        relation=str(step.relation),
        message=f"upstream '{because}' failed",
        kind=step.kind,
    )
