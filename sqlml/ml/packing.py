"""Packed inputs: a model's numeric columns handed to onnxruntime as one [N, k] matrix.

sqlml's exports take one [N, 1] input per column, and their first step concatenates the numeric
ones into the [N, k] matrix the estimator reads (scikit-learn's ColumnTransformer). onnxruntime
runs such a ``Concat`` by copying each row's single value of each input: for a logistic
regression on 20 columns that one node took about 40% of the model's time, as much as the rest
of the graph together. Stacking the columns in NumPy is no cheaper.

The warehouse can build that matrix instead, inside the query that is read anyway:
``[c1, ..., ck]::DOUBLE[k]`` is an array column, and its Arrow form (a fixed-size list)
holds the rows' values one after the other: the row-major matrix itself, read without a copy.
So when a model's graph starts with such a ``Concat``, scoring runs it on a copy of the graph
without it, whose input is the ``Concat``'s output (`packed_model`), and asks the warehouse for
the packed column (`packed_sql`). The model in the registry, its checksum and its inputs stay
as they are; the rewritten graph computes the same thing from the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

PACKED_COLUMN = "__sqlml_packed"
_DOUBLE = 11  # onnx.TensorProto.DOUBLE


@dataclass(frozen=True)
class Packing:
    """Which input columns go into the matrix, in its column order, and the graph's name for it."""

    columns: tuple[str, ...]
    tensor: str


def packed_model(onnx_bytes: bytes) -> tuple[bytes, Packing] | None:
    """The model with its first ``Concat`` of numeric inputs replaced by one matrix input, and
    how to fill it; None when the graph has no such ``Concat`` (it is then run as it is).

    A ``Concat`` qualifies when it joins, along axis 1, two or more double [N, 1] graph inputs
    that nothing else reads.
    """
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    inputs = {i.name: i for i in graph.input}
    readers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    outputs = {o.name for o in graph.output}
    for node in graph.node:
        if node.op_type != "Concat" or not _axis_one(node):
            continue
        names = list(node.input)
        if (
            len(names) < 2
            or len(set(names)) != len(names)
            or not all(_column_input(inputs.get(n)) for n in names)
            or any(readers.get(n, 0) != 1 or n in outputs for n in names)
        ):
            continue
        packing = Packing(tuple(names), node.output[0])
        graph.node.remove(node)
        kept = [i for i in graph.input if i.name not in set(names)]
        del graph.input[:]
        graph.input.extend(kept)
        graph.input.append(
            onnx.helper.make_tensor_value_info(packing.tensor, _DOUBLE, [None, len(names)])
        )
        return model.SerializeToString(), packing
    return None


def packed_sql(packing: Packing, types: Mapping[str, pa.DataType]) -> str | None:
    """The select item that builds the matrix column from the input's columns (NULL as NaN,
    like `sqlml.ml.features.prepare_features`); None when one of them is not numeric in the
    input (text to be read as a number is converted, with its errors, the usual way)."""
    from sqlml.ml.features import infer_kind

    lowered = {name.lower(): kind for name, kind in types.items()}
    if any(c.lower() not in lowered or infer_kind(lowered[c.lower()]) != "numeric"
           for c in packing.columns):  # fmt: skip
        return None
    items = ", ".join(f"coalesce(cast({_q(c)} as double), 'nan'::double)" for c in packing.columns)
    # a list cast to an array: DuckDB 2.0 builds it about 6x faster than array_value(...)
    return f"[{items}]::double[{len(packing.columns)}] as {PACKED_COLUMN}"


def packed_feed(table: pa.Table, packing: Packing) -> dict[str, Any]:
    """The matrix input of a batch holding the packed column: its values as [N, k], no copy."""
    column = table.column(PACKED_COLUMN).combine_chunks()
    values = column.flatten().to_numpy(zero_copy_only=False)
    return {packing.tensor: values.reshape(-1, len(packing.columns))}


def unpacked(columns: Sequence[str], packing: Packing | None) -> list[str]:
    """``columns`` without those the matrix holds."""
    if packing is None:
        return list(columns)
    packed = set(packing.columns)
    return [c for c in columns if c not in packed]


def _axis_one(node: Any) -> bool:
    axis = next((a.i for a in node.attribute if a.name == "axis"), None)
    return axis in (1, -1)


def _column_input(value: Any) -> bool:
    if value is None or value.type.tensor_type.elem_type != _DOUBLE:
        return False
    dims = value.type.tensor_type.shape.dim
    return len(dims) == 2 and dims[1].HasField("dim_value") and dims[1].dim_value == 1


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
