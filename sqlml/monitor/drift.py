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

from collections.abc import Mapping
from dataclasses import dataclass

from sqlml.engine.base import Engine
from sqlml.monitor.profile import ColumnProfile
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
    schema: str, profile: str, version: int, column: ColumnProfile, rows: str
) -> str:
    """A query of ``(bin, label, p, q, n_bin, n)`` for every reference bin of ``column``:
    reference share ``p``, current share ``q`` and count ``n_bin`` out of ``n`` current rows."""
    s = quote(schema)
    if column.kind == "numeric":
        x = numeric(column.name)
        current = (
            f"select {bin_case('x', column.edges)} as bin from (select {x} as x from ({rows}))"
        )
    else:
        current = (
            f"select case when c is null then 0 else coalesce(m.bin, 1) end as bin "
            f"from (select {quote(column.name)}::VARCHAR as c from ({rows})) "
            f"left join {s}.reference_bins m on m.category = c and m.profile = {literal(profile)} "
            f"and m.version = {int(version)} and m.column_name = {literal(column.name)}"
        )
    return f"""
with cur as ({current}),
counts as (select bin, count(*) as k from cur group by bin),
total as (select count(*) as n from cur)
select r.bin, r.label, r.share as p,
       case when t.n = 0 then 0 else coalesce(c.k, 0)::DOUBLE / t.n end as q,
       coalesce(c.k, 0) as n_bin, t.n as n
from {s}.reference_bins r cross join total t left join counts c on c.bin = r.bin
where r.profile = {literal(profile)} and r.version = {int(version)}
  and r.column_name = {literal(column.name)}"""


def share_statistics_sql(shares: str) -> str:
    """Each row of ``shares`` (``p``, ``q``, ``n`` and anything else, one per bin) with PSI,
    JS distance (base 2), L-infinity and chi-square over all of them added as columns (``n``:
    current rows, the same on every row). The bins are read once."""
    eps = double(EPSILON)
    return f"""
with b as materialized ({shares}),
s as (select p, q, n, greatest(p, {eps}) as pe, greatest(q, {eps}) as qe, (p + q) / 2 as m
      from b),
z as (select sum(pe) as pe_total from s),
st as (select
    sum((qe - pe) * ln(qe / pe)) as psi,
    sqrt(greatest(0.0, 0.5 * sum(case when p > 0 then p * log2(p / m) else 0 end)
                     + 0.5 * sum(case when q > 0 then q * log2(q / m) else 0 end))) as js_distance,
    max(abs(p - q)) as linf,
    max(n) * sum((q - pe / pe_total) * (q - pe / pe_total) / (pe / pe_total)) as chi2
  from s cross join z)
select b.*, st.psi, st.js_distance, st.linf, st.chi2 from b cross join st"""


def raw_distance_sql(reference_values: str, current_values: str) -> str:
    """Exact two-sample KS statistic and Wasserstein-1 distance.

    ``reference_values`` is a relation of ``(value, count)``; ``current_values`` one of
    ``(x)`` raw values (NULLs are ignored). Ties are grouped, so both empirical CDFs are
    evaluated at every distinct value, as scipy does.
    """
    return f"""
with r as (select value, count from ({reference_values})),
c as (select x as value, count(*) as count from ({current_values}) where x is not null group by x),
u as (select value, sum(rn)::DOUBLE as rn, sum(cn)::DOUBLE as cn from (
        select value, count as rn, 0 as cn from r union all select value, 0, count from c)
      group by value),
t as (select sum(rn) as nr, sum(cn) as nc from u),
cdf as (select value, sum(rn) over w / t.nr as fr, sum(cn) over w / t.nc as fc,
               lead(value) over (order by value) - value as dx
        from u cross join t window w as (order by value rows unbounded preceding))
select max(abs(fr - fc)) as ks, sum(abs(fr - fc) * coalesce(dx, 0)) as w1 from cdf"""


def column_drift(
    engine: Engine, schema: str, profile: str, version: int, column: ColumnProfile, rows: str
) -> ColumnDrift:
    """Every drift and quality statistic of ``column`` for the current ``rows`` (a query)."""
    shares_sql = current_bins_sql(schema, profile, version, column, rows)
    shares = engine.execute(f"select * from ({share_statistics_sql(shares_sql)}) order by bin")
    bins = tuple(
        BinShare(int(b), str(label), float(p), float(q), int(k)) for b, label, p, q, k, *_ in shares
    )
    n = int(shares[0][5]) if shares else 0
    metrics: dict[str, float | None] = {}
    if n == 0:
        return ColumnDrift(column.name, column.kind, 0, metrics, bins)
    psi, js, linf, chi2 = shares[0][6:10]
    metrics.update(psi=psi, js_distance=js)
    metrics.update(_quality(bins, column))
    if column.kind == "categorical":
        metrics.update(linf=linf, chi2=chi2)
        return ColumnDrift(column.name, column.kind, n, metrics, bins)
    s = quote(schema)
    reference = (
        f"select value, count from {s}.reference_values where profile = {literal(profile)} "
        f"and version = {int(version)} and column_name = {literal(column.name)}"
    )
    current = f"select {numeric(column.name)} as x from ({rows})"
    ks, w1 = engine.execute(raw_distance_sql(reference, current))[0]
    std = column.std or 0.0
    metrics["ks"] = ks
    metrics["wasserstein"] = None if w1 is None else w1 / (std if std > 0 else 1.0)
    return ColumnDrift(column.name, column.kind, n, metrics, bins)


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
