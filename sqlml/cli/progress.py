"""Progress of a run: a live display in a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
from typing import Any

import click

from sqlml.plan.types import Plan, Step
from sqlml.runner.types import NodeResult, RunResult

_LABEL = {"success": "OK", "warn": "WARN", "error": "ERROR", "skipped": "SKIP"}
_COLOR = {"success": "green", "warn": "yellow", "error": "red", "skipped": "yellow"}


class PlainListener:
    """One line per finished node; safe for logs and CI."""

    def __init__(self, header: str = "") -> None:
        self.header = header
        self.total = 0
        self.done = 0
        self._lock = threading.Lock()

    def planned(self, plan: Plan) -> None:
        self.total = len(plan.steps)
        click.echo(self.header.format(nodes=_count(self.total, "node")))
        if plan.not_due:
            click.echo(
                f"Not due by their schedule: {_count(len(plan.not_due), 'node')} "
                "(`sqlml plan` says when; --all builds them)"
            )

    def started(self, step: Step) -> None:
        pass

    def finished(self, step: Step, result: NodeResult) -> None:
        with self._lock:
            self.done += 1
            click.echo(_line(self.done, self.total, step, result))

    def close(self) -> None:
        pass


class RichListener(PlainListener):
    """Finished lines scroll above a progress bar that names what is running."""

    def planned(self, plan: Plan) -> None:
        super().planned(plan)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.console = Console(stderr=False)
        self.progress = Progress(
            TextColumn("[bold]running"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=self.console,
            transient=True,
        )
        self.task = self.progress.add_task("", total=self.total)
        self.running: list[str] = []
        self.progress.start()

    def started(self, step: Step) -> None:
        with self._lock:
            self.running.append(step.node)
            self._describe()

    def finished(self, step: Step, result: NodeResult) -> None:
        with self._lock:
            self.done += 1
            if step.node in self.running:
                self.running.remove(step.node)
            color = _COLOR[result.status]
            line = _line(self.done, self.total, step, result)
            self.progress.console.print(line, style=color, markup=False, highlight=False)
            self.progress.advance(self.task)
            self._describe()

    def _describe(self) -> None:
        shown = ", ".join(self.running[:3]) + (" …" if len(self.running) > 3 else "")
        self.progress.update(self.task, description=shown)

    def close(self) -> None:
        if hasattr(self, "progress"):
            self.progress.stop()


def make_listener(header: str) -> PlainListener:
    """``header`` is printed once the plan is known; ``{nodes}`` is its number of nodes."""
    return RichListener(header) if sys.stdout.isatty() else PlainListener(header)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _line(index: int, total: int, step: Step, result: NodeResult) -> str:
    width = len(str(total))
    label = _LABEL[result.status]
    if result.status == "skipped":
        return f"{index:>{width}}/{total} {label:<5} {step.node} ({result.message})"
    if step.kind == "test":
        verdict = result.message if result.status == "warn" else result.status
        if result.status == "success":
            verdict = "pass"
        return (
            f"{index:>{width}}/{total} {label:<5} {step.node} (test: {verdict}) "
            f"in {result.duration_s:.2f}s"
        )
    if step.kind == "training" and result.status != "error":
        return (
            f"{index:>{width}}/{total} {label:<5} {step.node} (training: {result.message}) "
            f"in {result.duration_s:.2f}s"
        )
    if step.kind == "monitor":
        verdict = (result.message or "").split("; alert")[0] if result.status != "error" else ""
        return (
            f"{index:>{width}}/{total} {label:<5} {step.node} (monitor"
            f"{': ' + verdict if verdict else ''}) in {result.duration_s:.2f}s"
        )
    rows = f", {_count(result.rows, 'row')}" if result.rows is not None else ""
    return (
        f"{index:>{width}}/{total} {label:<5} {step.node} "
        f"({step.materialization} {step.relation.display}{rows}) in {result.duration_s:.2f}s"
    )


def summarize(run: RunResult) -> None:
    """Print the closing line of a run, then each error in full on stderr."""
    warned = f", {run.count('warn')} warned" if run.count("warn") else ""
    click.echo(
        f"Done in {run.duration_s:.2f}s: {run.count('success')} succeeded{warned}, "
        f"{run.count('error')} failed, {run.count('skipped')} skipped."
    )
    if run.schema_changes:
        click.echo("Schema changes since the previous build:")
        for change in run.schema_changes:
            click.echo(f"  {change}")
    for result in run.results:
        if result.status == "error" and result.message:
            click.echo(f"Error: {result.message}", err=True)


def describe_not_due(plan: Plan) -> list[dict[str, Any]]:
    return [
        {
            "node": n.node,
            "schedule": n.schedule,
            "last_success": n.last_success.isoformat(),
            "next_due": n.next_due.isoformat(),
        }
        for n in plan.not_due
    ]


def describe_plan(plan: Plan) -> list[dict[str, Any]]:
    return [
        {
            "node": s.node,
            "materialization": s.materialization,
            "relation": str(s.relation),
            "reason": s.reason,
            "action": s.action,
            "incremental": s.incremental.describe() if s.incremental else None,
            "depends_on": list(s.depends_on),
            "path": s.path,
        }
        for s in plan.steps
    ]
