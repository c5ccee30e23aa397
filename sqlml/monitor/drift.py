"""Drift and data-quality statistics of one column, computed in SQL against a frozen profile.

Notation: ``p_i`` is the reference (training) share of bin ``i``, ``q_i`` the current share;
shares are over all rows, so the NULL, below-minimum, above-maximum and "other" bins take part.

- ``psi``  = Σ (q_i - p_i) · ln(q_i / p_i), natural log; a zero share is replaced by
  ``EPSILON`` (1e-4) in both factors, without renormalising.
- ``js_distance`` = sqrt(½ Σ p_i log2(p_i / m_i) + ½ Σ q_i log2(q_i / m_i)), m = (p + q) / 2,
  **base 2** (range 0..1; a term with a zero share is 0). Equal to
  ``scipy.spatial.distance.jensenshannon(p, q, base=2)``. (The Jensen-Shannon *divergence* in
  base 2 is its square.)
- ``linf`` = max_i |p_i - q_i| (L-infinity; categorical columns).
- ``chi2`` = Σ (o_i - e_i)² / e_i with o_i = q_i·m (current counts, m current rows) and
  e_i = p'_i·m, where p' is p with zero shares replaced by ``EPSILON`` and renormalised to sum
  1 (categorical columns). Equal to ``scipy.stats.chisquare(o, e).statistic``.
- ``ks`` = max_x |F_ref(x) - F_cur(x)| over the non-NULL raw values (exact, ties grouped):
  ``scipy.stats.ks_2samp(ref, cur).statistic``.
- ``wasserstein`` = ∫ |F_ref - F_cur| dx over the non-NULL raw values, divided by the
  reference population standard deviation (by 1 when that is 0):
  ``scipy.stats.wasserstein_distance(ref, cur) / numpy.std(ref)``.
- quality: ``null_rate`` (share of NULL or NaN), ``null_rate_delta`` (current minus
  reference), ``out_of_range`` (share of non-NULL values outside the training [min, max]),
  ``unseen`` (share of non-NULL categories absent from the reference).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlml.engine.base import Engine
from sqlml.monitor.profile import ColumnProfile, ensure_profile_tables
from sqlml.monitor.sample import sample_ids
from sqlml.monitor.sqltext import bin_case, double, literal, numeric, quote

EPSILON = 1e-4
NUMERIC_METRICS = ("psi", "js_distance", "ks", "wasserstein")
CATEGORICAL_METRICS = ("psi", "js_distance", "linf", "chi2")
QUALITY_METRICS = ("null_rate", "null_rate_delta", "out_of_range", "unseen")


@dataclass(frozen=True)
class BinShare:
    bin: int
    label: str
    ref_share: float
    cur_share: float
    cur_count: int


@dataclass(frozen=True)
class ColumnDrift:
    """Every statistic of one column for one window, and the bins behind them."""

    column: str
    kind: str
    n_current: int
    metrics: Mapping[str, float | None]
    bins: tuple[BinShare, ...]


def current_bins_sql(
    schema: str, profile: str, version: int, columns: Sequence[ColumnProfile], rows: str
) -> str:
    """A query of ``(i, bin, label, p, q, n_bin, n)`` for every reference bin of every column
    (``i`` its position in ``columns``): reference share ``p``, current share ``q`` and count
    ``n_bin`` out of ``n`` current rows. The rows are read once, for all columns: a numeric
    value is binned on the frozen edges as it is read, a category is counted as it is and
    mapped to its bin afterwards."""
    s = quote(schema)

    def key(alias: str) -> str:
        return f"{alias}.profile = {literal(profile)} and {alias}.version = {int(version)}"

    values, aggregates, counts = [], ["count(*) as n"], []
    for i, column in enumerate(columns):
        if column.kind == "numeric":
            values.append(f"{bin_case(numeric(column.name), column.edges)} as x{i}")
            aggregates.append(f"histogram(x{i}) as h{i}")
            counts.append(
                f"select {i} as i, unnest(map_keys(h{i})) as bin, unnest(map_values(h{i})) as k "
                "from h"
            )
            continue
        values.append(f"{quote(column.name)}::VARCHAR as x{i}")
        aggregates += [f"histogram(x{i}) as h{i}", f"count(x{i}) as c{i}"]
        counts += [
            f"select {i} as i, coalesce(m.bin, 1) as bin, e.k from (select "
            f"unnest(map_keys(h{i})) as c, unnest(map_values(h{i})) as k from h) e "
            f"left join {s}.reference_bins m on m.category = e.c and {key('m')} "
            f"and m.column_name = {literal(column.name)}",
            f"select {i} as i, 0 as bin, n - c{i} as k from h",
        ]
    return f"""
with h as materialized (select {", ".join(aggregates)} from (select {", ".join(values)}
                        from ({rows}))),
cur as ({" union all ".join(counts)}),
counts as (select i, bin, sum(k) as k from cur group by i, bin)
select names.i, r.bin, r.label, r.share as p,
       case when h.n = 0 then 0 else coalesce(c.k, 0)::DOUBLE / h.n end as q,
       coalesce(c.k, 0) as n_bin, h.n as n
from {s}.reference_bins r join {_names(columns)} names on names.column_name = r.column_name
cross join h left join counts c on c.i = names.i and c.bin = r.bin
where {key("r")}"""


def share_statistics_sql(shares: str) -> str:
    """Each row of ``shares`` (``i``, ``p``, ``q``, ``n`` and anything else, one per bin of
    column ``i``) with PSI, JS distance (base 2), L-infinity and chi-square over the bins of its
    column added as columns (``n``: current rows, the same on every row). The bins are read
    once."""
    eps = double(EPSILON)
    return f"""
with b as materialized ({shares}),
s as (select i, p, q, n, greatest(p, {eps}) as pe, greatest(q, {eps}) as qe, (p + q) / 2 as m
      from b),
z as (select i, sum(pe) as pe_total from s group by i),
st as (select i,
    sum((qe - pe) * ln(qe / pe)) as psi,
    sqrt(greatest(0.0, 0.5 * sum(case when p > 0 then p * log2(p / m) else 0 end)
                     + 0.5 * sum(case when q > 0 then q * log2(q / m) else 0 end))) as js_distance,
    max(abs(p - q)) as linf,
    max(n) * sum((q - pe / pe_total) * (q - pe / pe_total) / (pe / pe_total)) as chi2
  from s join z using (i) group by i)
select b.*, st.psi, st.js_distance, st.linf, st.chi2 from b join st using (i)"""


def raw_distance_sql(
    schema: str, columns: Sequence[tuple[ColumnProfile, int, int, int, bool]], rows: str
) -> str:
    """Exact two-sample KS statistic and Wasserstein-1 distance of numeric columns, all in one
    query: ``(i, d_max, area)``, both to be divided by ``n_ref · n_cur``.

    ``columns``: ``(column, sample, n_ref, n_cur, grouped)``: the column's reference sample
    (see `sample`), the non-NULL counts of the reference and the current rows; ``grouped``
    counts equal current values before sorting (worth it when the values repeat).

    Each reference value weighs ``count · n_cur`` and each current value ``-n_ref``, so the
    running sum of weights in value order is ``n_ref · n_cur · (F_ref - F_cur)`` in exact
    integers; it is read at the last row of each run of equal values (ties grouped, as scipy
    does), and the area is ∑ |running sum| · (next value - value).
    """
    s = quote(schema)
    totals = ", ".join(
        f"({i}, {int(sample)}::BIGINT, {int(nr)}::BIGINT, {int(nc)}::BIGINT)"
        for i, (_, sample, nr, nc, _) in enumerate(columns)
    )
    parts = [
        f"select t.i, v.value, v.count * t.nc as w from {s}.reference_sample_values v "
        "join t using (sample)"
    ]
    grouped = [(i, c) for i, (c, *_, g) in enumerate(columns) if g]
    raw = [(i, c) for i, (c, *_, g) in enumerate(columns) if not g]
    if grouped:
        parts.append(
            f"select c.i, c.x, -c.k * t.nr from (select i, x, count(*) as k from "
            f"({_unpivot(grouped, rows)}) group by i, x) c join t using (i)"
        )
    if raw:
        parts.append(f"select c.i, c.x, -t.nr from ({_unpivot(raw, rows)}) c join t using (i)")
    return f"""
with t(i, sample, nr, nc) as (values {totals}),
u as ({" union all ".join(parts)}),
d as (select i, value, sum(w) over w as d, lead(value) over w as nx from u
      window w as (partition by i order by value rows between unbounded preceding and current row))
select i, max(abs(d)) filter (where nx is distinct from value),
       sum(abs(d)::DOUBLE * coalesce(nx - value, 0)) from d group by i"""


def columns_drift(
    engine: Engine,
    schema: str,
    profile: str,
    version: int,
    columns: Sequence[ColumnProfile],
    rows: str,
) -> list[ColumnDrift]:
    """Every drift and quality statistic of ``columns`` for the current ``rows`` (a query).

    The rows are read once for every column's bins, and once or twice more for the exact
    KS and Wasserstein distances of the numeric columns (all of them in one query)."""
    if not columns:
        return []
    bins_sql = current_bins_sql(schema, profile, version, columns, rows)
    shares = engine.execute(f"select * from ({share_statistics_sql(bins_sql)}) order by i, bin")
    by_column: dict[int, list[tuple[Any, ...]]] = {}
    for row in shares:
        by_column.setdefault(int(row[0]), []).append(row)
    drifts: dict[int, ColumnDrift] = {}
    numerics = []
    for i, column in enumerate(columns):
        found = by_column.get(i, [])
        bins = tuple(
            BinShare(int(b), str(label), float(p), float(q), int(k))
            for _, b, label, p, q, k, *_ in found
        )
        n = int(found[0][6]) if found else 0
        metrics: dict[str, float | None] = {}
        if n:
            psi, js, linf, chi2 = found[0][7:11]
            metrics.update(psi=psi, js_distance=js)
            metrics.update(_quality(bins, column))
            if column.kind == "categorical":
                metrics.update(linf=linf, chi2=chi2)
            else:
                metrics.update(ks=None, wasserstein=None)
                present = n - sum(b.cur_count for b in bins if b.bin == 0)
                if present and column.n - column.nulls:
                    numerics.append((i, column, present))
        drifts[i] = ColumnDrift(column.name, column.kind, n, metrics, bins)
    if numerics:
        _add_distances(engine, schema, profile, version, numerics, rows, drifts)
    return [drifts[i] for i in range(len(columns))]


def column_drift(
    engine: Engine, schema: str, profile: str, version: int, column: ColumnProfile, rows: str
) -> ColumnDrift:
    """Every drift and quality statistic of one ``column`` for the current ``rows``."""
    return columns_drift(engine, schema, profile, version, [column], rows)[0]


def _add_distances(
    engine: Engine,
    schema: str,
    profile: str,
    version: int,
    numerics: Sequence[tuple[int, ColumnProfile, int]],
    rows: str,
    drifts: dict[int, ColumnDrift],
) -> None:
    ensure_profile_tables(engine, schema)  # moves a sample stored in the old layout
    samples = sample_ids(engine, schema, profile, version)
    columns = []
    for _, column, present in numerics:
        n_ref = column.n - column.nulls
        sample, distinct = samples.get(column.name, (0, 0))
        # Values that repeat (counts, ages, codes) are counted before they are sorted.
        columns.append((column, sample, n_ref, present, distinct * 4 <= n_ref))
    found = engine.execute(raw_distance_sql(schema, columns, rows))
    for j, d_max, area in found:
        i, column, _ = numerics[int(j)]
        _, _, n_ref, n_cur, _ = columns[int(j)]
        scale = n_ref * n_cur
        std = column.std or 0.0
        metrics = dict(drifts[i].metrics)
        metrics["ks"] = None if d_max is None else int(d_max) / scale
        metrics["wasserstein"] = None if area is None else area / scale / (std if std > 0 else 1.0)
        drifts[i] = replace(drifts[i], metrics=metrics)


def _unpivot(columns: Sequence[tuple[int, ColumnProfile]], rows: str) -> str:
    """``(i, x)``: every non-NULL value of the numeric ``columns`` (numbered ``i``) in one scan
    of ``rows``."""
    values = ", ".join(f"{numeric(c.name)} as x{i}" for i, c in columns)
    names = ", ".join(f"x{i}" for i, _ in columns)
    return (
        f"select substr(name, 2)::INTEGER as i, x from (unpivot (select {values} from "
        f"({rows})) on {names} into name name value x)"
    )


def _names(columns: Sequence[ColumnProfile]) -> str:
    rows = ", ".join(f"({i}, {literal(c.name)})" for i, c in enumerate(columns))
    return f"(select * from (values {rows}) as t(i, column_name))"


def _quality(bins: tuple[BinShare, ...], column: ColumnProfile) -> dict[str, float | None]:
    null = next((b.cur_share for b in bins if b.bin == 0), 0.0)
    present = 1.0 - null
    if column.kind == "numeric":
        last = max(b.bin for b in bins)
        outside = sum(b.cur_share for b in bins if b.bin in (1, last) and b.bin != 0)
        return {
            "null_rate": null,
            "null_rate_delta": null - column.null_rate,
            "out_of_range": outside / present if present > 0 else 0.0,
        }
    other = next((b.cur_share for b in bins if b.bin == 1), 0.0)
    return {
        "null_rate": null,
        "null_rate_delta": null - column.null_rate,
        "unseen": other / present if present > 0 else 0.0,
    }
