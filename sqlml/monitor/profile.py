"""Reference profiles: a frozen picture of the training data, stored in the warehouse.

Written once per model version at training time (and for any table on request), read by every
later monitor run, so that drift figures are computed against the same bins from run to run.
Plain tables in the state schema:

- ``reference_profiles``: one row per column (feature, prediction): kind, SQL type, row and
  NULL counts, min, max, mean, population standard deviation, the quantile edges.
- ``reference_bins``: the column's bins with the training count and share of each. Numeric
  columns: bin 0 NULL, bin 1 below the training minimum, quantile bins, then above the training
  maximum (see `sqltext.bin_case`). Categorical: bin 0 NULL, bin 1 "other" (a category the
  reference does not list; empty unless the reference had more than ``max_categories``), then
  one bin per category, commonest first.
- the reference sample (`sample`): every distinct non-NULL training value of each numeric
  column with its count, an exact, compact copy of the training sample, so the
  Kolmogorov-Smirnov and Wasserstein distances are computed on the raw values, not on bins.

A profile is written in a few passes over the source whatever its width: one for every numeric
column's summaries and quantile edges, one storing every numeric column's distinct values (the
numeric bins are then counted on those, not on the source), one grouped pass for every
categorical column.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlml.engine.base import Engine
from sqlml.errors import ExecutionError
from sqlml.monitor.sample import TABLES as SAMPLE_TABLES
from sqlml.monitor.sample import delete_samples, move_old_values, write_samples
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
    """Create the state schema and the profile tables if they do not exist."""
    from sqlml.monitor.history import create_tables

    create_tables(engine, (_TABLES + SAMPLE_TABLES).format(s=quote(schema)))
    move_old_values(engine, schema)


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
    numerics = [c for c in columns if c.kind == "numeric"]
    categoricals = [c for c in columns if c.kind != "numeric"]
    n, summaries = _summaries(engine, source_sql, numerics, bins)
    key = [profile, version]
    engine.execute("begin transaction")
    try:
        delete_samples(engine, s, key)
        for table in ("reference_profiles", "reference_bins"):
            engine.execute(f"delete from {s}.{table} where profile = ? and version = ?", key)
        rows: list[tuple[Any, ...]] = []
        if numerics:
            ids = write_samples(engine, s, key, source_sql, [c.name for c in numerics])
            rows += _numeric_bins(engine, s, key, numerics, summaries, n, ids)
        for column in numerics:
            count, lo, hi, mean, std, edges = summaries[column.name]
            engine.execute(
                f"insert into {s}.reference_profiles values "
                "(?, ?, ?, ?, 'numeric', ?, ?, ?, ?, ?, ?, ?, null, ?, now(), ?)",
                [*key, column.name, column.role, types[column.name.lower()], n, n - count,
                 lo, hi, mean, std, list(edges), run_id],
            )  # fmt: skip
        if categoricals:
            rows += _categorical(
                engine, s, key, source_sql, categoricals, types, n, max_categories, run_id
            )
        _insert_bins(engine, s, rows)
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


def _summaries(
    engine: Engine, source_sql: str, columns: Sequence[ProfileColumn], bins: int
) -> tuple[int, dict[str, tuple[int, Any, Any, Any, Any, tuple[float, ...]]]]:
    """The row count, and per numeric column its non-NULL count, min, max, mean, population
    std and bin edges, from one scan of the source."""
    quantiles = ", ".join(map(repr, [i / bins for i in range(1, bins)] or [0.5]))
    aggregates = ["count(*)"]
    for i, _ in enumerate(columns):
        x = f"x{i}"
        aggregates += [f"count({x})", f"min({x})", f"max({x})", f"avg({x})",
                       f"stddev_pop({x})", f"quantile_cont({x}, [{quantiles}])"]  # fmt: skip
    values = ", ".join(f"{numeric(c.name)} as x{i}" for i, c in enumerate(columns)) or "1 as x"
    row = engine.execute(
        f"select {', '.join(aggregates)} from (select {values} from ({source_sql}))"
    )[0]
    summaries = {}
    for i, column in enumerate(columns):
        count, lo, hi, mean, std, cuts = row[1 + 6 * i : 7 + 6 * i]
        edges: tuple[float, ...] = ()
        if count:
            edges = tuple(sorted({float(lo), float(hi), *(float(c) for c in cuts or ())}))
        summaries[column.name] = (int(count), lo, hi, mean, std, edges)
    return int(row[0]), summaries


def _unpivot(source_sql: str, columns: Sequence[ProfileColumn], expression: Any) -> str:
    """``(i, x)`` rows: every non-NULL value ``x`` of the ``i``-th column of ``columns`` (as
    ``expression(name)`` gives it), read in one scan of the source."""
    values = ", ".join(f"{expression(c.name)} as x{i}" for i, c in enumerate(columns))
    names = ", ".join(f"x{i}" for i in range(len(columns)))
    return (
        f"select substr(name, 2)::INTEGER as i, x from (unpivot (select {values} from "
        f"({source_sql})) on {names} into name name value x)"
    )


def _numeric_bins(
    engine: Engine,
    s: str,
    key: list[Any],
    columns: Sequence[ProfileColumn],
    summaries: Mapping[str, tuple[int, Any, Any, Any, Any, tuple[float, ...]]],
    n: int,
    ids: Mapping[str, int],
) -> list[tuple[Any, ...]]:
    """The bins of the numeric columns, counted on the values just stored (not the source)."""
    cases = " ".join(
        f"when {ids[c.name]} then {bin_case('value', summaries[c.name][5])}" for c in columns
    )
    names = {sample: name for name, sample in ids.items()}
    counts = {
        (names[int(sample)], int(b)): int(k)
        for sample, b, k in engine.execute(
            f"select sample, case sample {cases} end as bin, sum(count) "
            f"from {s}.reference_sample_values where sample in "
            f"({', '.join(map(str, ids.values()))}) group by all"
        )
    }
    rows = []
    for column in columns:
        count, *_, edges = summaries[column.name]
        counts[column.name, 0] = n - count
        for b, label, lo_, hi_ in bin_labels(edges):
            k = counts.get((column.name, b), 0)
            rows.append((*key, column.name, b, label, _finite(lo_), _finite(hi_), None, k,
                         _share(k, n)))  # fmt: skip
    return rows


def _categorical(
    engine: Engine,
    s: str,
    key: list[Any],
    source_sql: str,
    columns: Sequence[ProfileColumn],
    types: Mapping[str, str],
    n: int,
    max_categories: int,
    run_id: str | None,
) -> list[tuple[Any, ...]]:
    """Store the categorical columns' profiles (one grouped pass over the source) and return
    their bins: NULL, "(other)", then the commonest categories."""
    found = engine.execute(
        f"select i, c, k, distinct_count, total from (select i, x as c, count(*) as k, "
        "count(*) over (partition by i) as distinct_count, sum(count(*)) over (partition by i) "
        "as total, row_number() over (partition by i order by count(*) desc, x) as rank "
        f"from ({_unpivot(source_sql, columns, lambda c: f'{quote(c)}::VARCHAR')}) "
        f"group by i, x) where rank <= {int(max_categories)} order by i, rank"
    )
    by_column: dict[int, list[tuple[str, int]]] = {}
    totals: dict[int, tuple[int, int]] = {}
    for i, c, k, distinct, total in found:
        by_column.setdefault(int(i), []).append((str(c), int(k)))
        totals[int(i)] = (int(distinct), int(total))
    rows: list[tuple[Any, ...]] = []
    for i, column in enumerate(columns):
        distinct, count = totals.get(i, (0, 0))
        top = by_column.get(i, [])
        engine.execute(
            f"insert into {s}.reference_profiles values "
            "(?, ?, ?, ?, 'categorical', ?, ?, ?, null, null, null, null, ?, null, now(), ?)",
            [*key, column.name, column.role, types[column.name.lower()], n, n - count, distinct,
             run_id],
        )  # fmt: skip
        other = count - sum(k for _, k in top)
        rows += [
            (*key, column.name, 0, "NULL", None, None, None, n - count, _share(n - count, n)),
            (*key, column.name, 1, "(other)", None, None, None, other, _share(other, n)),
        ]
        rows += [
            (*key, column.name, j + 2, category, None, None, category, k, _share(k, n))
            for j, (category, k) in enumerate(top)
        ]
    return rows


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
