"""How each kind of node is built: small functions in a dict keyed by materialization."""

from __future__ import annotations

from collections.abc import Callable

from sqlml.engine.base import Engine
from sqlml.plan.types import Step


def build_table(engine: Engine, step: Step) -> int | None:
    return engine.build_table(step.relation, step.sql, step.existing)


def build_view(engine: Engine, step: Step) -> int | None:
    engine.build_view(step.relation, step.sql, step.existing)
    return None


MATERIALIZATIONS: dict[str, Callable[[Engine, Step], int | None]] = {
    "table": build_table,
    "view": build_view,
}
