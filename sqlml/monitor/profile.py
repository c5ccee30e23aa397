"""Reference profiles: a frozen picture of the training data, stored in the warehouse.

Written once per model version at training time (and for any table on request), read by every
later monitor run, so that drift figures are computed against the same bins from run to run.
Three plain tables in the state schema:

- ``reference_profiles``: one row per column (feature, prediction): kind, SQL type, row and
  NULL counts, min, max, mean, population standard deviation, the quantile edges.
- ``reference_bins``: the column's bins with the training count and share of each. Numeric
  columns: bin 0 NULL, bin 1 below the training minimum, quantile bins, then above the training
  maximum (see `sqltext.bin_case`). Categorical: bin 0 NULL, bin 1 "other" (a category the
  reference does not list; empty unless the reference had more than ``max_categories``), then
  one bin per category, commonest first.
- ``reference_values``: every distinct non-NULL training value of each numeric column with its
  count: an exact, compact copy of the training sample, so the Kolmogorov-Smirnov and
  Wasserstein distances are computed on the raw values, not on bins.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlml.engine.base import Engine
from sqlml.errors import ExecutionError
from sqlml.monitor.sqltext import bin_case, bin_labels, numeric, quote

Kind = Literal["numeric", "categorical"]
DEFAULT_BINS = 10
DEFAULT_MAX_CATEGORIES = 1000
PREDICTION = "prediction"  # the profile column of the model's output

_TABLES = """
create schema if not exists {s};
create table if not exists {s}.reference_profiles (
    profile varchar not null, version integer not null, column_name varchar not null,
    role varchar not null, kind varchar not null, data_type varchar, n bigint not null,
    nulls bigint not null, min double, max double, mean double, std double,
    categories bigint, edges double[], created_at timestamptz not null, run_id varchar,
    primary key (profile, version, column_name));
create table if not exists {s}.reference_bins (
    profile varchar not null, version integer not null, column_name varchar not null,
    bin integer not null, label varchar not null, lo double, hi double, category varchar,
    count bigint not null, share double not null);
create table if not exists {s}.reference_values (
    profile varchar not null, version integer not null, column_name varchar not null,
    value double not null, count bigint not null);
"""


@dataclass(frozen=True)
class ProfileColumn:
    """A column to profile: ``role`` is ``feature``, ``prediction`` or ``label``."""

    name: str
    kind: Kind
    role: str = "feature"


@dataclass(frozen=True)
class ColumnProfile:
    """One column of a stored profile, with its bins as ``(bin, label, category, share)``."""

    name: str
    role: str
    kind: Kind
    data_type: str | None
    n: int
    nulls: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    edges: tuple[float, ...]
    bins: tuple[tuple[int, str, str | None, float], ...]

    @property
    def null_rate(self) -> float:
        return self.nulls / self.n if self.n else 0.0


@dataclass(frozen=True)
class Profile:
    profile: str
    version: int
    columns: Mapping[str, ColumnProfile]


def ensure_profile_tables(engine: Engine, schema: str) -> None:
    """Create the state schema and the three profile tables if they do not exist."""
    from sqlml.monitor.history import create_tables

    create_tables(engine, _TABLES.format(s=quote(schema)))


def write_profile(
    engine: Engine,
    schema: str,
    *,
    profile: str,
    version: int,
    source_sql: str,
    columns: Sequence[ProfileColumn],
    bins: int = DEFAULT_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    run_id: str | None = None,
) -> Profile:
    """Profile ``columns`` of the rows ``source_sql`` returns and store them as ``profile``
    version ``version`` (replacing a profile stored under the same pair).

    Numeric bin edges are the training minimum, the ``1/bins .. (bins-1)/bins`` quantiles
    (``quantile_cont``, linear interpolation) and the maximum, duplicates removed.
    """
    ensure_profile_tables(engine, schema)
    s = quote(schema)
    types = dict(_source_types(engine, source_sql))
    missing = [c.name for c in columns if c.name.lower() not in types]
    if missing:
        raise ExecutionError(
            f"cannot profile {profile}: no column {', '.join(missing)} in the reference data",
            node=profile,
            hint="profile only columns the training relation has",
        )
    key = [profile, version]
    engine.execute("begin transaction")
    try:
        for table in ("reference_profiles", "reference_bins", "reference_values"):
            engine.execute(f"delete from {s}.{table} where profile = ? and version = ?", key)
        for column in columns:
            data_type = types[column.name.lower()]
            if column.kind == "numeric":
                _numeric(engine, s, key, source_sql, column, data_type, bins, run_id)
            else:
                _categorical(engine, s, key, source_sql, column, data_type, max_categories, run_id)
        engine.execute("commit")
    except BaseException:
        engine.execute("rollback")
        raise
    return read_profile(engine, schema, profile, version)


def write_profile_from_arrow(
    engine: Engine,
    schema: str,
    *,
    profile: str,
    version: int,
    data: Any,
    columns: Sequence[ProfileColumn],
    bins: int = DEFAULT_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    run_id: str | None = None,
) -> Profile:
    """Like `write_profile`, from an Arrow table (e.g. training rows with their predictions)."""
    from sqlml.relation import Relation

    ensure_profile_tables(engine, schema)
    scratch = Relation(schema, f"profile_scratch_{uuid.uuid4().hex[:12]}")
    engine.build_table_from_arrow(scratch, data, None)
    try:
        return write_profile(
            engine,
            schema,
            profile=profile,
            version=version,
            source_sql=f"select * from {scratch}",
            columns=columns,
            bins=bins,
            max_categories=max_categories,
            run_id=run_id,
        )
    finally:
        engine.execute(f"drop table if exists {scratch}")


def profile_training(
    engine: Engine,
    schema: str,
    *,
    model: str,
    version: int,
    table: Any,
    features: Sequence[tuple[str, str]],
    predictions: Any = None,
    run_id: str | None = None,
) -> Profile:
    """Store the reference profile of a freshly trained model version: every feature of the
    training rows (``table``, Arrow) and, when given, the model's predictions on those rows
    (one number per row: the positive class's probability, or the predicted value) as the
    column ``prediction``.

    Args:
        features: ``(name, kind)`` pairs, kind ``numeric`` or ``categorical``.
    """
    import pyarrow as pa

    columns = [ProfileColumn(name, "numeric" if kind == "numeric" else "categorical")
               for name, kind in features]  # fmt: skip
    data = table.select([c.name for c in columns])
    if predictions is not None:
        data = data.append_column(PREDICTION, pa.array(predictions, pa.float64()))
        columns.append(ProfileColumn(PREDICTION, "numeric", "prediction"))
    return write_profile_from_arrow(
        engine, schema, profile=model, version=version, data=data, columns=columns, run_id=run_id
    )


def read_profile(engine: Engine, schema: str, profile: str, version: int) -> Profile:
    """The stored profile; ExecutionError naming the versions that exist when it is missing."""
    s = quote(schema)
    rows = []
    if (schema.lower(), "reference_profiles") in engine.relations():
        rows = engine.execute(
            "select column_name, role, kind, data_type, n, nulls, min, max, mean, std, edges "
            f"from {s}.reference_profiles where profile = ? and version = ? order by column_name",
            [profile, version],
        )
    if not rows:
        versions = profile_versions(engine, schema, profile)
        listed = ", ".join(map(str, versions)) if versions else "none"
        raise ExecutionError(
            f"no reference profile for {profile} version {version} (profiled versions: {listed})",
            node=profile,
            hint="profiles are written when a model version is trained; retrain it "
            "(`sqlml run -s <model>`) to write one",
        )
    bins: dict[str, list[tuple[int, str, str | None, float]]] = {}
    for name, bin_, label, category, share in engine.execute(
        f"select column_name, bin, label, category, share from {s}.reference_bins "
        "where profile = ? and version = ? order by column_name, bin",
        [profile, version],
    ):
        bins.setdefault(name, []).append((int(bin_), label, category, float(share)))
    columns = {}
    for name, role, kind, data_type, n, nulls, lo, hi, mean, std, edges in rows:
        columns[name] = ColumnProfile(
            name, role, kind, data_type, int(n), int(nulls), lo, hi, mean, std,
            tuple(edges or ()), tuple(bins.get(name, ())),
        )  # fmt: skip
    return Profile(profile, version, columns)


def profile_versions(engine: Engine, schema: str, profile: str) -> list[int]:
    """The versions of ``profile`` that have a stored profile, oldest first."""
    if (schema.lower(), "reference_profiles") not in engine.relations():
        return []
    rows = engine.execute(
        f"select distinct version from {quote(schema)}.reference_profiles where profile = ? "
        "order by version",
        [profile],
    )
    return [int(v) for (v,) in rows]


def _source_types(engine: Engine, source_sql: str) -> list[tuple[str, str]]:
    rows = engine.execute(f"describe select * from ({source_sql})")
    return [(str(r[0]).lower(), str(r[1])) for r in rows]


def _numeric(
    engine: Engine,
    s: str,
    key: list[Any],
    source_sql: str,
    column: ProfileColumn,
    data_type: str,
    bins: int,
    run_id: str | None,
) -> None:
    x = numeric(column.name)
    quantiles = [i / bins for i in range(1, bins)] or [0.5]
    row = engine.execute(
        f"select count(*), count(x), min(x), max(x), avg(x), stddev_pop(x), "
        f"quantile_cont(x, [{', '.join(map(repr, quantiles))}]) "
        f"from (select {x} as x from ({source_sql}))"
    )[0]
    n, count, lo, hi, mean, std, cuts = row
    edges: list[float] = []
    if count:
        edges = sorted({float(lo), float(hi), *(float(c) for c in cuts or ())})
    engine.execute(
        f"insert into {s}.reference_profiles values "
        "(?, ?, ?, ?, 'numeric', ?, ?, ?, ?, ?, ?, ?, null, ?, now(), ?)",
        [*key, column.name, column.role, data_type, n, n - count, lo, hi, mean, std, edges, run_id],
    )
    counts = {
        int(b): int(c)
        for b, c in engine.execute(
            f"select {bin_case('x', edges)} as bin, count(*) "
            f"from (select {x} as x from ({source_sql})) group by bin"
        )
    }
    labels = bin_labels(edges)
    if edges:
        engine.execute(
            f"insert into {s}.reference_values select ?, ?, ?, x, count(*) "
            f"from (select {x} as x from ({source_sql})) where x is not null group by x",
            [*key, column.name],
        )
    rows = [
        (*key, column.name, b, label, _finite(lo_), _finite(hi_), None, counts.get(b, 0),
         counts.get(b, 0) / n if n else 0.0)
        for b, label, lo_, hi_ in labels
    ]  # fmt: skip
    _insert_bins(engine, s, rows)


def _categorical(
    engine: Engine,
    s: str,
    key: list[Any],
    source_sql: str,
    column: ProfileColumn,
    data_type: str,
    max_categories: int,
    run_id: str | None,
) -> None:
    c = f"{quote(column.name)}::VARCHAR"
    n, count, distinct = engine.execute(
        f"select count(*), count(c), count(distinct c) from (select {c} as c from ({source_sql}))"
    )[0]
    top = engine.execute(
        f"select c, count(*) as k from (select {c} as c from ({source_sql})) "
        f"where c is not null group by c order by k desc, c limit {int(max_categories)}"
    )
    engine.execute(
        f"insert into {s}.reference_profiles values "
        "(?, ?, ?, ?, 'categorical', ?, ?, ?, null, null, null, null, ?, null, now(), ?)",
        [*key, column.name, column.role, data_type, n, n - count, distinct, run_id],
    )
    other = int(count) - sum(int(k) for _, k in top)
    rows: list[tuple[Any, ...]] = [
        (*key, column.name, 0, "NULL", None, None, None, n - count, _share(n - count, n)),
        (*key, column.name, 1, "(other)", None, None, None, other, _share(other, n)),
    ]
    rows += [
        (*key, column.name, i + 2, str(category), None, None, category, k, _share(k, n))
        for i, (category, k) in enumerate(top)
    ]
    _insert_bins(engine, s, rows)


def _insert_bins(engine: Engine, s: str, rows: Sequence[tuple[Any, ...]]) -> None:
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
        engine.execute(
            f"insert into {s}.reference_bins values {values}", [v for r in chunk for v in r]
        )


def _share(count: int, n: int) -> float:
    return count / n if n else 0.0


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value
