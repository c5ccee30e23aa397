"""Checks run before any training, so a mistake costs seconds, not a training run.

``check_spec`` needs only the spec (and scikit-learn): estimator, metrics, search.
``check_data`` needs the training table's rows: columns, target, feature types.
Spec mistakes are ConfigErrors; problems found in the data are TrainingErrors. Both point at
the spec key to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlml.errors import ConfigError, TrainingError, did_you_mean
from sqlml.ml.estimator import check_estimator, make_estimator
from sqlml.ml.evaluate import metric_names, metric_task
from sqlml.ml.features import FeatureColumn, can_be_categorical, infer_kind, target_values
from sqlml.ml.spec import MLSpec, SearchRange

if TYPE_CHECKING:
    import pyarrow as pa

RESERVED_NAMES = ("label", "probabilities", "prediction")  # the ONNX model's outputs


def check_spec(spec: MLSpec) -> Any:
    """Check the estimator, metrics and search of ``spec``; return the unfitted estimator."""
    estimator = make_estimator(spec)
    check_estimator(spec, estimator)
    for index, name in enumerate(spec.metrics):
        _check_metric(spec, name, ("metrics", index))
    if spec.search is not None:
        _check_search(spec, estimator)
    return estimator


def _check_metric(spec: MLSpec, name: str, key: tuple[str | int, ...]) -> None:
    task = metric_task(name)
    if task is None:
        raise ConfigError(
            f"unknown metric '{name}'",
            node=spec.name,
            location=spec.location(*key),
            hint=did_you_mean(name, metric_names())
            or "use a scikit-learn scorer name, e.g. "
            + ("roc_auc or f1" if spec.task == "classification" else "r2 or mean_absolute_error"),
        )
    if task != spec.task:
        raise ConfigError(
            f"metric '{name}' is a {task} metric but task is {spec.task}",
            node=spec.name,
            location=spec.location(*key),
            hint="e.g. "
            + (
                "roc_auc, f1, accuracy"
                if spec.task == "classification"
                else "r2, mean_absolute_error"
            ),
        )


def _check_search(spec: MLSpec, estimator: Any) -> None:
    assert spec.search is not None
    search = spec.search
    allowed = sorted(estimator.get_params(deep=False))
    combinations = 1
    for name, values in search.params.items():
        where = spec.location("search", "params", name)
        if name not in allowed:
            raise ConfigError(
                f"search.params: {type(estimator).__name__} has no parameter '{name}'",
                node=spec.name,
                location=where,
                hint=did_you_mean(name, allowed) or f"its parameters: {', '.join(allowed)}",
            )
        if isinstance(values, SearchRange):
            if search.method == "grid":
                raise ConfigError(
                    f"search.params.{name}: a grid search needs a list of values, not a range",
                    node=spec.name,
                    location=where,
                    hint="list the values, or set search.method: random",
                )
            if not values.low < values.high or (values.log and values.low <= 0):
                raise ConfigError(
                    f"search.params.{name}: low must be below high (and above 0 with log: true)",
                    node=spec.name,
                    location=where,
                )
        elif not values:
            raise ConfigError(
                f"search.params.{name} lists no values", node=spec.name, location=where
            )
        else:
            combinations *= len(values)
    if search.method == "grid" and search.budget is not None and combinations > search.budget:
        raise ConfigError(
            f"the search grid has {combinations} combinations, more than its budget of "
            f"{search.budget}",
            node=spec.name,
            location=spec.location("search", "budget"),
            hint=f"raise budget to {combinations}, shorten the lists, or use method: random",
        )
    _check_metric(spec, search.metric, ("search", "metric"))


def check_data(spec: MLSpec, table: pa.Table) -> tuple[FeatureColumn, ...]:
    """Check the training table against ``spec``; return the feature columns, in table order.

    Raises TrainingError for an empty table, a missing, NULL or constant target, a column the
    spec names that the table lacks, and feature columns of a type no model can read.
    """
    columns = table.column_names

    def fail(message: str, *key: str | int, hint: str | None = None) -> TrainingError:
        return TrainingError(message, node=spec.name, location=spec.location(*key), hint=hint)

    if table.num_rows == 0:
        raise fail(
            "the training data has no rows",
            hint="check the training relation and its filters; there is nothing to train on",
        )

    def known(name: str, what: str, *key: str | int) -> None:
        if name not in columns:
            raise fail(
                f"{what} is not in the training data",
                *key,
                hint=did_you_mean(name, columns) or _listing(columns),
            )

    known(spec.target, f"target column '{spec.target}'", "target")
    for key in ("include", "exclude", "categorical", "numeric"):
        for index, name in enumerate(getattr(spec, key) or ()):
            known(name, f"column '{name}' in features.{key}", "features", key, index)
    if spec.split.column is not None:
        known(spec.split.column, f"split column '{spec.split.column}'", "split", "column")

    _check_target(spec, table, fail)
    features = _features(spec, table, fail)
    if spec.split.method == "time":
        column = table.column(spec.split.column)
        if column.null_count:
            raise fail(
                f"time split column '{spec.split.column}' has {column.null_count} NULL values",
                "split",
                "column",
                hint="filter those rows out in the training relation",
            )
        if infer_kind(column.type) != "numeric" and not _is_temporal(column.type):
            raise fail(
                f"time split column '{spec.split.column}' has type {column.type}, which does "
                "not order rows in time",
                "split",
                "column",
                hint="split on a date, timestamp or number column",
            )
    return features


def _check_target(spec: MLSpec, table: pa.Table, fail: Any) -> None:
    import pyarrow.compute as pc

    column = table.column(spec.target)
    if column.null_count:
        raise fail(
            f"target column '{spec.target}' has {column.null_count} NULL values in "
            f"{table.num_rows} rows",
            "target",
            hint=f"filter them out in the training relation (where {spec.target} is not null)",
        )
    try:
        target_values(table, spec.target, spec.task)
    except ValueError as exc:
        raise fail(f"target column '{spec.target}' {exc}", "target") from None
    distinct = pc.count_distinct(column).as_py()
    if distinct < 2:
        raise fail(
            f"target column '{spec.target}' has the same value ({column[0].as_py()!r}) in all "
            f"{table.num_rows} rows; there is nothing to learn",
            "target",
            hint="check how the training relation computes the target",
        )


def _features(spec: MLSpec, table: pa.Table, fail: Any) -> tuple[FeatureColumn, ...]:
    columns = table.column_names
    if spec.target in (spec.include or ()):
        index = (spec.include or ()).index(spec.target)
        raise fail(
            f"the target '{spec.target}' is also listed in features.include",
            "features",
            "include",
            index,
            hint="a model may not read its own target",
        )
    skip = {spec.target, *spec.exclude, *spec.not_features}
    if spec.include is None and spec.split.method != "random":
        skip.add(spec.split.column or "")  # a time or group key is how rows are split, not a cue
    chosen = [c for c in (spec.include or columns) if c not in skip]
    if not chosen:
        raise fail(
            "no feature columns are left to train on",
            "features",
            hint="check features.include and features.exclude",
        )
    features = []
    for name in chosen:
        arrow_type = table.schema.field(name).type
        kind = infer_kind(arrow_type)
        if name in spec.categorical:
            if not can_be_categorical(arrow_type):
                raise fail(
                    f"column '{name}' in features.categorical has type {arrow_type}, which "
                    "cannot be read as categories",
                    "features",
                    "categorical",
                    spec.categorical.index(name),
                    hint="cast it to text in the training relation",
                )
            kind = "categorical"
        elif name in spec.numeric and kind != "numeric":
            raise fail(
                f"column '{name}' in features.numeric has type {arrow_type}, not a number",
                "features",
                "numeric",
                spec.numeric.index(name),
                hint="cast it to a number in the training relation",
            )
        if kind is None:
            raise fail(
                f"feature column '{name}' has type {arrow_type}, which a model cannot read",
                "features",
                hint=f"derive a number or a category from it in SQL, or add '{name}' to "
                "features.exclude",
            )
        if name in RESERVED_NAMES:
            raise fail(
                f"feature column '{name}' has the name of an output of the exported model",
                "features",
                hint=f"rename it in the training relation (not {', '.join(RESERVED_NAMES)})",
            )
        features.append(FeatureColumn(name, kind, str(arrow_type)))
    return tuple(features)


def _is_temporal(arrow_type: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_temporal(arrow_type))


def _listing(columns: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(columns[:limit])
    return f"its columns: {shown}" + (", ..." if len(columns) > limit else "")
