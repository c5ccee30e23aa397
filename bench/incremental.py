"""Benchmark incremental models: a full build of a 10M-row events table against an
incremental run that adds 1% new rows, measured side by side in one process.

    .venv/bin/python bench/incremental.py                  # 10,000,000 rows, 1% new
    .venv/bin/python bench/incremental.py --rows 1000000 --repeat 3

A project in a temporary folder holds one source table, ``raw.events`` (generated in the
warehouse with DuckDB's ``range()``: ``--days`` days of events, one day's worth per batch), and
two incremental models over it that do the same work per row (casts, a CASE, string and
arithmetic functions):

- ``events_daily``: ``time_range`` on the event time, batches of a day, ``{{ start }}`` and
  ``{{ end }}`` pushed into the scan;
- ``events_merged``: ``merge`` on ``event_id``, new rows selected by
  ``ts > (select max(ts) from {{ this }})``.

Each repetition builds both from scratch (``run --full-refresh``), then appends ``--new``
(default 1%) rows for the next day to ``raw.events`` (not timed) and runs again: that run is
incremental. The time of each model's step (`NodeResult.duration_s`) and of the whole run are
taken for both runs; the figures are medians, and the script prints incremental / full
(target: under 5%). The tables are then checked against the same SQL run from scratch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
import time
from datetime import date, timedelta
from pathlib import Path

MODELS = {
    "events_daily": """\
        {{ config(materialized='incremental', incremental_strategy='time_range',
                  event_time='ts', begin='BEGIN', batch_size='day') }}
        select BODY
        from {{ source('raw', 'events') }}
        where ts >= {{ start }} and ts < {{ end }}
    """,
    "events_merged": """\
        {{ config(materialized='incremental', unique_key='event_id') }}
        select BODY
        from {{ source('raw', 'events') }}
        {% if is_incremental() %}
        where ts > (select max(ts) from {{ this }})
        {% endif %}
    """,
}
BODY = """event_id, user_id, ts, ts::date as event_day,
            case kind when 0 then 'view' when 1 then 'click' when 2 then 'cart'
                 else 'purchase' end as event_type,
            upper(country) as country, round(amount * 1.19, 2) as gross_amount,
            amount > 100 as is_large"""
SOURCES = """\
sources:
  - name: raw
    tables:
      - name: events
"""


def generate(connection: object, first: int, rows: int, start: date, per_day: int) -> None:
    """Insert ``rows`` events with ids from ``first``, ``per_day`` a day from ``start``."""
    connection.execute(  # type: ignore[attr-defined]
        f"""
        insert into raw.events
        select i as event_id, (hash(i) % 50000)::bigint as user_id,
               timestamp '{start}' + to_microseconds(((i - {first}) // {per_day}) * 86400000000
                   + (hash(i, 1) % 86400000000)::bigint) as ts,
               (hash(i, 2) % 4)::integer as kind,
               ['de', 'fr', 'nl', 'us', 'gb'][1 + (hash(i, 3) % 5)::bigint] as country,
               (hash(i, 4) % 50000) / 100.0 as amount
        from range({first}, {first + rows}) t(i)
        order by ts
        """
    )


def write_project(root: Path, begin: date) -> None:
    (root / "models").mkdir(parents=True)
    (root / "project.yml").write_text("name: bench\n")
    (root / "models/sources.yml").write_text(SOURCES)
    for name, sql in MODELS.items():
        text = textwrap.dedent(sql).replace("BEGIN", str(begin)).replace("BODY", BODY)
        (root / f"models/{name}.sql").write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the full build")
    parser.add_argument("--new", type=float, default=0.01, help="share of new rows (0.01)")
    parser.add_argument("--days", type=int, default=100, help="days the rows span (100)")
    parser.add_argument("--repeat", type=int, default=3, help="samples per figure (median)")
    args = parser.parse_args()

    import duckdb

    from sqlml import Context

    new_rows = max(1, round(args.rows * args.new))
    per_day = -(-args.rows // args.days)
    begin = date.today() - timedelta(days=args.days + 2)
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="sqlml-bench-incremental-") as folder:
        root = Path(folder)
        write_project(root, begin)
        warehouse = root / "warehouse.duckdb"
        for repetition in range(args.repeat):
            with duckdb.connect(str(warehouse)) as connection:
                connection.execute("create schema if not exists raw")
                connection.execute(
                    "create or replace table raw.events (event_id bigint, user_id bigint, "
                    "ts timestamp, kind integer, country varchar, amount decimal(10, 2))"
                )
                generate(connection, 1, args.rows, begin, per_day)
            context = Context(root)
            context.compile()  # compiled once, as a scheduled project is
            for label, options in (("full", {"full_refresh": True}), ("incremental", {})):
                if label == "incremental":
                    with duckdb.connect(str(warehouse)) as connection:
                        # The next day: 1% new rows, after every existing one.
                        day = begin + timedelta(days=args.days)
                        generate(connection, args.rows + 1, new_rows, day, new_rows)
                started = time.perf_counter()
                result = context.run(**options)
                elapsed = time.perf_counter() - started
                assert result.success, [r.message for r in result.results if r.message]
                samples.setdefault(f"{label} run", []).append(elapsed)
                for node in result.results:
                    if node.node in MODELS:
                        samples.setdefault(f"{label} {node.node}", []).append(node.duration_s)
            check(warehouse, args.rows + new_rows)
            print(f"repetition {repetition + 1}/{args.repeat} done", file=sys.stderr)
    report(samples, args.rows, new_rows)


def check(warehouse: Path, rows: int) -> None:
    """Both tables hold every row once, as a build from scratch would."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for name in MODELS:
            count, distinct = connection.execute(
                f"select count(*), count(distinct event_id) from main.{name}"
            ).fetchone()  # type: ignore[misc]
            assert count == distinct == rows, (name, count, distinct, rows)


def report(samples: dict[str, list[float]], rows: int, new_rows: int) -> None:
    median = {key: statistics.median(values) for key, values in samples.items()}
    print(f"\nfull build of {rows:,} rows vs an incremental run adding {new_rows:,} rows")
    print(f"{'':<16}{'full':>10}{'incremental':>14}{'ratio':>9}")
    for what in ("run", *MODELS):
        full, incremental = median[f"full {what}"], median[f"incremental {what}"]
        label = "whole run" if what == "run" else what
        print(f"{label:<16}{full:>9.2f}s{incremental:>13.3f}s{incremental / full:>9.1%}")
    print("target: the incremental run costs under 5% of the full build")


if __name__ == "__main__":
    main()
