"""Feature columns: their kind, inferred from Arrow types, and their values as models take them.

Training, the ONNX parity check and scoring all convert columns with the functions here, so a
column means the same thing everywhere: numbers become float64 with NaN for NULL, categories
become strings with ``MISSING_CATEGORY`` for NULL (ONNX has no missing string).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pyarrow as pa

Kind = Literal["numeric", "categorical"]

MISSING_CATEGORY = ""  # a NULL category as the pipeline and the ONNX model see it


@dataclass(frozen=True)
class FeatureColumn:
    """A column the model reads: its name, how it is treated, and its type in the training data.

    The ONNX model has one input of this name: ``double`` [N, 1] for numeric columns, ``string``
    [N, 1] for categorical ones.
    """

    name: str
    kind: Kind
    arrow_type: str

    @property
    def onnx_type(self) -> Literal["double", "string"]:
        return "double" if self.kind == "numeric" else "string"


def infer_kind(arrow_type: pa.DataType) -> Kind | None:
    """Numeric for integers, floats and decimals; categorical for strings, booleans and
    dictionaries; None for types a model cannot read directly (dates, lists, ...)."""
    import pyarrow as pa

    t = pa.types
    if t.is_integer(arrow_type) or t.is_floating(arrow_type) or t.is_decimal(arrow_type):
        return "numeric"
    if (
        t.is_string(arrow_type)
        or t.is_large_string(arrow_type)
        or t.is_string_view(arrow_type)
        or t.is_boolean(arrow_type)
        or t.is_dictionary(arrow_type)
    ):
        return "categorical"
    return None


def can_be_categorical(arrow_type: pa.DataType) -> bool:
    """Whether a column may be declared categorical: numbers, text, booleans and dates, which
    all cast to text cleanly."""
    import pyarrow as pa

    return infer_kind(arrow_type) is not None or bool(pa.types.is_temporal(arrow_type))


def prepare_features(table: pa.Table, features: Sequence[FeatureColumn]) -> pa.Table:
    """The feature columns of ``table`` as the pipeline takes them, in ``features`` order.

    Numeric columns become float64 (NULL as NaN); categorical ones become strings (NULL as
    ``MISSING_CATEGORY``; booleans as ``true``/``false``). Whole columns are cast at once.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for feature in features:
        column = table.column(feature.name)
        if feature.kind == "numeric":
            column = pc.fill_null(pc.cast(column, pa.float64(), safe=False), float("nan"))
        else:
            column = pc.fill_null(pc.cast(column, pa.string()), MISSING_CATEGORY)
        columns.append(column)
    return pa.table(columns, names=[f.name for f in features])


def onnx_inputs(prepared: pa.Table) -> dict[str, Any]:
    """A prepared table as ONNX inputs: one [N, 1] NumPy array per column, converted per column."""
    import numpy as np

    feed: dict[str, Any] = {}
    for name, column in zip(prepared.column_names, prepared.columns, strict=True):
        values = column.to_numpy(zero_copy_only=False)
        if values.dtype != np.float64:
            values = values.astype(object)
        feed[name] = values.reshape(-1, 1)
    return feed


def target_values(table: pa.Table, target: str, task: str) -> Any:
    """The target column as a NumPy array: float64 for regression; for classification int64
    (booleans as 0/1, whole floats as integers) or strings.

    Raises ValueError with a reason when the column cannot serve as a target for ``task``.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table.column(target)
    kind = infer_kind(column.type)
    if task == "regression":
        if kind != "numeric":
            raise ValueError(f"has type {column.type}; regression needs a numeric target")
        return pc.cast(column, pa.float64(), safe=False).to_numpy()
    if pa.types.is_boolean(column.type) or pa.types.is_integer(column.type):
        return pc.cast(column, pa.int64()).to_numpy()
    if pa.types.is_floating(column.type) or pa.types.is_decimal(column.type):
        values = pc.cast(column, pa.float64(), safe=False).to_numpy()
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            raise ValueError(
                f"has fractional values (type {column.type}); classification needs labels"
            )
        return values.astype(np.int64)
    if kind == "categorical":
        return pc.cast(column, pa.string()).to_numpy(zero_copy_only=False).astype(object)
    raise ValueError(f"has type {column.type}; classification needs labels")
