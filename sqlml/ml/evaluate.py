"""Scoring a fitted pipeline: metrics by scikit-learn name, gates, permutation importance.

A metric is a scikit-learn scorer name (``roc_auc``, ``f1``, ``neg_log_loss``, ``r2``, ...) or
the name of a ``neg_*`` scorer without its prefix (``root_mean_squared_error``,
``mean_absolute_error``, ``log_loss``), which is reported as the plain, positive error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlml.errors import TrainingError
from sqlml.ml.spec import Gate, MLSpec

if TYPE_CHECKING:
    import pyarrow as pa

_TASK_BY_MODULE = {
    "sklearn.metrics._classification": "classification",
    "sklearn.metrics._ranking": "classification",
    "sklearn.metrics._scorer": "classification",  # likelihood ratios
    "sklearn.metrics._regression": "regression",
    "sklearn.metrics.cluster._supervised": "clustering",
}


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    value: float
    passed: bool

    def __str__(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        return f"{self.gate.text}: {self.value:.6g} ({verdict})"


@dataclass(frozen=True)
class Importance:
    """How much the primary metric drops when a column's values are shuffled on the holdout."""

    feature: str
    mean: float
    std: float


def metric_names() -> list[str]:
    """Every metric name a spec may use."""
    from sklearn.metrics import get_scorer_names

    names = get_scorer_names()
    return sorted({*names, *(n.removeprefix("neg_") for n in names)})


def metric_task(name: str) -> str | None:
    """``classification``, ``regression`` or ``clustering``; None for an unknown name."""
    from sklearn.metrics import get_scorer, get_scorer_names

    names = set(get_scorer_names())
    scorer_name = name if name in names else f"neg_{name}"
    if scorer_name not in names:
        return None
    module = get_scorer(scorer_name)._score_func.__module__
    return _TASK_BY_MODULE.get(module, "classification")


def greater_is_better(name: str) -> bool:
    """Whether a larger value of metric ``name`` is better (plain error names are not)."""
    from sklearn.metrics import get_scorer_names

    return name in set(get_scorer_names())


def scorer(name: str) -> Callable[[Any, Any, Any], float]:
    """A function ``(estimator, X, y) -> value`` computing metric ``name`` as reported."""
    from sklearn.metrics import get_scorer, get_scorer_names

    if name in set(get_scorer_names()):
        base = get_scorer(name)
        return lambda est, X, y: float(base(est, X, y))
    negated = get_scorer(f"neg_{name}")
    return lambda est, X, y: -float(negated(est, X, y))


def search_scoring(name: str) -> Any:
    """The scorer a scikit-learn search maximises for metric ``name``."""
    from sklearn.metrics import get_scorer_names

    return name if name in set(get_scorer_names()) else f"neg_{name}"


def holdout_metrics(
    spec: MLSpec, pipeline: Any, X: pa.Table, y: Any, *, where: str = "holdout"
) -> dict[str, float]:
    """Every metric of ``spec`` on ``(X, y)``; a metric that cannot be computed is an error."""
    values = {}
    for index, name in enumerate(spec.metrics):
        try:
            values[name] = scorer(name)(pipeline, X, y)
        except (ValueError, TypeError, AttributeError) as exc:
            raise TrainingError(
                f"metric '{name}' cannot be computed on the {where}: {exc}",
                node=spec.name,
                location=spec.location("metrics", index),
                hint="pick a metric that fits the target (e.g. f1_macro or roc_auc_ovr for "
                "more than two classes)",
            ) from None
    return values


def evaluate_gates(gates: Sequence[Gate], metrics: Mapping[str, float]) -> tuple[GateResult, ...]:
    """Each gate with the metric's value and whether it passed (NaN never passes)."""
    return tuple(GateResult(g, metrics[g.metric], g.passes(metrics[g.metric])) for g in gates)


def permutation_importance(
    pipeline: Any,
    X: pa.Table,
    y: Any,
    metric: str,
    *,
    repeats: int = 3,
    seed: int = 0,
    max_rows: int = 5000,
) -> tuple[Importance, ...]:
    """Permutation importance of each column of ``X`` for ``metric``, largest first.

    Preprocessing works row by row within each column, so shuffling a raw column equals
    shuffling the rows of the block of preprocessed columns it becomes (one column, or its
    one-hot block): the holdout is preprocessed once and only the estimator rescored. Each
    repeat uses a seeded permutation; at most ``max_rows`` rows are used.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    if X.num_rows > max_rows:
        keep = np.sort(rng.choice(X.num_rows, size=max_rows, replace=False))
        X, y = X.take(keep), y[keep]
    columns = pipeline.named_steps["preprocess"]
    estimator = pipeline.named_steps["estimator"]
    Z = np.asarray(columns.transform(X), dtype=np.float64)
    score = scorer(metric)
    sign = 1.0 if greater_is_better(metric) else -1.0
    baseline = score(estimator, Z, y)
    result = []
    for name, block in _blocks(columns).items():
        drops = []
        for _ in range(repeats):
            shuffled = Z.copy()
            shuffled[:, block] = Z[rng.permutation(len(Z))][:, block]
            drops.append(sign * (baseline - score(estimator, shuffled, y)))
        result.append(Importance(name, float(np.mean(drops)), float(np.std(drops))))
    return tuple(sorted(result, key=lambda i: -i.mean))


def _blocks(columns: Any) -> dict[str, list[int]]:
    """For each raw column of a fitted ColumnTransformer, the output columns it becomes."""
    from sklearn.preprocessing import OneHotEncoder

    blocks: dict[str, list[int]] = {}
    for part, transformer, names in columns.transformers_:
        if part == "remainder":
            continue
        start = columns.output_indices_[part].start
        steps: Any = getattr(transformer, "named_steps", {})
        encoder: Any = steps.get("encode")
        one_hot = isinstance(encoder, OneHotEncoder)
        widths = [len(c) for c in encoder.categories_] if one_hot else None
        for i, name in enumerate(names):
            width = widths[i] if widths else 1
            blocks[name] = list(range(start, start + width))
            start += width
    return blocks
