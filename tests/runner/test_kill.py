"""Crash safety: `sqlml run` killed with SIGKILL at many points leaves a warehouse that the next
run completes to exactly the tables of a run that was never interrupted.

Two copies of one project get the same inputs. The reference is run once per new input; the
victim's runs are killed at a point chosen by a seeded RNG (while starting and compiling, or a
random moment after the run reported its k-th node, so kills land in landing seeds, building
tables and every strategy of incremental model), then run again to completion. After each,
every table's order-independent checksum (row count and the sum of a hash of each row) and the
interval state must equal the reference's. New rows (new keys, updates, late events) are
appended between rounds.

Where each kill landed is in the assertion message; ``SQLML_KILL_SEED`` picks other points.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from sqlml import Context
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import query

SEED = int(os.environ.get("SQLML_KILL_SEED", "20261124"))
KILLS = 10
ROUNDS = 4  # new input before kills 0, 3, 6 and 9

MODELS = {
    # merge on a key, with a lookback for updates that arrive late
    "models/orders_merge.sql": """\
        {{ config(materialized='incremental', unique_key='order_id') }}
        select order_id, customer_id, amount, updated_at from {{ ref('orders') }}
        {% if is_incremental() %}
        where updated_at >= (select max(updated_at) from {{ this }}) - interval 2 day
        {% endif %}
        qualify row_number() over (partition by order_id order by updated_at desc) = 1
    """,
    # append: events never seen
    "models/events_append.sql": """\
        {{ config(materialized='incremental') }}
        select event_id, customer_id, ts, v from {{ ref('events') }}
        {% if is_incremental() %}
        where event_id > (select max(event_id) from {{ this }})
        {% endif %}
    """,
    # delete+insert: a customer's rows are recomputed whenever one of its orders changed
    "models/customer_orders.sql": """\
        {{ config(materialized='incremental', incremental_strategy='delete+insert',
                  unique_key='customer_id') }}
        select customer_id, order_id, amount, updated_at from {{ ref('orders_merge') }}
        {% if is_incremental() %}
        where customer_id in (
            select customer_id from {{ ref('orders_merge') }}
            where updated_at >= (select max(updated_at) from {{ this }}) - interval 2 day
        )
        {% endif %}
    """,
    # time_range: one transaction per day, a day of lookback for late events
    "models/events_daily.sql": """\
        {{ config(materialized='incremental', event_time='ts', begin='BEGIN',
                  batch_size='day', lookback=1, batches_per_query=1) }}
        select event_id, customer_id, ts, v * 2 as v2 from {{ ref('events') }}
        where ts >= {{ start }} and ts < {{ end }}
    """,
    "models/customer_totals.sql": """\
        select customer_id, count(*) as orders, sum(amount) as total
        from {{ ref('orders_merge') }} group by customer_id
    """,
    "models/daily_counts.sql": """\
        {{ config(materialized='view') }}
        select ts::date as day, count(*) as events from {{ ref('events_daily') }} group by 1
    """,
    "seeds/types.yml": """\
        seeds:
          - name: orders
            config:
              column_types: {order_id: integer, customer_id: integer, amount: integer,
                             updated_at: timestamp}
          - name: events
            config:
              column_types: {event_id: integer, customer_id: integer, ts: timestamp,
                             v: integer}
    """,
}
TABLES = (
    "orders_merge",
    "events_append",
    "customer_orders",
    "events_daily",
    "customer_totals",
    "daily_counts",
)


class Inputs:
    """Seed rows growing round by round: new orders, updates of old ones, events of a new
    day and a few late events of the day before."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng = rng
        self.first_day = today - timedelta(days=ROUNDS + 6)
        self.orders: list[str] = []
        self.events: list[str] = []
        self.next_order = self.next_event = 1
        for day in range(6):
            self.add_day(self.first_day + timedelta(days=day))

    def add_day(self, day: date, late: bool = False) -> None:
        rng = self.rng
        moment = datetime(day.year, day.month, day.day)
        for _ in range(rng.randint(15, 30)):
            at = moment + timedelta(minutes=rng.randint(0, 1439))
            self.orders.append(f"{self.next_order},{rng.randint(1, 25)},{rng.randint(5, 500)},{at}")
            self.next_order += 1
        for _ in range(rng.randint(3, 8)):  # updates of older orders, stamped today
            order = self.orders[rng.randrange(len(self.orders))].split(",")
            at = moment + timedelta(minutes=rng.randint(0, 1439))
            self.orders.append(f"{order[0]},{order[1]},{rng.randint(5, 500)},{at}")
        days = [moment - timedelta(days=1), moment] if late else [moment]
        for start in days:
            for _ in range(rng.randint(20, 40) if start == moment else rng.randint(2, 5)):
                at = start + timedelta(seconds=rng.randint(0, 86399))
                self.events.append(
                    f"{self.next_event},{rng.randint(1, 25)},{at},{rng.randint(0, 9)}"
                )
                self.next_event += 1

    def write(self, root: Path) -> None:
        write_project(
            root,
            {
                "seeds/orders.csv": "order_id,customer_id,amount,updated_at\n"
                + "\n".join(self.orders)
                + "\n",
                "seeds/events.csv": "event_id,customer_id,ts,v\n" + "\n".join(self.events) + "\n",
            },
        )


def checksums(root: Path) -> dict[str, tuple[object, ...]]:
    """Per relation: row count and the sum of each row's hash (order-independent)."""
    found: dict[str, tuple[object, ...]] = {}
    for name in TABLES:
        found[name] = query(root, f"select count(*), sum(hash(t)::hugeint) from main.{name} t")[0]
    found["_sqlml.intervals"] = tuple(
        query(root, "select node, start_at, end_at from _sqlml.intervals order by all")
    )
    return found


def killed_run(root: Path, rng: random.Random) -> str:
    """Start `sqlml run` in a subprocess and SIGKILL it (and any helper) at a point chosen by
    ``rng``: while starting or compiling, or a moment after the run reported its k-th node,
    which puts kills inside every kind of step. Returns where it was killed ("" if the run
    ended first)."""
    env = {**os.environ, "SQLML_COMPILE_PROCESSES": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sqlml", "run", "--threads", "1", "--project-dir", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert process.stdout is not None
    after = rng.randint(-1, len(TABLES) + 1)  # -1: before the run reports anything
    delay = rng.uniform(0.2, 1.5) if after < 0 else rng.uniform(0, 0.3)
    where = f"{delay:.2f}s after the start"
    if after >= 0:
        lines = [process.stdout.readline() for _ in range(after + 1)]  # the header first
        where = f"{delay:.2f}s after {lines[-1].strip()[:50]!r}"
    time.sleep(delay)
    if process.poll() is not None:
        process.stdout.close()
        return ""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()
    return where


@pytest.mark.slow
def test_runs_killed_at_random_points_end_with_the_tables_of_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    today = datetime.now().date()
    inputs = Inputs(rng, today)
    files = {"project.yml": MINIMAL_PROJECT, **MODELS}
    files["models/events_daily.sql"] = files["models/events_daily.sql"].replace(
        "BEGIN", str(inputs.first_day)
    )
    reference = write_project(tmp_path / "reference", files)
    victim = write_project(tmp_path / "victim", files)
    for root in (reference, victim):
        inputs.write(root)
    assert Context(reference).run().success
    assert Context(victim).run().success
    assert checksums(victim) == checksums(reference)

    kills = []
    for kill in range(KILLS):
        if kill % 3 == 0:  # new input: both copies get it; the reference runs once
            inputs.add_day(inputs.first_day + timedelta(days=6 + kill // 3), late=True)
            for root in (reference, victim):
                inputs.write(root)
            assert Context(reference).run().success
        for _ in range(5):  # a run that ended before its kill point is killed again
            where = killed_run(victim, rng)
            if where:
                break
        kills.append(where)

        result = Context(victim).run()

        assert result.success, [r.message for r in result.results if r.message]
        assert checksums(victim) == checksums(reference), f"after kill {kill}: {kills[-1]}"
    # The kills did land in runs (not all after a run had finished).
    assert sum(1 for where in kills if where) >= KILLS // 2, kills
    leftovers = query(
        victim, "select table_name from duckdb_tables() where table_name like '%sqlml%'"
    )
    assert leftovers == []
    order_ids = query(victim, "select count(*) = count(distinct order_id) from orders_merge")
    assert order_ids == [(True,)]
