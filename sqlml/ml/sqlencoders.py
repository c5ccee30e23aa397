"""ONNX encoders as SQL: ordinal and label encoding as ``CASE x WHEN ... END``, one-hot
encoding as one ``CASE WHEN x = category`` per category, and position lookups.

Part of the operator table in `sqlml.ml.sqlops`; same signature as every operator there.
"""

from __future__ import annotations

from typing import Any

from sqlml.ml.sqlgraph import Rows, Scope, UnsupportedModel, attribute, kind_of, literal, where

Value = Any  # Rows | np.ndarray


def array_feature_extractor(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    import numpy as np

    data, index = inputs
    if isinstance(data, Rows) and not isinstance(index, Rows):
        taken = np.take(data.values, np.asarray(index).ravel(), axis=-1)
        return [Rows(taken, data.kind, data.nullable)]
    if not isinstance(data, Rows) and isinstance(index, Rows):
        return [lookup(np.asarray(data).ravel(), index)]
    raise UnsupportedModel("ArrayFeatureExtractor with these operands is not supported")


def lookup(table: Any, index: Rows) -> Rows:
    """``table[index]`` per row: a CASE over the positions."""
    import numpy as np
    from sqlglot import exp

    kind = kind_of(table)
    if kind == "int64" and np.array_equal(table, np.arange(len(table))):
        return index  # labels 0, 1, ...: the position is the label

    def case(value: Any) -> Any:
        ifs = [
            exp.If(this=literal(i, "int64"), true=literal(t, kind))
            for i, t in enumerate(table.tolist())
        ]
        return exp.Case(this=value, ifs=ifs)

    return index.map(case, kind)


def label_encoder(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    from sqlglot import exp

    (value,) = inputs
    keys, key_kind = _encoder_values(node, "keys")
    values, value_kind = _encoder_values(node, "values")
    default = next(
        (
            attribute(node, f"default_{k}")
            for k in ("string", "int64", "float")
            if attribute(node, f"default_{k}") is not None and k[0] == value_kind[0]
        ),
        None,
    )
    fallback = literal(default, value_kind) if default is not None else None
    if value_kind == "string" and fallback is None:
        fallback = literal("_Unused", "string")
    if value_kind == "int64" and fallback is None:
        fallback = literal(-1, "int64")

    def case(expression: Any) -> Any:
        ifs = [
            exp.If(this=literal(k, key_kind), true=literal(v, value_kind))
            for k, v in zip(keys, values, strict=True)
        ]
        return exp.Case(this=expression, ifs=ifs, default=fallback)

    return [value.map(case, "double" if value_kind == "float" else value_kind, nullable=False)]


def _encoder_values(node: Any, prefix: str) -> tuple[list[Any], str]:
    for suffix, kind in (("strings", "string"), ("int64s", "int64"), ("floats", "float")):
        found = attribute(node, f"{prefix}_{suffix}")
        if found is not None and len(found):
            return [v.decode() if isinstance(v, bytes) else v for v in found], kind
    tensor = attribute(node, f"{prefix}_tensor")
    if tensor is not None:
        return tensor.ravel().tolist(), kind_of(tensor)
    return [], "string"


def one_hot(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    import numpy as np
    from sqlglot import exp

    (value,) = inputs
    categories, kind = _categories(node)
    one, zero = literal(1.0, "double"), literal(0.0, "double")
    out = np.empty((*value.values.shape, len(categories)), dtype=object)
    for index, expression in np.ndenumerate(value.values):
        for k, category in enumerate(categories):
            test = exp.EQ(this=expression, expression=literal(category, kind))
            out[(*index, k)] = where(test, one, zero)
    return [Rows(out, "double", nullable=False)]


def _categories(node: Any) -> tuple[list[Any], str]:
    strings = attribute(node, "cats_strings")
    if strings is not None and len(strings):
        return [s.decode() if isinstance(s, bytes) else s for s in strings], "string"
    return [int(v) for v in attribute(node, "cats_int64s", [])], "int64"
