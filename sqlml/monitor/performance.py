"""Model performance once labels arrive, per time bucket, computed in SQL.

The rows to judge are a query of ``(bucket, y, score, prediction)``: ``y`` the label that landed
later, ``score`` the predicted probability of the positive class (classification) or the
predicted value (regression), ``prediction`` the predicted class (0/1). Rows without a label are
left out; every bucket reports ``labelled_rows``.

Classification (binary, positive class 1):

- ``auc``: Σ over distinct scores of pos_s · (neg_below_s + neg_s / 2) / (P · N), the
  Mann-Whitney form of the ROC AUC with ties counted half: ``sklearn.metrics.roc_auc_score``.
  NULL when a bucket has only one class.
- ``accuracy`` = mean(prediction = y); ``f1`` = 2·TP / (2·TP + FP + FN) (0 when that is 0/0,
  as scikit-learn does).
- ``log_loss`` = -mean(y·ln p + (1 - y)·ln(1 - p)), p clipped to [ε, 1 - ε] with ε the float64
  machine epsilon, as scikit-learn does.

Regression: ``rmse`` = sqrt(mean((y - ŷ)²)), ``mae`` = mean(|y - ŷ|).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlml.engine.base import Engine
from sqlml.monitor.sqltext import double

CLASSIFICATION_METRICS = ("auc", "accuracy", "f1", "log_loss")
REGRESSION_METRICS = ("rmse", "mae")
HIGHER_IS_BETTER = frozenset({"auc", "accuracy", "f1"})
_EPS = 2.220446049250313e-16  # numpy.finfo(float64).eps


@dataclass(frozen=True)
class WindowPerformance:
    bucket: datetime | str | None
    labelled_rows: int
    metrics: Mapping[str, float | None]


def classification_sql(rows: str) -> str:
    """Per bucket: labelled rows, AUC, accuracy, F1 and log loss of ``rows``."""
    eps, one = double(_EPS), double(1 - _EPS)
    return f"""
with d as materialized (
    select bucket, y::INTEGER as y, score::DOUBLE as s, prediction::INTEGER as yhat
    from ({rows}) where y is not null),
g as (select bucket, s, sum(y) as pos, count(*) - sum(y) as neg from d group by bucket, s),
r as (select bucket, pos, neg,
             coalesce(sum(neg) over (partition by bucket order by s
                      rows between unbounded preceding and 1 preceding), 0) as neg_below
      from g),
auc as (select bucket,
               case when sum(pos) = 0 or sum(neg) = 0 then null
                    else sum(pos * (neg_below + neg / 2.0)) / (sum(pos) * sum(neg)) end as auc
        from r group by bucket),
m as (select bucket, count(*) as n,
             avg(case when yhat = y then 1.0 else 0.0 end) as accuracy,
             count(*) filter (where yhat = 1 and y = 1) as tp,
             count(*) filter (where yhat = 1 and y = 0) as fp,
             count(*) filter (where yhat = 0 and y = 1) as fn,
             -avg(y * ln(least(greatest(s, {eps}), {one}))
                  + (1 - y) * ln(1 - least(greatest(s, {eps}), {one}))) as log_loss
      from d group by bucket)
select m.bucket, m.n, auc.auc, m.accuracy,
       case when 2 * tp + fp + fn = 0 then 0.0 else 2.0 * tp / (2 * tp + fp + fn) end as f1,
       m.log_loss
from m join auc on auc.bucket is not distinct from m.bucket
order by m.bucket"""


def regression_sql(rows: str) -> str:
    """Per bucket: labelled rows, RMSE and MAE of ``rows``."""
    return f"""
select bucket, count(*) as n, sqrt(avg((y - score) * (y - score))) as rmse,
       avg(abs(y - score)) as mae
from (select bucket, y::DOUBLE as y, score::DOUBLE as score from ({rows}) where y is not null)
group by bucket order by bucket"""


def window_performance(engine: Engine, rows: str, task: str) -> list[WindowPerformance]:
    """The performance metrics of each bucket of ``rows`` (see the module's documentation)."""
    if task == "classification":
        names: tuple[str, ...] = CLASSIFICATION_METRICS
        sql = classification_sql(rows)
    else:
        names, sql = REGRESSION_METRICS, regression_sql(rows)
    return [
        WindowPerformance(bucket, int(n), dict(zip(names, values, strict=True)))
        for bucket, n, *values in engine.execute(sql)
    ]
