"""Training a model from a spec and an Arrow table of training rows.

One scikit-learn Pipeline holds everything the model does to raw columns (imputation, scaling,
encoding) and the estimator, fitted on the training split only, so the exported model needs
nothing but the raw columns.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlml.errors import TrainingError
from sqlml.ml.evaluate import (
    GateResult,
    Importance,
    evaluate_gates,
    holdout_metrics,
    permutation_importance,
    scorer,
    search_scoring,
)
from sqlml.ml.features import MISSING_CATEGORY, FeatureColumn, prepare_features, target_values
from sqlml.ml.spec import MLSpec, SearchRange
from sqlml.ml.split import cv_splitter, split_rows
from sqlml.ml.validate import check_data, check_spec

if TYPE_CHECKING:
    import pyarrow as pa

MISSING_LABEL = "__missing__"  # the category a NULL becomes with categorical imputation 'constant'
DEFAULT_SEARCH_FOLDS = 3
DEFAULT_SEARCH_BUDGET = 10


@dataclass(frozen=True)
class CvScore:
    mean: float
    std: float
    folds: tuple[float, ...]


@dataclass(frozen=True)
class TrainedModel:
    """A fitted pipeline and everything measured about it.

    ``holdout`` is the holdout rows' feature columns as the pipeline takes them (see
    `prepare_features`) and ``holdout_target`` their targets, kept for the ONNX parity check.
    ``params`` are the estimator's parameters as fitted (after any search).
    """

    spec: MLSpec
    pipeline: Any
    features: tuple[FeatureColumn, ...]
    classes: tuple[Any, ...]
    metrics: Mapping[str, float]
    cv_metrics: Mapping[str, CvScore]
    gates: tuple[GateResult, ...]
    params: Mapping[str, Any]
    importance: tuple[Importance, ...]
    holdout: pa.Table
    holdout_target: Any
    n_train: int
    seconds: float
    search_best: Mapping[str, Any] | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """Whether every gate passed (True when there are none)."""
        return all(g.passed for g in self.gates)

    @property
    def estimator(self) -> Any:
        return self.pipeline.named_steps["estimator"]


def build_pipeline(spec: MLSpec, features: Sequence[FeatureColumn], estimator: Any) -> Any:
    """The unfitted Pipeline: a ColumnTransformer over the named columns, then the estimator."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    pre = spec.preprocessing
    numeric = [f.name for f in features if f.kind == "numeric"]
    categorical = [f.name for f in features if f.kind == "categorical"]
    parts = []
    if numeric:
        strategy = "constant" if pre.numeric_imputation == "zero" else pre.numeric_imputation
        steps: list[tuple[str, Any]] = [
            ("impute", SimpleImputer(strategy=strategy, fill_value=0.0, keep_empty_features=True))
        ]
        if pre.scaling:
            steps.append(("scale", StandardScaler()))
        parts.append(("numeric", Pipeline(steps), numeric))
    if categorical:
        encoder = (
            OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            if pre.one_hot
            else OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        )
        imputer = SimpleImputer(
            missing_values=MISSING_CATEGORY,
            strategy=pre.categorical_imputation,
            fill_value=MISSING_LABEL,
            keep_empty_features=True,
        )
        parts.append(
            ("categorical", Pipeline([("impute", imputer), ("encode", encoder)]), categorical)
        )
    columns = ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
    return Pipeline([("preprocess", columns), ("estimator", estimator)])


def train(spec: MLSpec, table: pa.Table) -> TrainedModel:
    """Validate, split, (search,) fit and evaluate the model ``spec`` describes on ``table``.

    Args:
        spec: the loaded spec.
        table: the training rows, as Arrow (columns are converted whole, never row by row).

    Returns:
        The fitted model with holdout metrics, CV scores (when ``cv`` is set), gate results and
        permutation importance. Raises ConfigError/TrainingError before fitting when the spec or
        the data is unfit, and TrainingError when fitting or scoring fails.
    """
    import numpy as np

    started = time.perf_counter()
    estimator = check_spec(spec)
    features = check_data(spec, table)
    X = prepare_features(table, features)
    y = target_values(table, spec.target, spec.task)
    rows = split_rows(spec, table, y)
    X_train, y_train = X.take(rows.train), y[rows.train]
    X_holdout, y_holdout = X.take(rows.holdout), y[rows.holdout]

    pipeline = build_pipeline(spec, features, estimator)
    # scikit-learn's warnings (convergence, ...) are kept with the model, not printed mid-run;
    # catch_warnings is process-wide, so models train one at a time per process.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", DeprecationWarning)  # meant for developers, not users
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        pipeline, best = _fit(spec, pipeline, X_train, y_train, rows.train_groups)
        cv_metrics = _cross_validate(spec, pipeline, X_train, y_train, rows.train_groups)
        metrics = holdout_metrics(spec, pipeline, X_holdout, y_holdout)
        importance = permutation_importance(
            pipeline, X_holdout, y_holdout, spec.primary_metric, seed=spec.split.seed
        )
    fitted = pipeline.named_steps["estimator"]
    classes = tuple(np.asarray(fitted.classes_).tolist()) if spec.task == "classification" else ()
    return TrainedModel(
        spec=spec,
        pipeline=pipeline,
        features=features,
        classes=classes,
        metrics=metrics,
        cv_metrics=cv_metrics,
        gates=evaluate_gates(spec.gates, metrics),
        params=_plain(fitted.get_params(deep=False)),
        importance=importance,
        holdout=X_holdout,
        holdout_target=y_holdout,
        n_train=len(rows.train),
        seconds=time.perf_counter() - started,
        search_best=best,
        warnings=tuple(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)),
    )


def _fit(
    spec: MLSpec, pipeline: Any, X: pa.Table, y: Any, groups: Any
) -> tuple[Any, dict[str, Any] | None]:
    """Fit ``pipeline``, through a grid or random search when the spec asks for one."""
    search = spec.search
    try:
        if search is None:
            return pipeline.fit(X, y), None
        from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

        space = {f"estimator__{k}": _space(v) for k, v in search.params.items()}
        cv = cv_splitter(spec, y, spec.cv_folds or DEFAULT_SEARCH_FOLDS)
        scoring = search_scoring(search.metric)
        if search.method == "grid":
            searcher: Any = GridSearchCV(
                pipeline, space, scoring=scoring, cv=cv, error_score="raise"
            )
        else:
            searcher = RandomizedSearchCV(
                pipeline,
                space,
                n_iter=search.budget or DEFAULT_SEARCH_BUDGET,
                scoring=scoring,
                cv=cv,
                random_state=spec.split.seed,
                error_score="raise",
            )
        searcher.fit(X, y, groups=groups)
        best = {k.removeprefix("estimator__"): v for k, v in searcher.best_params_.items()}
        return searcher.best_estimator_, _plain(best)
    except TrainingError:
        raise
    except Exception as exc:  # the boundary where scikit-learn's errors become ours
        raise TrainingError(
            f"fitting {type(pipeline.named_steps['estimator']).__name__} failed: {exc}",
            node=spec.name,
            location=spec.location("estimator"),
            hint="check the estimator's parameters and the training data",
        ) from exc


def _cross_validate(
    spec: MLSpec, pipeline: Any, X: pa.Table, y: Any, groups: Any
) -> dict[str, CvScore]:
    if spec.cv_folds is None:
        return {}
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import cross_validate

    cv = cv_splitter(spec, y, spec.cv_folds)
    try:
        result = cross_validate(
            clone(pipeline),
            X,
            y,
            groups=groups,
            cv=cv,
            scoring={name: scorer(name) for name in spec.metrics},
            error_score="raise",
        )
    except Exception as exc:  # the boundary where scikit-learn's errors become ours
        raise TrainingError(
            f"cross-validation failed: {exc}",
            node=spec.name,
            location=spec.location("cv"),
            hint="fewer folds, or metrics that every fold can compute",
        ) from exc
    scores = {}
    for name in spec.metrics:
        folds = np.asarray(result[f"test_{name}"], dtype=float)
        scores[name] = CvScore(float(folds.mean()), float(folds.std()), tuple(folds.tolist()))
    return scores


def _space(values: tuple[Any, ...] | SearchRange) -> Any:
    """A search dimension: a list of values, or a scipy distribution for a range."""
    if not isinstance(values, SearchRange):
        return list(values)
    import numpy as np
    from scipy import stats

    if values.integer:
        if values.log:
            return sorted(set(np.geomspace(values.low, values.high, 32).round().astype(int)))
        return stats.randint(int(values.low), int(values.high) + 1)
    if values.log:
        return stats.loguniform(values.low, values.high)
    return stats.uniform(values.low, values.high - values.low)


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as JSON-ready values (anything else by its repr)."""
    import numpy as np

    plain: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, np.generic):
            value = value.item()
        ok = value is None or isinstance(value, (bool, int, float, str))
        if isinstance(value, (list, tuple)) and all(
            isinstance(v, (int, float, str)) for v in value
        ):
            ok, value = True, list(value)
        plain[key] = value if ok else repr(value)
    return plain
