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
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlml.engine.base import Engine
from sqlml.errors import ExecutionError
from sqlml.ml.registry import alias_version, load_onnx
from sqlml.ml.scoring import make_session, score_batch
from sqlml.ml.signature import Signature, read_signature
from sqlml.ml.spec import function_name

if TYPE_CHECKING:
    from sqlml.compiler.types import CompiledProject


@dataclass(frozen=True)
class PredictFunction:
    """A model's SQL function: its name, parameters (column, SQL type) and STRUCT type."""

    name: str
    model: str
    version: int | None
    parameters: tuple[tuple[str, str], ...]
    returns: str


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


class RunFunctions:
    """The ``predict_<model>`` functions of one run, registered just in time.

    Before a step whose SQL calls ``predict_<model>(...)``, the function is registered from
    the model's champion as the registry holds it then (again only when the champion moved).
    The compiler makes such a step a child of the model's training node, so it scores with
    the champion this run's training left. Models no step calls cost nothing.
    """

    def __init__(self, schema: str, calls: Mapping[str, tuple[str, ...]]) -> None:
        self.schema = schema
        self.calls = calls  # node -> the ML models whose function its SQL calls
        self._versions: dict[str, int] = {}  # model -> the champion version registered
        self._lock = threading.Lock()

    @classmethod
    def of(cls, compiled: CompiledProject) -> RunFunctions:
        """The functions each node of ``compiled`` calls, found in its SQL by name."""
        names = {function_name(s.name).lower() + "(": s.name for s in compiled.project.ml_specs}
        calls = {}
        for name, node in compiled.nodes.items():
            text = (node.sql + node.incremental_sql).lower()
            if "predict_" not in text:
                continue
            text = re.sub(r"\s+\(", "(", text)
            called = tuple(model for call, model in names.items() if call in text)
            if called:
                calls[name] = called
        return cls(compiled.project.state_schema, calls)

    def prepare(self, engine: Engine, node: str) -> None:
        """Register the champion of each model ``node`` calls, unless registered already.

        Raises:
            ExecutionError: a model has no champion (never trained, or no version passed
                its gates).
            ScoringError: the champion's stored bytes fail their checksum.
        """
        for model in self.calls.get(node, ()):
            with self._lock:
                version = alias_version(engine, self.schema, model, "champion")
                if version is None:
                    raise ExecutionError(
                        f"{function_name(model)}() has nothing to score with: model '{model}' "
                        "has no champion yet",
                        hint=f"train it (`sqlml run -s +{model}`; a version that passes its "
                        "gates becomes the champion), or promote a version (`sqlml models "
                        f"promote {model} VERSION`)",
                    )
                if self._versions.get(model) != version:
                    onnx_bytes = load_onnx(engine, self.schema, model, version)
                    register_predict(engine, onnx_bytes, model, version)
                    self._versions[model] = version


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
