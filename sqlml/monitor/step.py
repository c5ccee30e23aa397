"""A monitor node at run time: run the monitor, and say how the run should take it.

The node's status follows the monitor's and the project's ``monitoring.fail_on``: a monitor at
or above that severity fails the node (so the command exits 1); below it, a monitor that
warned or errored is a warning; ``never`` never fails a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlml.engine.base import Engine
from sqlml.monitor.checks import MonitorEnv
from sqlml.monitor.run import MonitorResult, MonitorSettings, run_monitor

if TYPE_CHECKING:
    from sqlml.compiler.monitornodes import MonitorNode


@dataclass(frozen=True)
class StepOutcome:
    status: str  # success, warn, error (a node's status)
    message: str
    result: MonitorResult


def monitor_step(
    engine: Engine, node: MonitorNode, *, run_id: str, as_of: datetime | None = None
) -> StepOutcome:
    """Run the monitor of a node and turn its result into a node status and message."""
    settings = MonitorSettings(node.settings.webhook, node.settings.fail_on, node.settings.retrain)
    env = MonitorEnv(
        engine, node.state_schema, run_id, as_of or datetime.now(UTC), node.relations,
        {node.monitor.name: node.sql} if node.sql else {},
    )  # fmt: skip
    result = run_monitor(env, node.monitor, settings)
    message = f"{result.status}: {result.summary()}"
    if result.alert == "recorded":
        message += "; alert recorded"
    elif result.alert:
        message += f"; alert recorded, webhook: {result.alert}"
    if result.retrain:
        message += f"; retraining {result.retrain}"
    if result.fails(settings.fail_on):
        status = "error"
    elif result.status in ("warn", "error", "failed"):
        status = "warn"
    else:
        status = "success"
    return StepOutcome(status, message, result)
