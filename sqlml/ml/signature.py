"""What an exported model reads and what its scores look like as columns.

Read from the ONNX graph alone (the registry keeps nothing else that scoring needs), so batch
scoring, scoring inside SQL and the SQL-compiled model all name their columns the same way:

- a classifier gives ``predicted_class`` (its label, BIGINT or VARCHAR) and one
  ``probability_<class>`` DOUBLE column per class, in the model's class order;
- a regressor gives ``prediction`` (DOUBLE).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlml.errors import ScoringError
from sqlml.ml.features import FeatureColumn

_PASS_THROUGH = {"Identity", "Cast", "Reshape", "Squeeze", "Flatten"}
_NOT_IDENTIFIER = re.compile(r"[^a-z0-9_]+")


@dataclass(frozen=True)
class Signature:
    """An exported model's inputs (one per feature column) and its score columns."""

    inputs: tuple[FeatureColumn, ...]
    task: Literal["classification", "regression"]
    classes: tuple[Any, ...] = ()  # a classifier's labels, in probability-column order
    label_type: Literal["int64", "string"] = "int64"

    @property
    def probability_columns(self) -> tuple[str, ...]:
        """``probability_<class>`` per class; labels that do not make distinct identifiers are
        numbered by position instead (``probability_0``, ...)."""
        names = tuple(
            "probability_" + _NOT_IDENTIFIER.sub("_", str(c).lower()).strip("_")
            for c in self.classes
        )
        if len(set(names)) == len(names) and all(n != "probability_" for n in names):
            return names
        return tuple(f"probability_{i}" for i in range(len(self.classes)))

    @property
    def score_columns(self) -> tuple[tuple[str, str], ...]:
        """The ``(name, SQL type)`` columns the model's scores fill."""
        if self.task == "regression":
            return (("prediction", "DOUBLE"),)
        label = "BIGINT" if self.label_type == "int64" else "VARCHAR"
        probabilities = tuple((name, "DOUBLE") for name in self.probability_columns)
        return (("predicted_class", label), *probabilities)


def read_signature(onnx_bytes: bytes, model: str = "") -> Signature:
    """The signature of an sqlml ONNX export (inputs named as columns, outputs ``label`` and
    ``probabilities``, or ``prediction``). Raises ScoringError for a graph of another shape."""
    import onnx

    proto = onnx.load_from_string(onnx_bytes)
    return graph_signature(proto.graph, model)


def graph_signature(graph: Any, model: str = "") -> Signature:
    """`read_signature` for an already parsed ONNX graph."""
    from onnx import TensorProto

    inputs = []
    for graph_input in graph.input:
        element = graph_input.type.tensor_type.elem_type
        if element not in (TensorProto.DOUBLE, TensorProto.STRING):
            raise _unexpected(model, f"input '{graph_input.name}' is neither double nor string")
        numeric = element == TensorProto.DOUBLE
        inputs.append(
            FeatureColumn(
                graph_input.name,
                "numeric" if numeric else "categorical",
                "double" if numeric else "string",
            )
        )
    outputs = {o.name: o for o in graph.output}
    if "prediction" in outputs:
        return Signature(tuple(inputs), "regression")
    if not {"label", "probabilities"} <= outputs.keys():
        raise _unexpected(model, f"outputs are {', '.join(outputs)}")
    label_type = outputs["label"].type.tensor_type.elem_type
    constants = {i.name: i for i in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    name = "label"
    while name in producers and producers[name].op_type in _PASS_THROUGH:
        name = producers[name].input[0]
    node = producers.get(name)
    labels = _labels(node, constants) if node is not None else None
    if labels is None:
        raise _unexpected(model, "cannot find the class labels behind output 'label'")
    string = label_type == TensorProto.STRING
    return Signature(tuple(inputs), "classification", labels, "string" if string else "int64")


def _labels(node: Any, constants: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The class labels a label-producing node picks from: a constant it gathers from, or the
    ``classlabels_*`` attribute of an ONNX-ML classifier (SVMClassifier, LinearClassifier...)."""
    from onnx import helper, numpy_helper

    if node.op_type in ("Gather", "ArrayFeatureExtractor") and node.input[0] in constants:
        values = numpy_helper.to_array(constants[node.input[0]]).ravel().tolist()
    else:
        found = [
            helper.get_attribute_value(a)
            for a in node.attribute
            if a.name.startswith("classlabels")
        ]
        if not found:
            return None
        values = list(found[0])
    return tuple(v.decode() if isinstance(v, bytes) else v for v in values)


def check_columns(signature: Signature, available: Sequence[str], model: str) -> None:
    """Every input the model reads is among ``available`` columns; a ScoringError naming the
    missing ones otherwise."""
    have = {c.lower() for c in available}
    missing = [f.name for f in signature.inputs if f.name.lower() not in have]
    if missing:
        raise ScoringError(
            f"model '{model}' reads column(s) {', '.join(missing)}, which the scoring input "
            "does not have",
            node=model,
            hint="select those columns (named as in training) in the scoring input",
        )


def _unexpected(model: str, what: str) -> ScoringError:
    return ScoringError(
        f"model '{model}' is not an sqlml ONNX export: {what}",
        node=model or None,
        hint="score models trained and registered by sqlml",
    )
