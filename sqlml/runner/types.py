"""Results of executing a plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class NodeResult:
    """What happened to one step.

    Args:
        status: "success", "error" or "skipped".
        message: the error text, or why the node was skipped.
        location: where the error points (``file:line:col``), if anywhere.
    """

    node: str
    status: str
    materialization: str
    relation: str
    started_at: datetime | None = None
    duration_s: float = 0.0
    rows: int | None = None
    message: str | None = None
    location: str | None = None
    fingerprint: str = ""


@dataclass(frozen=True)
class RunResult:
    run_id: str
    command: str
    started_at: datetime
    finished_at: datetime
    results: tuple[NodeResult, ...]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def success(self) -> bool:
        return all(r.status == "success" for r in self.results)

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()
