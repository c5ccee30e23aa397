"""Symbolic values for compiling an ONNX graph to SQL: a tensor whose first dimension is the
table's rows, held as a NumPy object array of sqlglot expressions (one per column), and the
scope that turns heavy expressions into named columns of an inner query.

An ONNX tensor of shape [N, 3] becomes a `Rows` of shape (3,): three SQL expressions, each
evaluated per row. Constants stay NumPy arrays and are folded before they reach SQL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlml.errors import ScoringError

if TYPE_CHECKING:
    import numpy as np
    from sqlglot import exp

BOUND_PREFIX = "__sqlml_"


class UnsupportedModel(ScoringError):
    """The model uses an ONNX operator or attribute the SQL compiler does not translate."""


@dataclass
class Rows:
    """A per-row tensor: ``values`` holds one SQL expression per element of a row, ``kind`` is
    the element type (``double``, ``float``, ``int64``, ``string`` or ``bool``)."""

    values: np.ndarray
    kind: str
    nullable: bool = True  # False once imputation has replaced every NULL

    def map(
        self,
        function: Callable[[exp.Expression], exp.Expression],
        kind: str,
        nullable: bool | None = None,
    ) -> Rows:
        import numpy as np

        out = np.empty(self.values.shape, dtype=object)
        for index, value in np.ndenumerate(self.values):
            out[index] = function(value)
        return Rows(out, kind, self.nullable if nullable is None else nullable)


def number(value: float | int) -> exp.Expression:
    """A numeric literal that every engine reads as a double (``0.5e0``, not DECIMAL 0.5)."""
    from sqlglot import exp

    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value) if value >= 0 else exp.Neg(this=exp.Literal.number(-value))
    if math.isnan(value) or math.isinf(value):
        text = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return exp.cast(exp.Literal.string(text), exp.DataType.build("double"), copy=False)
    text = repr(abs(float(value)))
    if "e" not in text:
        text += "e0"
    literal = exp.Literal.number(text)
    return (
        exp.Neg(this=literal)
        if value < 0 or (value == 0 and math.copysign(1, value) < 0)
        else literal
    )


def call(name: str, *args: exp.Expression) -> Any:
    """A SQL function call, as sqlglot's function class of that name when it has one."""
    from sqlglot import exp

    return exp.func(name, *args, copy=False)


def attribute(node: Any, name: str, default: Any = None) -> Any:
    """An ONNX node's attribute ``name`` as a Python value (tensors as NumPy arrays)."""
    from onnx import helper, numpy_helper

    for attr in node.attribute:
        if attr.name == name:
            value = helper.get_attribute_value(attr)
            return numpy_helper.to_array(value) if hasattr(value, "dims") else value
    return default


def where(condition: Any, yes: Any, no: Any) -> Any:
    """``CASE WHEN condition THEN yes ELSE no END``."""
    from sqlglot import exp

    return exp.Case(ifs=[exp.If(this=condition, true=yes)], default=no)


def literal(value: Any, kind: str) -> exp.Expression:
    """A constant as SQL of element type ``kind``."""
    from sqlglot import exp

    if kind == "string":
        text = value.decode() if isinstance(value, bytes) else str(value)
        return exp.Literal.string(text)
    if kind == "bool":
        return exp.Boolean(this=bool(value))
    if kind == "int64":
        return number(int(value))
    return number(float(value))


def constant_rows(array: np.ndarray, kind: str, shape: tuple[int, ...]) -> Rows:
    """A constant broadcast to a per-row tensor of row shape ``shape`` (its leading dimension,
    if it has one more than ``shape``, must be 1: the rows')."""
    import numpy as np

    array = np.asarray(array)
    if array.ndim == len(shape) + 1:
        if array.shape[0] != 1:
            raise UnsupportedModel(f"a constant of shape {array.shape} per row is not supported")
        array = array[0]
    array = np.broadcast_to(array, np.broadcast_shapes(array.shape, shape))
    out = np.empty(array.shape, dtype=object)
    for index, value in np.ndenumerate(array):
        out[index] = literal(value.item() if hasattr(value, "item") else value, kind)
    return Rows(out, kind, nullable=False)


def kind_of(array: np.ndarray) -> str:
    """The element type of a NumPy constant."""
    kind = array.dtype.kind
    if kind == "b":
        return "bool"
    if kind in "iu":
        return "int64"
    if kind in "OUS":
        return "string"
    return "float" if array.dtype.itemsize == 4 else "double"


def sum_of(terms: Sequence[Any]) -> Any:
    """``a + b + ...`` as a balanced tree, so thousands of terms do not nest thousands deep."""
    if not terms:
        return literal(0.0, "double")
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    from sqlglot import exp

    return exp.Add(this=sum_of(terms[:middle]), expression=sum_of(terms[middle:]))


def is_simple(expression: exp.Expression) -> bool:
    """A column, a literal or a negated literal: repeating it costs nothing."""
    from sqlglot import exp

    if isinstance(expression, exp.Neg):
        expression = expression.this
    return isinstance(expression, exp.Column | exp.Literal | exp.Boolean | exp.Null)


@dataclass
class Scope:
    """Named intermediate columns: `bind` moves heavy expressions into an inner query, so a
    value used many times (a preprocessed feature read by every tree, a raw score read by a
    softmax) is computed once per row."""

    bindings: dict[str, exp.Expression] = field(default_factory=dict)

    def bind(self, rows: Rows) -> Rows:
        from sqlglot import exp

        def name(expression: exp.Expression) -> exp.Expression:
            if is_simple(expression):
                return expression
            column = f"{BOUND_PREFIX}{len(self.bindings)}"
            self.bindings[column] = expression
            return exp.column(column, quoted=True)

        return rows.map(name, rows.kind)

    def layers(self) -> list[list[str]]:
        """Bound names grouped by depth: a name's expression reads only earlier layers."""
        from sqlglot import exp

        depth: dict[str, int] = {}
        for name, expression in self.bindings.items():
            reads = [c.name for c in expression.find_all(exp.Column) if c.name in depth]
            depth[name] = 1 + max((depth[r] for r in reads), default=0)
        grouped: dict[int, list[str]] = {}
        for name, level in depth.items():
            grouped.setdefault(level, []).append(name)
        return [grouped[level] for level in sorted(grouped)]
