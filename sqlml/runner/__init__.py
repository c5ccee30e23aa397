"""Stage 5: a `Plan` → results, built in the warehouse."""

from sqlml.runner.execute import Listener, execute_plan
from sqlml.runner.types import NodeResult, RunResult

__all__ = ["Listener", "NodeResult", "RunResult", "execute_plan"]
