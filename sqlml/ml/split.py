"""Holding rows out: random (seeded, stratified when classifying), by time, or by group; and the
cross-validation splitter that matches each method."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlml.errors import TrainingError
from sqlml.ml.features import MISSING_CATEGORY
from sqlml.ml.spec import MLSpec

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class SplitRows:
    """Row indices of the training and holdout parts (training rows in time order for a time
    split), and the group of each training row for a group split."""

    train: Any
    holdout: Any
    train_groups: Any = None


def split_rows(spec: MLSpec, table: pa.Table, y: Any) -> SplitRows:
    """Split ``table`` as ``spec.split`` says. Raises TrainingError when a part would be empty."""
    import numpy as np

    n = table.num_rows
    if n < 2:
        raise _fail(spec, f"the training data has {n} row; a split needs at least 2")
    method = spec.split.method
    if method == "time":
        return _by_time(spec, table)
    if method == "group":
        groups = _groups(table, spec.split.column or "")
        from sklearn.model_selection import GroupShuffleSplit

        if len(set(groups.tolist())) < 2:
            raise _fail(spec, f"group column '{spec.split.column}' has a single group")
        splitter = GroupShuffleSplit(
            n_splits=1, test_size=spec.split.test_size, random_state=spec.split.seed
        )
        train, holdout = next(splitter.split(np.arange(n), groups=groups))
        return SplitRows(np.sort(train), np.sort(holdout), groups[np.sort(train)])
    from sklearn.model_selection import train_test_split

    rows = np.arange(n)
    stratify = y if spec.task == "classification" else None
    try:
        train, holdout = train_test_split(
            rows, test_size=spec.split.test_size, random_state=spec.split.seed, stratify=stratify
        )
    except ValueError:  # a class too small to stratify: split without it
        train, holdout = train_test_split(
            rows, test_size=spec.split.test_size, random_state=spec.split.seed
        )
    return SplitRows(np.sort(train), np.sort(holdout))


def _by_time(spec: MLSpec, table: pa.Table) -> SplitRows:
    """The latest ``test_size`` share of rows is held out; rows sharing the cut-off time all go
    to the holdout, so no moment is both trained on and tested."""
    import numpy as np
    import pyarrow.compute as pc

    column = table.column(spec.split.column or "")
    order = pc.sort_indices(column).to_numpy()
    n_holdout = max(1, math.ceil(table.num_rows * spec.split.test_size))
    cutoff = column[int(order[table.num_rows - n_holdout])]
    in_holdout = pc.greater_equal(column, cutoff).to_numpy(zero_copy_only=False)
    train = order[~in_holdout[order]]
    if len(train) == 0:
        raise _fail(
            spec,
            f"the time split leaves no rows to train on: every row is at or after {cutoff}",
            hint="lower split.test_size, or add earlier rows",
        )
    return SplitRows(train, np.sort(order[in_holdout[order]]))


def _groups(table: pa.Table, column: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.fill_null(pc.cast(table.column(column), pa.string()), MISSING_CATEGORY)
    return values.to_numpy(zero_copy_only=False).astype(object)


def cv_splitter(spec: MLSpec, y_train: Any, folds: int) -> Any:
    """The cross-validation splitter matching the holdout split: time-ordered folds for a time
    split, group folds for a group split, (stratified) shuffled folds otherwise."""
    import numpy as np
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, TimeSeriesSplit

    if spec.split.method == "time":
        return TimeSeriesSplit(n_splits=folds)
    if spec.split.method == "group":
        return GroupKFold(n_splits=folds)
    if spec.task == "classification":
        _, counts = np.unique(y_train, return_counts=True)
        if counts.min() >= folds:
            return StratifiedKFold(n_splits=folds, shuffle=True, random_state=spec.split.seed)
    return KFold(n_splits=folds, shuffle=True, random_state=spec.split.seed)


def _fail(spec: MLSpec, message: str, hint: str | None = None) -> TrainingError:
    return TrainingError(message, node=spec.name, location=spec.location("split"), hint=hint)
