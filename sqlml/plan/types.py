"""A plan is inert data: the steps a run will take, printable and testable without a warehouse."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlml.project.types import Column, IncrementalConfig
from sqlml.relation import Relation


@dataclass(frozen=True)
class WarehouseState:
    """What the planner knows of the warehouse, read by the caller beforehand.

    Args:
        relations: ``(schema, name) -> "table" | "view"`` for every existing relation.
        fingerprints: node name -> fingerprint of its last successful build.
        last_success: node name -> when the run that last built it started.
    """

    relations: Mapping[tuple[str, str], str] = field(default_factory=dict)
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    # time_range models: node -> the merged intervals already built, naive UTC.
    intervals: Mapping[str, tuple[tuple[datetime, datetime], ...]] = field(default_factory=dict)
    # node name -> the clock of the run that last built it successfully (aware, UTC).
    last_success: Mapping[str, datetime] = field(default_factory=dict)
    # Why the warehouse could not be read (e.g. locked by a writer); None when it was.
    unreadable: str | None = None


@dataclass(frozen=True)
class IncrementalStep:
    """How an incremental model is built this run.

    Args:
        config: the model's incremental settings.
        sql: the is_incremental() variant, run when ``full`` is False.
        full: build from scratch with the step's ``sql`` (no table yet, it is a view, or
            ``--full-refresh``); a time_range model's intervals start over.
        batches: time_range models: the ranges to build, in order, each in one transaction.
        path: where ``sql`` is written, for errors.
    """

    config: IncrementalConfig
    sql: str
    full: bool
    batches: tuple[tuple[datetime, datetime], ...] = ()
    path: str = ""

    def describe(self) -> str:
        """A few words for people: how this run builds the model."""
        mode = "full build" if self.full else f"incremental {self.config.strategy}"
        if self.config.strategy != "time_range":
            return mode
        if not self.batches:
            return f"{mode}, up to date"
        fmt = "%Y-%m-%d %H:%M" if self.config.batch_size == "hour" else "%Y-%m-%d"
        first, last = self.batches[0][0], self.batches[-1][1]
        ranges = "range" if len(self.batches) == 1 else f"{len(self.batches)} ranges"
        return f"{mode}, {ranges} from {first:{fmt}} to {last:{fmt}}"


@dataclass(frozen=True)
class Step:
    """Build one node.

    Args:
        node: the node's name.
        materialization: how to build it ("table", "view").
        relation: where it lands.
        sql: the query to materialize.
        depends_on: steps of this plan that must succeed first.
        existing: what the relation is in the warehouse now ("table", "view" or None).
        reason: why it is built: "new", "modified" or "unchanged" (rebuilt anyway); a
            training step checks its data when it runs and trains only if it changed, unless
            the reason is "retrain" (``force``); ``action`` says so in words.
    """

    node: str
    materialization: str
    relation: Relation
    sql: str
    depends_on: tuple[str, ...]
    existing: str | None
    reason: str
    path: str
    compiled_path: str
    fingerprint: str
    kind: str = "model"
    spec: Any = None  # the seed, source table or data test, for their materializations
    declared_columns: tuple[Column, ...] = ()  # checked before the new table replaces the old
    contract: bool = False  # declared columns are exact: no more, no fewer, same types
    incremental: IncrementalStep | None = None  # set for incremental models
    force: bool = False  # a training: train even when its data and spec are unchanged

    @property
    def action(self) -> str | None:
        """What running the step does, for kinds whose ``reason`` alone would mislead: a
        training step decides when it runs whether to train (from the data's fingerprint);
        scoring and monitor steps run every time. None for the other kinds."""
        if self.kind == "training":
            if self.force:
                return "train (forced)"
            if self.reason == "unchanged":
                return "train only if the training data changed"
            if self.reason == "new":
                return "train"
            return "train if the spec or the training data differ from the latest version's"
        if self.kind == "scoring":
            if self.existing is None or not getattr(self.spec, "incremental", False):
                return "score every row"
            return "score new and changed rows; every row if the model version changed"
        if self.kind == "monitor":
            return "run the checks"
        return None


@dataclass(frozen=True)
class NotDue:
    """A selected node left out because its schedule has not ticked since its last build."""

    node: str
    schedule: str
    last_success: datetime
    next_due: datetime


@dataclass(frozen=True)
class Plan:
    """Steps in a valid execution order, and the selected ephemeral nodes that are inlined."""

    steps: tuple[Step, ...]
    inlined: tuple[str, ...] = ()
    # Set when the warehouse could not be read and the plan assumes it is empty.
    unreadable: str | None = None
    # Selected nodes whose schedule says they are not due yet, in topological order.
    not_due: tuple[NotDue, ...] = ()

    @property
    def schemas(self) -> tuple[str, ...]:
        return tuple(sorted({s.relation.schema for s in self.steps if s.relation.schema}))
