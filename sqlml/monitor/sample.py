"""The reference sample: every distinct non-NULL value of each profiled numeric column, with its
count, so that the Kolmogorov-Smirnov and Wasserstein distances are computed on the raw
training values, exactly, not on bins.

Two tables in the state schema:

- ``reference_samples``: one row per numeric column of a profile (profile, version, column
  name), naming its sample (a random 63-bit id) and how many distinct values it holds;
- ``reference_sample_values``: ``(sample, value, count)``, one row per distinct value.

The values are keyed by a number rather than by the profile's and column's names because a
float column of N training rows holds about N distinct values: writing two text columns on
each of those rows took most of the profile's time. Profiles written before this layout (in
``reference_values``, keyed by name) are moved into it the first time the tables are ensured.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlml.engine.base import Engine
from sqlml.errors import ExecutionError
from sqlml.monitor.sqltext import numeric, quote

TABLES = """
create table if not exists {s}.reference_samples (
    profile varchar not null, version integer not null, column_name varchar not null,
    sample bigint not null, distinct_values bigint not null,
    primary key (profile, version, column_name));
create table if not exists {s}.reference_sample_values (
    sample bigint not null, value double not null, count bigint not null);
"""


def new_sample_id() -> int:
    """A random positive BIGINT: writers in parallel threads need no coordination."""
    return secrets.randbits(62) + 1


def write_samples(
    engine: Engine, s: str, key: Sequence[Any], source_sql: str, columns: Sequence[str]
) -> dict[str, int]:
    """Store the distinct values of the numeric ``columns`` of ``source_sql`` under profile
    ``key`` (profile, version) in one statement; returns each column's sample id."""
    ids = {name: new_sample_id() for name in columns}
    parts = [
        f"select {ids[name]}::BIGINT as sample, x, count(*) as k from (select {numeric(name)} "
        f"as x from ({source_sql})) where x is not null group by x"
        for name in columns
    ]
    engine.execute(
        f"insert into {s}.reference_sample_values select * from ({' union all '.join(parts)})"
    )
    found = dict(
        engine.execute(
            f"select sample, count(*) from {s}.reference_sample_values where sample in "
            f"({', '.join(map(str, ids.values()))}) group by sample"
        )
    )
    for name, sample in ids.items():
        engine.execute(
            f"insert into {s}.reference_samples values (?, ?, ?, ?, ?)",
            [*key, name, sample, int(found.get(sample, 0))],
        )
    return ids


def delete_samples(engine: Engine, s: str, key: Sequence[Any]) -> None:
    """Remove the samples of profile ``key`` (profile, version)."""
    engine.execute(
        f"delete from {s}.reference_sample_values where sample in (select sample from "
        f"{s}.reference_samples where profile = ? and version = ?)",
        list(key),
    )
    engine.execute(f"delete from {s}.reference_samples where profile = ? and version = ?", key)


def sample_ids(
    engine: Engine, schema: str, profile: str, version: int
) -> Mapping[str, tuple[int, int]]:
    """``{column: (sample id, distinct values)}`` of a stored profile."""
    if (schema.lower(), "reference_samples") not in engine.relations():
        return {}
    rows = engine.execute(
        f"select column_name, sample, distinct_values from {quote(schema)}.reference_samples "
        "where profile = ? and version = ?",
        [profile, version],
    )
    return {str(name): (int(sample), int(k)) for name, sample, k in rows}


def move_old_values(engine: Engine, schema: str) -> None:
    """Move profiles stored in the old ``reference_values`` table (keyed by name) into the
    sample tables, then drop it."""
    if (schema.lower(), "reference_values") not in engine.relations():
        return
    s = quote(schema)
    engine.execute("begin transaction")
    try:
        keys = engine.execute(
            f"select profile, version, column_name, count(*) from {s}.reference_values group by all"
        )
        for profile, version, column, distinct in keys:
            sample = new_sample_id()
            engine.execute(
                f"insert into {s}.reference_sample_values select ?, value, count "
                f"from {s}.reference_values where profile = ? and version = ? "
                "and column_name = ?",
                [sample, profile, version, column],
            )
            engine.execute(
                f"insert into {s}.reference_samples values (?, ?, ?, ?, ?)",
                [profile, version, column, sample, distinct],
            )
        engine.execute(f"drop table {s}.reference_values")
        engine.execute("commit")
    except ExecutionError:
        engine.execute("rollback")
        # Monitors run in parallel threads: another one may have moved them first.
        if (schema.lower(), "reference_values") in engine.relations():
            raise
    except BaseException:
        engine.execute("rollback")
        raise
