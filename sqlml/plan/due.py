"""Which scheduled nodes are not due: the schedule half of planning, pure like the rest.

A node with a ``schedule`` is built by a run when any of these holds, and left out otherwise:

- it never built successfully, or its relation is missing from the warehouse;
- its fingerprint differs from its last successful build (its SQL, config or an upstream
  definition changed): the warehouse should not keep a table of a query that no longer exists;
- a tick of its schedule has come since the run that last built it: the last tick at or
  before ``now`` is later than ``last_success``.

``last_success`` is the clock of that run (when it started), not the end of the node's build,
so every run that starts in the same tick interval sees the same answer and a node is built at
most once per tick, however often cron calls ``sqlml run``. A node that failed keeps its old
``last_success`` and is due again at the next run. A node without a schedule is built by
every run, as if it had none of this.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime

from sqlml.compiler.types import CompiledProject
from sqlml.graph.dag import DAG
from sqlml.plan.types import NotDue, WarehouseState
from sqlml.project.schedule import ticks_around


def not_due(
    compiled: CompiledProject,
    dag: DAG,
    selected: Set[str],
    state: WarehouseState,
    now: datetime,
    ephemeral: Set[str],
) -> tuple[NotDue, ...]:
    """The selected scheduled nodes that a run at ``now`` leaves out, in topological order.

    Ephemeral nodes are never left out: they have no table, and are inlined where read.
    """
    found = []
    # croniter takes about half a millisecond a call: the ticks around ``now`` are computed
    # once per distinct schedule, whatever each node's last build. A node not due has had no
    # tick since its last build, so its next due time is the first tick after ``now``.
    ticks: dict[str, tuple[datetime, datetime]] = {}
    for name in dag.order:
        node = compiled.nodes[name]
        schedule = node.config.schedule
        if not schedule or name not in selected or name in ephemeral:
            continue
        last = state.last_success.get(name)
        relation = (node.relation.schema.lower(), node.relation.name.lower())
        if last is None or relation not in state.relations:
            continue
        if state.fingerprints.get(name) != node.fingerprint:
            continue
        around = ticks.get(schedule)
        if around is None:
            around = ticks[schedule] = ticks_around(schedule, now)
        latest, upcoming = around
        if last >= latest:
            found.append(NotDue(name, schedule, last, upcoming))
    return tuple(found)
