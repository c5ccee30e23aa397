"""Results of executing a plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class NodeResult:
    """What happened to one step.

    Args:
        status: "success", "warn" (a data test over its warn threshold), "error" or "skipped".
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
    kind: str = "model"


@dataclass(frozen=True)
class SchemaChange:
    """A column added, removed or retyped since the node's previous build."""

    node: str
    change: str  # "added", "removed" or "type_changed"
    column: str
    old_type: str | None
    new_type: str | None

    def __str__(self) -> str:
        if self.change == "added":
            return f"{self.node}: column '{self.column}' added ({self.new_type})"
        if self.change == "removed":
            return f"{self.node}: column '{self.column}' removed (was {self.old_type})"
        return (
            f"{self.node}: column '{self.column}' changed from {self.old_type} to {self.new_type}"
        )


@dataclass(frozen=True)
class RunResult:
    run_id: str
    command: str
    started_at: datetime
    finished_at: datetime
    results: tuple[NodeResult, ...]
    schema_changes: tuple[SchemaChange, ...] = ()

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def success(self) -> bool:
        """No node failed or was skipped (warnings are fine)."""
        return all(r.status in ("success", "warn") for r in self.results)

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()
