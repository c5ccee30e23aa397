"""Scoring inside SQL: a registered model as a vectorized SQL function backed by onnxruntime.

``predict_<model>(col1, col2, ...)`` takes the model's input columns in its signature order and
returns a STRUCT of its score columns, so any query can write
``predict_churn(segment, tenure_months, ...).probability_1``. DuckDB hands the function
batches of up to 2,048 rows as Arrow arrays; each batch is one onnxruntime call.

Limits (see docs/scoring.md): the function exists only on the connection that registered it
(sqlml's own runs), so a BI tool opening the file cannot call it; it runs on one thread per
query, so bulk scoring belongs in a scoring node; and its arguments are positional.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlml.engine.base import Engine
from sqlml.errors import SqlmlError
from sqlml.ml.registry import list_models, load_onnx
from sqlml.ml.scoring import make_session, score_batch
from sqlml.ml.signature import Signature, read_signature

_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True)
class PredictFunction:
    """A model's SQL function: its name, parameters (column, SQL type) and STRUCT type."""

    name: str
    model: str
    version: int | None
    parameters: tuple[tuple[str, str], ...]
    returns: str


def function_name(model: str) -> str:
    """The SQL function of a model: ``predict_<model>`` (non-identifier characters as ``_``)."""
    return "predict_" + _NOT_IDENTIFIER.sub("_", model)


def predict_function(
    onnx_bytes: bytes, model: str, version: int | None = None
) -> tuple[PredictFunction, Callable[..., Any]]:
    """The SQL signature of a model's function and the Arrow function that computes it."""
    signature = read_signature(onnx_bytes, model)
    parameters = tuple(
        (f.name, "DOUBLE" if f.kind == "numeric" else "VARCHAR") for f in signature.inputs
    )
    fields = ", ".join(f'"{name}" {sql_type}' for name, sql_type in signature.score_columns)
    described = PredictFunction(
        function_name(model), model, version, parameters, f"STRUCT({fields})"
    )
    return described, _scorer(onnx_bytes, signature)


def register_predict(
    engine: Engine, onnx_bytes: bytes, model: str, version: int | None = None
) -> PredictFunction:
    """Make ``predict_<model>(...)`` callable in SQL run through ``engine``."""
    described, function = predict_function(onnx_bytes, model, version)
    engine.register_function(
        described.name, function, [t for _, t in described.parameters], described.returns
    )
    return described


def register_champions(
    engine: Engine, schema: str, sql_texts: Iterable[str]
) -> list[PredictFunction]:
    """Register ``predict_<model>`` for every registered model that has a champion and whose
    function one of ``sql_texts`` calls; models no query calls cost nothing."""
    texts = [t.lower() for t in sql_texts if "predict_" in t.lower()]
    if not texts or (schema.lower(), "model_aliases") not in engine.relations():
        return []
    registered = []
    for summary in list_models(engine, schema):
        version = summary.aliases.get("champion")
        name = function_name(summary.model).lower()
        if version is None or not any(f"{name}(" in t.replace(" (", "(") for t in texts):
            continue
        try:
            onnx_bytes = load_onnx(engine, schema, summary.model, version)
        except SqlmlError:  # e.g. tampered bytes: queries calling it fail, the rest runs
            continue
        registered.append(register_predict(engine, onnx_bytes, summary.model, version))
    return registered


def _scorer(onnx_bytes: bytes, signature: Signature) -> Callable[..., Any]:
    names = [f.name for f in signature.inputs]
    sessions: list[Any] = []  # created on the first call, not when a run merely starts

    def predict(*columns: Any) -> Any:
        import pyarrow as pa

        if not sessions:
            sessions.append(make_session(onnx_bytes))
        table = pa.table([c.combine_chunks() for c in columns], names=names)
        scored = score_batch(sessions[0], signature, table, ())
        return pa.StructArray.from_arrays(scored.columns, names=scored.schema.names)

    # DuckDB counts a function's parameters: give it one per input column
    positional = inspect.Parameter.POSITIONAL_ONLY
    predict.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(f"x{i}", positional) for i in range(len(names))]
    )
    return predict
