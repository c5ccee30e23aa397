"""What schedules and state selection add to planning, measured against plain planning.

    .venv/bin/python bench/schedules.py                 # 10,000 nodes
    .venv/bin/python bench/schedules.py --nodes 1000 --repeat 7

Builds an in-memory compiled project of N table models (each reading 1-3 of the previous 50),
a warehouse state where every node was built by one run, and times, side by side in this
process (medians of ``--repeat`` samples):

- `make_plan` with no schedule on any node: the baseline;
- `make_plan` with every node `@daily`: at the next midnight, when all are due, built by one
  run or each by a run of its own (the ticks around the clock are computed once per distinct
  schedule either way); and 5 minutes after the run, when none is due;
- `select_nodes` with `state:modified+` against a plain `+name` selection of the same size.

Nothing is asserted: the script prints figures and ratios.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlml.compiler.types import CompiledNode, CompiledProject
from sqlml.graph import build_dag, select_nodes
from sqlml.plan import WarehouseState, make_plan
from sqlml.project.types import NodeConfig, Project, Target
from sqlml.relation import Relation

T0 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def synthetic(size: int, schedule: str | None) -> CompiledProject:
    rng = random.Random(42)
    config = NodeConfig(schedule=schedule)
    nodes: dict[str, CompiledNode] = {}
    for i in range(size):
        name = f"m{i:05d}"
        parents = (
            tuple(sorted({f"m{rng.randrange(max(0, i - 50), i):05d}" for _ in range(3)}))
            if i
            else ()
        )
        nodes[name] = CompiledNode(
            name=name,
            kind="model",
            path=f"models/{name}.sql",
            config=config,
            relation=Relation("main", name, "warehouse"),
            sql="select 1",
            body_sql="select 1",
            depends_on=parents,
            columns=(),
            declared_columns=(),
            description=None,
            fingerprint=f"fp{i}",
            compiled_path=f"target/compiled/models/{name}.sql",
        )
    target = Target("dev", "duckdb", Path("warehouse.duckdb"), "main")
    project = Project(Path("."), "bench", target, {}, (), (), Path("target"), "_sqlml", "_f", "")
    return CompiledProject(project, nodes)


def median_s(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    plain = synthetic(args.nodes, None)
    daily = synthetic(args.nodes, "@daily")
    dag = build_dag({n: node.depends_on for n, node in plain.nodes.items()})
    everything = frozenset(plain.nodes)
    one_run = WarehouseState(
        relations={("main", n): "table" for n in plain.nodes},
        fingerprints={n: node.fingerprint for n, node in plain.nodes.items()},
        last_success=dict.fromkeys(plain.nodes, T0),
    )
    own_runs = replace(
        one_run,
        last_success={n: T0 - timedelta(seconds=i) for i, n in enumerate(plain.nodes)},
    )
    later = T0 + timedelta(minutes=5)

    midnight = datetime(2026, 3, 11, tzinfo=UTC)
    base = median_s(lambda: make_plan(plain, dag, everything, one_run, now=midnight), args.repeat)
    due = median_s(lambda: make_plan(daily, dag, everything, one_run, now=midnight), args.repeat)
    idle = median_s(lambda: make_plan(daily, dag, everything, one_run, now=later), args.repeat)
    worst = median_s(lambda: make_plan(daily, dag, everything, own_runs, now=midnight), args.repeat)
    assert len(make_plan(daily, dag, everything, one_run, now=midnight).steps) == args.nodes
    assert len(make_plan(daily, dag, everything, one_run, now=later).not_due) == args.nodes

    edited = {**one_run.fingerprints, "m00100": "old"}
    last = f"m{args.nodes - 1:05d}"
    by_name = median_s(lambda: select_nodes(dag, plain.nodes, [f"+{last}"]), args.repeat)
    by_state = median_s(
        lambda: select_nodes(dag, plain.nodes, ["state:modified+"], built=edited), args.repeat
    )

    print(f"{args.nodes:,} nodes, medians of {args.repeat}")
    rows = [
        ("make_plan, no schedules", base, "(baseline)"),
        ("make_plan, all @daily and due, one run", due, f"x{due / base:.2f}"),
        ("make_plan, all @daily, none due", idle, f"x{idle / base:.2f}"),
        ("make_plan, all @daily and due, a run each", worst, f"x{worst / base:.2f}"),
    ]
    for label, seconds, note in rows:
        print(f"  {label:<44} {seconds * 1000:8.1f} ms  {note}")
    print(f"  {'select +' + last:<44} {by_name * 1000:8.1f} ms  (baseline)")
    print(
        f"  {'select state:modified+ (one edit)':<44} {by_state * 1000:8.1f} ms  "
        f"x{by_state / by_name:.2f}"
    )


if __name__ == "__main__":
    main()
