"""A served model's column contract, read from its ONNX graph, and JSON rows checked against it.

sqlml exports one ONNX input per feature column (``double`` or ``string``, shape [N, 1]) and
plain outputs: ``label`` and ``probabilities`` for a classifier, ``prediction`` for a
regressor. The contract is exactly that, so what the endpoint accepts is what the model reads.

JSON values are converted as training converts warehouse columns (`sqlml.ml.features`): a
numeric column takes numbers, NULL as NaN; a categorical column takes strings, integers and
booleans (``true``/``false``, as booleans are cast to text), NULL as the missing category.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlml.ml.features import MISSING_CATEGORY

OnnxType = Literal["double", "string"]
_SHOWN = 5  # columns or values named in one message
_PICKS = ("Gather", "ArrayFeatureExtractor")  # operators that pick the label from a list
# JSON values taken as they are (bool is not an int here: it is refused for numeric inputs).
_PLAIN: dict[str, tuple[type, ...]] = {"double": (float, int), "string": (str,)}


class RequestError(Exception):
    """A request the endpoint refuses: an HTTP status, a stable code, a message and a hint."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint

    def document(self) -> dict[str, Any]:
        """The JSON body sent back: ``{"error": {"code", "message", "hint"}}``."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            error["hint"] = self.hint
        return {"error": error}


@dataclass(frozen=True)
class InputColumn:
    name: str
    type: OnnxType


@dataclass(frozen=True)
class Contract:
    """What a model reads and returns.

    ``classes`` are the class labels in the order of the ``probabilities`` columns, when the
    graph names them (every classifier sqlml exports through its tree or linear converters).
    """

    inputs: tuple[InputColumn, ...]
    task: Literal["classification", "regression"]
    classes: tuple[Any, ...] | None = None

    def describe(self) -> list[dict[str, str]]:
        return [{"name": c.name, "type": c.type} for c in self.inputs]


def read_contract(onnx_bytes: bytes) -> Contract:
    """The contract of an ONNX model exported by sqlml.

    Raises ValueError when the graph does not have sqlml's input and output shape.
    """
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    types = {onnx.TensorProto.DOUBLE: "double", onnx.TensorProto.STRING: "string"}
    inputs = []
    for value in graph.input:
        elem = value.type.tensor_type.elem_type
        if elem not in types:
            raise ValueError(f"input '{value.name}' has ONNX type {elem}, not double or string")
        inputs.append(InputColumn(value.name, types[elem]))  # type: ignore[arg-type]
    outputs = {o.name for o in graph.output}
    if {"label", "probabilities"} <= outputs:
        return Contract(tuple(inputs), "classification", _class_labels(graph))
    if "prediction" in outputs:
        return Contract(tuple(inputs), "regression")
    raise ValueError(f"outputs {sorted(outputs)}: expected label and probabilities, or prediction")


def _class_labels(graph: Any) -> tuple[Any, ...] | None:
    """The class labels, in probability column order, where the graph spells them out.

    The ``label`` output is traced back to where it is picked from a constant list (Gather or
    ArrayFeatureExtractor, as sqlml's tree export and skl2onnx's linear models do); classifier
    operators (TreeEnsembleClassifier, LinearClassifier, SVMClassifier) carry them as
    attributes instead.
    """
    from onnx import numpy_helper

    producers = {output: node for node in graph.node for output in node.output}
    constants = {t.name: t for t in graph.initializer}
    node = producers.get("label")
    while node is not None and node.op_type in ("Identity", "Cast", "Reshape", "Squeeze"):
        node = producers.get(node.input[0])
    picked = node.input[0] if node is not None and node.op_type in _PICKS else None
    if picked in constants:
        values = numpy_helper.to_array(constants[picked]).ravel().tolist()
        return tuple(v.decode() if isinstance(v, bytes) else v for v in values)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.name in ("classlabels_int64s", "classlabels_ints") and attribute.ints:
                return tuple(int(v) for v in attribute.ints)
            if attribute.name == "classlabels_strings" and attribute.strings:
                return tuple(v.decode() for v in attribute.strings)
    return None


def rows_to_feed(contract: Contract, rows: Sequence[Any], noun: str = "row") -> dict[str, Any]:
    """Check JSON feature rows against the contract and turn them into ONNX inputs.

    Columns the model does not read are ignored. Raises RequestError (422) naming the row (a
    ``noun`` and its index) and column of the first missing column or wrongly typed value.
    """
    import numpy as np

    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise RequestError(
                422,
                "invalid_row",
                f"{noun} {index} is {_json_kind(row)}, not an object of column values",
                'send {"rows": [{"column": value, ...}, ...]}',
            )
    feed: dict[str, Any] = {}
    for column in contract.inputs:
        values = _plain_values(rows, column)
        if values is None:  # something to convert or refuse: value by value, with messages
            values = [_value(contract, column, f"{noun} {i}", row) for i, row in enumerate(rows)]
        if column.type == "double":
            feed[column.name] = np.array(values, dtype=np.float64).reshape(-1, 1)
        else:
            feed[column.name] = np.array(values, dtype=object).reshape(-1, 1)
    return feed


def _plain_values(rows: Sequence[Mapping[str, Any]], column: InputColumn) -> list[Any] | None:
    """The column's values when every row has it with a value of the input's own JSON type
    (a number for double, a string for string: the common case), else None."""
    try:
        values = [row[column.name] for row in rows]
    except KeyError:
        return None
    plain = _PLAIN[column.type]
    return values if all(type(v) in plain for v in values) else None


def _value(contract: Contract, column: InputColumn, where: str, row: Mapping[str, Any]) -> Any:
    if column.name not in row:
        names = [c.name for c in contract.inputs if c.name not in row]
        more = f" (and {len(names) - _SHOWN} more)" if len(names) > _SHOWN else ""
        raise RequestError(
            422,
            "missing_column",
            f"{where} has no column '{column.name}'; missing: {', '.join(names[:_SHOWN])}{more}",
            "every row needs every input column of the model (null for an unknown value); "
            "see them at GET /v1/models/{name}",
        )
    value = row[column.name]
    if value is None:
        return math.nan if column.type == "double" else MISSING_CATEGORY
    if column.type == "double":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        expected = "a number (or null)"
    else:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        expected = "a string (or null)"
    raise RequestError(
        422,
        "wrong_type",
        f"{where}, column '{column.name}': expected {expected} for a {column.type} input, "
        f"got {_json_kind(value)} {_short(value)}",
        "send numbers for numeric columns and text for categorical ones, as in training",
    )


def format_outputs(contract: Contract, outputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One JSON object per row: ``label`` and ``probabilities`` (by class when the classes are
    known), or ``prediction``."""
    if contract.task == "regression":
        return [{"prediction": float(v)} for v in outputs["prediction"].reshape(-1).tolist()]
    labels = outputs["label"].reshape(-1).tolist()
    probabilities = outputs["probabilities"].tolist()
    if contract.classes is None:
        return [
            {"label": lab, "probabilities": p} for lab, p in zip(labels, probabilities, strict=True)
        ]
    names = [str(c) for c in contract.classes]
    return [
        {"label": label, "probabilities": dict(zip(names, p, strict=True))}
        for label, p in zip(labels, probabilities, strict=True)
    ]


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str | int | float | bool) else ""
    return text if len(text) <= 40 else text[:37] + "..."
