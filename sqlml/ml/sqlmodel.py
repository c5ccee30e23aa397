"""Models as plain SQL: an sqlml ONNX export compiled into one SELECT built with sqlglot.

The compiler walks the ONNX graph once, holding each tensor as SQL expressions per row
(`sqlml.ml.sqlgraph`) and translating each operator (`sqlml.ml.sqlops`, `sqlencoders`, `sqltrees`);
constant parts of the graph are folded with ONNX's reference evaluator. Values used many times
(preprocessed features read by every tree, raw scores read by a softmax) become columns of
inner queries, so the SQL stays linear in the model's size and each is computed once per row.

Inputs are read as the scorer reads them: numeric columns cast to DOUBLE (NULL is missing and
imputed as in training), categorical columns cast to text with NULL as the missing category.
Outputs are named as in scores tables (`sqlml.ml.signature`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlml.ml.features import MISSING_CATEGORY
from sqlml.ml.signature import Signature, graph_signature
from sqlml.ml.sqlgraph import Rows, Scope, UnsupportedModel, call
from sqlml.ml.sqlops import ELEMENT_KINDS, REPEATING, operator

if TYPE_CHECKING:
    from sqlglot import exp


@dataclass(frozen=True)
class SqlModel:
    """A model as SQL: intermediate columns by layer, and one expression per score column."""

    signature: Signature
    bindings: Mapping[str, exp.Expression]
    layers: tuple[tuple[str, ...], ...]
    outputs: tuple[tuple[str, exp.Expression], ...]

    def select(self, source: str, keep: Sequence[str] = ()) -> exp.Select:
        """A SELECT of the ``keep`` columns and the scores of every row of ``source`` (a
        relation name such as ``main.customers``, or a parenthesised query)."""
        from sqlglot import exp, parse_one

        text = source.strip()
        current: exp.Expression
        if text.startswith("("):
            query: Any = parse_one(text[1:-1])
            current = query.subquery("__sqlml_input", copy=False)
        else:
            current = exp.to_table(text)
        for depth, layer in enumerate(self.layers):
            columns = [exp.alias_(self.bindings[n], n, quoted=True, copy=False) for n in layer]
            inner = exp.Select().select(exp.Star(), *columns, copy=False)
            inner = inner.from_(current, copy=False)
            current = inner.subquery(f"__sqlml_layer{depth}", copy=False)
        kept = [exp.column(k, quoted=True) for k in keep]
        scores = [exp.alias_(e, name, quoted=True, copy=False) for name, e in self.outputs]
        return exp.Select().select(*kept, *scores, copy=False).from_(current, copy=False)

    def sql(
        self, source: str, keep: Sequence[str] = (), dialect: str = "duckdb", pretty: bool = False
    ) -> str:
        """`select` as text in ``dialect`` (any dialect sqlglot writes)."""
        return self.select(source, keep).sql(dialect=dialect, pretty=pretty)


def compile_model(onnx_bytes: bytes, model: str = "") -> SqlModel:
    """Compile an sqlml ONNX export into SQL.

    Raises UnsupportedModel (a ScoringError) naming the operator for models outside what the
    compiler translates: linear and logistic models, tree ensembles (random forests, gradient
    boosting, decision trees) and sqlml's preprocessing.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_from_string(onnx_bytes).graph
    signature = graph_signature(graph, model)
    scope = Scope()
    values: dict[str, Any] = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for feature in signature.inputs:
        values[feature.name] = _input(feature.name, feature.kind)
    uses = {output.name: 1 for output in graph.output}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    bound: dict[str, Rows] = {}
    try:
        for node in graph.node:
            inputs = [values[name] if name else None for name in node.input]
            if not any(isinstance(v, Rows) for v in inputs):
                outputs = _fold(node, inputs)
            else:
                for i, name in enumerate(node.input):
                    value = inputs[i]
                    if isinstance(value, Rows) and (uses[name] > 1 or node.op_type in REPEATING):
                        if name not in bound:
                            bound[name] = scope.bind(value)
                        inputs[i] = bound[name]
                outputs = operator(node.op_type)(node, inputs, scope)
            values.update(zip(node.output, outputs, strict=False))
    except UnsupportedModel as exc:
        exc.node = exc.node or model or None
        raise
    layers = tuple(tuple(layer) for layer in scope.layers())
    final: dict[str, Any] = {
        name: bound.get(name, values[name])
        for name in ("label", "probabilities", "prediction")
        if name in values
    }
    return SqlModel(signature, dict(scope.bindings), layers, _outputs(signature, final))


def _input(name: str, kind: str) -> Rows:
    import numpy as np
    from sqlglot import exp

    column = exp.column(name, quoted=True)
    if kind == "numeric":
        value: exp.Expression = exp.cast(column, exp.DataType.build("double"), copy=False)
        return Rows(np.array([value], dtype=object), "double")
    text = exp.cast(column, exp.DataType.build("varchar"), copy=False)
    value = call("coalesce", text, exp.Literal.string(MISSING_CATEGORY))
    return Rows(np.array([value], dtype=object), "string", nullable=False)


def _fold(node: Any, inputs: list[Any]) -> list[Any]:
    """Run a node whose inputs are all constants with ONNX's reference evaluator."""
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    if node.op_type == "Constant":
        return [numpy_helper.to_array(node.attribute[0].t)]
    feeds = {name: value for name, value in zip(node.input, inputs, strict=True) if name}
    return list(ReferenceEvaluator(node).run(None, feeds))


def _outputs(signature: Signature, values: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    from sqlglot import exp

    def cast(expression: Any, sql_type: str) -> Any:
        return exp.cast(expression, exp.DataType.build(sql_type), copy=False)

    if signature.task == "regression":
        (prediction,) = values["prediction"].values.ravel()
        return (("prediction", cast(prediction, "double")),)
    (label,) = values["label"].values.ravel()
    label_type = "bigint" if signature.label_type == "int64" else "varchar"
    probabilities = values["probabilities"].values.ravel()
    columns = [("predicted_class", cast(label, label_type))]
    for name, expression in zip(signature.probability_columns, probabilities, strict=True):
        columns.append((name, cast(expression, "double")))
    return tuple(columns)


__all__ = ["ELEMENT_KINDS", "SqlModel", "UnsupportedModel", "compile_model"]
