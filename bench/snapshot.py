"""Benchmark a snapshot run against rebuilding the same select as a table.

    .venv/bin/python bench/snapshot.py                  # 1,000,000 keys, 1% changing per day
    .venv/bin/python bench/snapshot.py --rows 100000 --days 3 --strategy check

A project with one snapshot over a `range()` select of ``--rows`` keys; on day ``d`` the keys
with ``id % 100 == d - 1`` move to another country (1% of them), for good. Measured in the
same process, on the same warehouse, each a median over ``--days`` days after the first:

- the baseline: `create or replace table` of the same select (what a `table` model of it
  costs, and the least any tool that reads the select can pay);
- the first snapshot run (every row inserted);
- a daily snapshot run (1% of the keys closed and inserted again);
- a run with no change.

The ratio of each to the baseline is printed. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

SELECT = """\
select
    i as id,
    'customer ' || i as name,
    case when i % 100 < {{ var('day') }} then 'moved_' || (i % 100) else 'home' end as country,
    case when i % 100 < {{ var('day') }}
        then timestamp '2026-01-01' + to_days(1 + i % 100)
        else timestamp '2026-01-01' end as updated_at
from range({{ var('rows') }}) as t(i)
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3, help="daily runs measured")
    parser.add_argument("--strategy", choices=["timestamp", "check"], default="timestamp")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import duckdb  # noqa: F401  (imported before any clock starts)

    from sqlml import Context

    workdir = Path(tempfile.mkdtemp(prefix="sqlml-bench-snapshot-"))
    try:
        config = (
            "unique_key='id', strategy='timestamp', updated_at='updated_at'"
            if args.strategy == "timestamp"
            else "unique_key='id', strategy='check', check_cols=['name', 'country']"
        )
        (workdir / "snapshots").mkdir()
        (workdir / "project.yml").write_text("name: bench\n")
        (workdir / "snapshots/history.sql").write_text(f"{{{{ config({config}) }}}}\n{SELECT}")

        def context(day: int) -> Context:
            return Context(workdir, vars={"day": day, "rows": args.rows})

        def timed_snapshot(day: int) -> float:
            ctx = context(day)
            ctx.compile()  # compiling is not what is measured
            start = time.perf_counter()
            result = ctx.snapshot(threads=1)
            elapsed = time.perf_counter() - start
            assert result.success, result.results
            return elapsed

        def timed_table(day: int) -> float:
            ctx = context(day)
            sql = ctx.compile().nodes["history"].sql
            engine = ctx.connect()
            try:
                start = time.perf_counter()
                engine.execute(f"create or replace table main.baseline as\n{sql}")
                return time.perf_counter() - start
            finally:
                engine.close()

        first = timed_snapshot(0)
        baseline, daily, unchanged = [], [], []
        for day in range(1, args.days + 1):
            baseline.append(timed_table(day))
            daily.append(timed_snapshot(day))
            unchanged.append(timed_snapshot(day))
        base = statistics.median(baseline)
        engine = context(0).connect(read_only=True)
        try:
            versions = engine.execute("select count(*) from main.history")[0][0]
        finally:
            engine.close()
        print(f"snapshot of {args.rows:,} keys, strategy {args.strategy}, 1% changing per day")
        print(f"  baseline: rebuild as a table  {base:8.3f} s   1.00x")
        for label, figure in (
            ("first snapshot run", first),
            ("daily run (1% changed)", statistics.median(daily)),
            ("run with no change", statistics.median(unchanged)),
        ):
            print(f"  {label:<29} {figure:8.3f} s  {figure / base:5.2f}x")
        print(f"  versions after {args.days} days: {versions:,}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
