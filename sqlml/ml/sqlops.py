"""ONNX operators as SQL: one small function per operator, in a dict keyed by its type.

Each takes the node, its inputs (a `Rows` per-row tensor or a NumPy constant) and the `Scope`,
and returns its outputs. Only what sqlml's exports use is covered: preprocessing (imputation,
scaling; the encoders are in `sqlml.ml.sqlencoders`), linear models and their links, and tree
ensembles.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from sqlml.ml.sqlencoders import array_feature_extractor, label_encoder, lookup, one_hot
from sqlml.ml.sqlgraph import (
    Rows,
    Scope,
    UnsupportedModel,
    attribute,
    call,
    constant_rows,
    kind_of,
    literal,
    sum_of,
    where,
)
from sqlml.ml.sqltrees import tree_ensemble

Value = Any  # Rows | np.ndarray
Op = Callable[[Any, list[Value], Scope], list[Value]]

# ONNX TensorProto element types as `Rows` kinds.
ELEMENT_KINDS = {1: "float", 6: "int64", 7: "int64", 8: "string", 9: "bool", 11: "double"}
# Operators that read each input element more than once: heavy inputs are bound first.
REPEATING = frozenset({"TreeEnsemble", "MatMul", "Gemm", "Softmax", "ArgMax"})


def _rows(value: Value, like: Rows, kind: str | None = None) -> Rows:
    if isinstance(value, Rows):
        return value
    return constant_rows(value, kind or kind_of(value), like.values.shape)


def _elementwise(
    function: Callable[..., Any], kind: str | None = None, nullable: bool | None = None
) -> Op:
    """An n-ary operator applied element by element, NumPy-broadcast, constants as literals."""

    def run(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
        import numpy as np

        first = next(v for v in inputs if isinstance(v, Rows))
        shape = np.broadcast_shapes(
            *(v.values.shape for v in inputs if isinstance(v, Rows)),
            *(_row_shape(v, first) for v in inputs if not isinstance(v, Rows)),
        )
        numeric = kind if kind in ("double", "float", "int64") else first.kind
        operands = [_rows(v, first, numeric if kind_of_const_ok(v) else None) for v in inputs]
        # an operand broadcast over more elements would be repeated in each: compute it once
        operands = [
            scope.bind(o) if isinstance(v, Rows) and o.values.size < math.prod(shape) else o
            for v, o in zip(inputs, operands, strict=True)
        ]
        arrays = np.broadcast_arrays(*(o.values for o in operands))
        out = np.empty(shape, dtype=object)
        for index in np.ndindex(shape):
            out[index] = function(*(a[index] for a in arrays))
        may_be_null = any(o.nullable for o in operands) if nullable is None else nullable
        return [Rows(out, kind or first.kind, may_be_null)]

    return run


def kind_of_const_ok(value: Value) -> bool:
    """Numeric constants take the kind of the per-row operand (an int 0 next to doubles)."""
    return not isinstance(value, Rows) and kind_of(value) in ("int64", "float", "double")


def _row_shape(array: Any, like: Rows) -> tuple[int, ...]:
    shape = tuple(array.shape)
    return shape[1:] if len(shape) == like.values.ndim + 1 else shape


def _binary(kind: type) -> Op:
    return _elementwise(lambda a, b: kind(this=_paren(a), expression=_paren(b)))


def _paren(expression: Any) -> Any:
    from sqlglot import exp

    simple = isinstance(expression, exp.Column | exp.Literal | exp.Func | exp.Case | exp.Cast)
    return expression if simple else exp.Paren(this=expression)


def _is_nan(value: Any) -> Any:
    from sqlglot import exp

    return exp.Is(this=value, expression=exp.Null())


def _cast(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    from sqlglot import exp

    (value,) = inputs
    target = ELEMENT_KINDS.get(attribute(node, "to"))
    if target is None:
        raise UnsupportedModel(f"Cast to ONNX type {attribute(node, 'to')} is not supported")
    source = value.kind
    if source == target or {source, target} == {"int64"}:
        return [value]
    if source == "bool" and target in ("double", "float", "int64"):
        one, zero = literal(1, target), literal(0, target)
        return [value.map(lambda v: where(v, one, zero), target)]
    if target in ("double", "float") and source in ("double", "float", "int64"):
        sql = "double" if target == "double" else "float"
        return [value.map(lambda v: exp.cast(v, exp.DataType.build(sql), copy=False), target)]
    if target == "bool" and source in ("double", "float", "int64"):
        zero = literal(0, source)
        return [value.map(lambda v: exp.NEQ(this=v, expression=zero), target)]
    if target == "string" and source == "int64":
        return [value.map(lambda v: exp.cast(v, exp.DataType.build("varchar"), copy=False), target)]
    if target == "int64" and source in ("double", "float"):
        # ONNX truncates toward zero where SQL casts round: truncate first.
        return [
            value.map(
                lambda v: exp.cast(call("trunc", v), exp.DataType.build("bigint"), copy=False),
                target,
            )
        ]
    raise UnsupportedModel(f"Cast from {source} to {target} is not supported")


def _concat(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    import numpy as np

    first = next(v for v in inputs if isinstance(v, Rows))
    axis = attribute(node, "axis")
    axis = axis + first.values.ndim + 1 if axis < 0 else axis
    if axis == 0:
        raise UnsupportedModel("Concat along the rows is not supported")
    parts = [_rows(v, first, first.kind if kind_of_const_ok(v) else None) for v in inputs]
    kinds = {p.kind for p in parts}
    kind = (
        first.kind
        if len(kinds) == 1
        else ("double" if kinds <= {"double", "float", "int64"} else "")
    )
    if not kind:
        raise UnsupportedModel(f"Concat of {', '.join(sorted(kinds))} is not supported")
    values = np.concatenate([p.values for p in parts], axis=axis - 1)
    return [Rows(values, kind, any(p.nullable for p in parts))]


def _reshape(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    value, shape = inputs
    shape = [int(s) for s in shape]
    if not shape or shape[0] not in (-1, 0) or -1 in shape[1:]:
        raise UnsupportedModel(f"Reshape to {shape} is not supported")
    return [Rows(value.values.reshape(shape[1:]), value.kind, value.nullable)]


def _squeeze_flatten(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    value = inputs[0]
    shape = [-1] if node.op_type == "Flatten" else [s for s in value.values.shape if s != 1]
    return [Rows(value.values.reshape(shape), value.kind, value.nullable)]


def _gather(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    import numpy as np

    data, index = inputs
    axis = int(attribute(node, "axis", 0))
    if isinstance(data, Rows) and not isinstance(index, Rows):
        if axis == 0:
            raise UnsupportedModel("Gather along the rows is not supported")
        axis = axis if axis > 0 else axis + data.values.ndim + 1
        taken = np.take(data.values, np.asarray(index), axis=axis - 1)
        return [Rows(taken, data.kind, data.nullable)]
    if not isinstance(data, Rows) and isinstance(index, Rows) and np.asarray(data).ndim == 1:
        return [lookup(np.asarray(data), index)]
    raise UnsupportedModel("Gather with these operands is not supported")


def _matmul(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    return [_linear(inputs[0], inputs[1])]


def _gemm(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    import numpy as np

    if attribute(node, "transA", 0):
        raise UnsupportedModel("Gemm with transA is not supported")
    weights = np.asarray(inputs[1]) * float(attribute(node, "alpha", 1.0))
    if attribute(node, "transB", 0):
        weights = weights.T
    out = _linear(inputs[0], weights)
    if len(inputs) > 2:
        bias = np.asarray(inputs[2]) * float(attribute(node, "beta", 1.0))
        out = _elementwise(_add)(node, [out, bias], scope)[0]
    return [out]


def _linear(value: Value, weights: Any) -> Rows:
    """Per-row vector times a constant matrix: a sum of products, zero weights left out."""
    import numpy as np

    if not isinstance(value, Rows) or isinstance(weights, Rows) or value.values.ndim != 1:
        raise UnsupportedModel("MatMul is supported for a row vector times a constant matrix")
    weights = np.asarray(weights, dtype=np.float64)
    weights = weights.reshape(-1, 1) if weights.ndim == 1 else weights
    out = np.empty(weights.shape[1], dtype=object)
    for j in range(weights.shape[1]):
        terms = [
            _mul(x, literal(float(w), "double"))
            for x, w in zip(value.values, weights[:, j], strict=True)
            if w != 0
        ]
        out[j] = sum_of(terms)
    return Rows(out, "double", value.nullable)


def _add(a: Any, b: Any) -> Any:
    from sqlglot import exp

    return exp.Add(this=a, expression=b)


def _mul(a: Any, b: Any) -> Any:
    from sqlglot import exp

    return exp.Mul(this=_paren(a), expression=_paren(b))


def _unary(name: str) -> Op:
    def run(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:

        return [inputs[0].map(lambda v: call(name, v), inputs[0].kind)]

    return run


def _sigmoid(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    from sqlglot import exp

    one = literal(1.0, "double")

    def sigmoid(v: Any) -> Any:
        denominator = exp.Add(this=one, expression=call("exp", exp.Neg(this=_paren(v))))
        return exp.Div(this=one, expression=exp.Paren(this=denominator))

    return [inputs[0].map(sigmoid, "double")]


def _relu(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    zero = literal(0.0, "double")
    return [inputs[0].map(lambda v: call("greatest", v, zero), inputs[0].kind)]


def _softmax(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    import numpy as np
    from sqlglot import exp

    value = inputs[0]
    axis = int(attribute(node, "axis", -1))
    if value.values.ndim != 1 or axis not in (1, -1):
        raise UnsupportedModel("Softmax is supported over the columns of a row")
    values = list(value.values)
    largest = call("greatest", *values) if len(values) > 1 else values[0]
    shifted = scope.bind(
        Rows(
            np.array(
                [call("exp", exp.Sub(this=v, expression=largest)) for v in values], dtype=object
            ),
            "double",
        )
    )
    total = scope.bind(Rows(np.array([sum_of(list(shifted.values))], dtype=object), "double"))
    return [shifted.map(lambda v: exp.Div(this=v, expression=total.values[0]), "double")]


def _argmax(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    import numpy as np
    from sqlglot import exp

    value = inputs[0]
    if value.values.ndim != 1 or int(attribute(node, "axis", 0)) not in (1, -1):
        raise UnsupportedModel("ArgMax is supported over the columns of a row")
    if attribute(node, "select_last_index", 0):
        raise UnsupportedModel("ArgMax with select_last_index is not supported")
    values = list(value.values)
    ifs = []
    for i, v in enumerate(values[:-1]):
        tests = [exp.GTE(this=v, expression=w) for w in values[i + 1 :]]
        test: Any = tests[0]
        for more in tests[1:]:
            test = exp.And(this=test, expression=more)
        ifs.append(exp.If(this=test, true=literal(i, "int64")))
    case = (
        exp.Case(ifs=ifs, default=literal(len(values) - 1, "int64")) if ifs else literal(0, "int64")
    )
    shape = (1,) if attribute(node, "keepdims", 1) else ()
    return [Rows(np.full(shape, case, dtype=object), "int64", value.nullable)]


def _reduce_sum(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    import numpy as np

    value = inputs[0]
    axes = inputs[1] if len(inputs) > 1 else attribute(node, "axes")
    if value.values.ndim != 1 or [int(a) for a in np.atleast_1d(axes)] not in ([1], [-1]):
        raise UnsupportedModel("ReduceSum is supported over the columns of a row")
    total = sum_of(list(value.values))
    shape = (1,) if attribute(node, "keepdims", 1) else ()
    return [Rows(np.full(shape, total, dtype=object), value.kind, value.nullable)]


def _scaler(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    import numpy as np

    value = inputs[0]
    offset = np.asarray(attribute(node, "offset", [0.0]), dtype=np.float64)
    scale = np.asarray(attribute(node, "scale", [1.0]), dtype=np.float64)
    shifted = _elementwise(lambda a, b: _sub(a, b), "double")(node, [value, offset], scope)[0]
    return _elementwise(_mul, "double")(node, [shifted, scale], scope)


def _sub(a: Any, b: Any) -> Any:
    from sqlglot import exp

    return exp.Sub(this=_paren(a), expression=_paren(b))


def _identity(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    return [inputs[0]]


def _tree_ensemble(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    return [tree_ensemble(node, inputs[0], attribute)]


@functools.cache
def _ops() -> dict[str, Op]:
    from sqlglot import exp

    return {
        "Identity": _identity,
        "Cast": _cast,
        "Concat": _concat,
        "Reshape": _reshape,
        "Squeeze": _squeeze_flatten,
        "Flatten": _squeeze_flatten,
        "Gather": _gather,
        "ArrayFeatureExtractor": array_feature_extractor,
        "LabelEncoder": label_encoder,
        "OneHotEncoder": one_hot,
        "IsNaN": _elementwise(_is_nan, "bool", nullable=False),
        "Where": _elementwise_where,
        "Add": _binary(exp.Add),
        "Sub": _binary(exp.Sub),
        "Mul": _binary(exp.Mul),
        "Div": _binary(exp.Div),
        "MatMul": _matmul,
        "Gemm": _gemm,
        "Abs": _unary("abs"),
        "Exp": _unary("exp"),
        "Log": _unary("ln"),
        "Sigmoid": _sigmoid,
        "Relu": _relu,
        "Softmax": _softmax,
        "ArgMax": _argmax,
        "ReduceSum": _reduce_sum,
        "Scaler": _scaler,
        "TreeEnsemble": _tree_ensemble,
    }


def _elementwise_where(node: Any, inputs: list[Value], scope: Scope) -> list[Value]:
    from sqlglot import exp

    condition, yes, no = inputs
    kind = next((v.kind for v in (yes, no) if isinstance(v, Rows)), None) or kind_of(yes)
    # Where(x IS NULL, fill, x), an imputer: NULL-free when the fill is
    imputes = (
        isinstance(condition, Rows)
        and isinstance(no, Rows)
        and condition.values.shape == no.values.shape
        and all(
            isinstance(c, exp.Is) and c.this is x
            for c, x in zip(condition.values.ravel(), no.values.ravel(), strict=True)
        )
    )
    nullable = (isinstance(yes, Rows) and yes.nullable) if imputes else None
    return _elementwise(where, kind, nullable)(node, [condition, yes, no], scope)


def operator(op_type: str) -> Op:
    """The SQL translation of an ONNX operator; UnsupportedModel when there is none."""
    found = _ops().get(op_type)
    if found is None:
        raise UnsupportedModel(
            f"the SQL compiler does not translate ONNX operator {op_type}",
            hint="linear models, logistic regression and tree ensembles (with sqlml's "
            "preprocessing) compile to SQL; score other models with onnxruntime",
        )
    return found
