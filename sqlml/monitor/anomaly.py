"""Volume and freshness of any table, judged against the table's own history, in SQL.

A series is one value per day (rows landed that day, or the longest silence that day). The
tested point is the latest day; its baseline is the ``window`` days before it, **excluding the
tested point**, so an outlier never pulls its own baseline towards itself.

robust z = 0.6745 · (x - median) / MAD, with MAD = median(|x_i - median|) over the baseline.
When MAD is 0, the mean absolute deviation scaled by 1.2533 (= sqrt(π/2)) takes its place; when
that is 0 too (a perfectly constant baseline), z is 0 if x equals the median and ±1e9 otherwise.
Fewer than ``min_points`` baseline days: no verdict (the z is NULL).

- volume: ``row_count`` per day of the timestamp column.
- freshness: per day, ``hours_since_previous`` = the longest gap in hours between consecutive
  distinct timestamps that day (the first counted from the previous day's last one); the tested
  point is the hours from the table's newest timestamp to ``as_of``. Only a spike (a larger gap)
  is an anomaly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlml.engine.base import Engine
from sqlml.monitor.sqltext import quote

DEFAULT_WINDOW = 28
DEFAULT_MIN_POINTS = 7
_CONSTANT_Z = 1e9


@dataclass(frozen=True)
class Anomaly:
    """The tested point, its baseline and its robust z-score (None: not enough history)."""

    metric: str
    day: datetime | None
    value: float | None
    median: float | None
    mad: float | None
    z: float | None
    points: int


def robust_z_sql(series: str, window: int) -> str:
    """The robust z of the last row of ``series`` (``day``, ``value``) against the ``window``
    rows before it. Returns ``day, value, median, mad, z, points``."""
    z = _CONSTANT_Z
    return f"""
with s as materialized (select day, value::DOUBLE as value,
                              row_number() over (order by day desc) as back
                        from ({series})),
t as (select day, value from s where back = 1),
b as (select value from s where back between 2 and {int(window) + 1}),
m as (select median(value) as med, count(*) as points from b),
d as (select median(abs(b.value - m.med)) as mad, avg(abs(b.value - m.med)) as meanad
      from b cross join m)
select t.day, t.value, m.med, d.mad,
       case when m.points = 0 then null
            when d.mad > 0 then 0.6745 * (t.value - m.med) / d.mad
            when d.meanad > 0 then (t.value - m.med) / (1.2533 * d.meanad)
            when t.value = m.med then 0.0
            else sign(t.value - m.med) * {z} end as z,
       m.points
from t cross join m cross join d"""


def volume_series_sql(relation: str, timestamp: str) -> str:
    """Rows per day of ``relation`` by its ``timestamp`` column, days without rows as 0."""
    ts = quote(timestamp)
    return f"""
with c as (select {ts}::DATE as day, count(*) as value from {relation}
           where {ts} is not null group by day),
days as (select unnest(generate_series(min(day), max(day), interval 1 day))::DATE as day from c)
select days.day, coalesce(c.value, 0) as value from days left join c using (day)"""


def freshness_series_sql(relation: str, timestamp: str, as_of: datetime) -> str:
    """Longest gap (hours) between consecutive timestamps per day, then the open gap to
    ``as_of`` as the last point."""
    ts = quote(timestamp)
    stamp = as_of.strftime("%Y-%m-%d %H:%M:%S.%f")
    return f"""
with t as (select distinct {ts}::TIMESTAMP as ts from {relation} where {ts} is not null),
g as (select ts, ts::DATE as day,
             epoch(ts - lag(ts) over (order by ts)) / 3600.0 as gap from t),
daily as (select day, max(gap) as value from g where gap is not null group by day),
now_gap as (select '{stamp}'::TIMESTAMP::DATE + 1 as day,
                   epoch('{stamp}'::TIMESTAMP - max(ts)) / 3600.0 as value from t)
select day, value from daily union all select day, value from now_gap"""


def judge_point(engine: Engine, metric: str, series: str, window: int) -> Anomaly:
    """Judge the last point of ``series`` (see the module's documentation)."""
    rows = engine.execute(robust_z_sql(series, window))
    if not rows:
        return Anomaly(metric, None, None, None, None, None, 0)
    day, value, median, mad, z, points = rows[0]
    return Anomaly(metric, day, value, median, mad, z, int(points))
