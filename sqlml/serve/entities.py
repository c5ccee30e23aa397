"""Features by entity key: the feature views' latest values, held in memory between runs.

The endpoint never reads the warehouse while it answers: the latest row of every entity is
read once per change of the warehouse (`snapshot_sql`, the same `latest_features_sql` that
batch scoring uses), converted as training converts columns, and indexed by key. A view's TTL
is applied when a request is answered, from the matched row's event time, so a row that expires
between two runs stops being served when it expires, as a query at that moment would say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlml.ml.features import MISSING_CATEGORY, FeatureColumn, prepare_features
from sqlml.ml.pointintime import (
    FeatureView,
    event_time_column,
    feature_column,
    latest_features_sql,
)
from sqlml.serve.contract import Contract, RequestError, rows_to_feed

if TYPE_CHECKING:
    from sqlml.compiler.types import CompiledProject

_SHOWN = 5
_NO_TIME = -(2**63)  # a NULL event time: the view has no row for the entity


@dataclass(frozen=True)
class EntitySource:
    """Where a model's features come from when a request sends entity keys.

    ``keys`` are the key fields a request sends, matched by position with each view's keys.
    """

    keys: tuple[str, ...]
    views: tuple[FeatureView, ...]


@dataclass(frozen=True)
class FeatureSnapshot:
    """Every entity's latest feature values, as ONNX input columns, indexed by key."""

    keys: tuple[str, ...]
    key_kinds: tuple[str, ...]  # "integer" or "string": what JSON type a key must have
    index: Mapping[tuple[Any, ...], int]
    columns: Mapping[str, Any]  # input name -> NumPy array (float64 or object), one per entity
    expiry: tuple[tuple[tuple[str, ...], float, Any], ...]  # (inputs, ttl_s, event time µs)
    # Inputs the views do not provide (e.g. a spine column): each key object must carry them.
    request_inputs: tuple[str, ...] = ()

    @property
    def entities(self) -> int:
        return len(self.index)


def entity_sources(compiled: CompiledProject) -> dict[str, EntitySource]:
    """Per ML model trained on feature views, where entity keys find their features: the
    training node's spine keys and views."""
    sources = {}
    for node in compiled.nodes.values():
        training = node.spec if node.kind == "training" else None
        views = tuple(getattr(training, "views", ()))
        if training is not None and views and node.error is None:
            sources[training.spec.name] = EntitySource(tuple(training.keys), views)
    return sources


def snapshot_sql(source: EntitySource) -> str:
    """The query reading every entity's latest values, TTLs left to request time."""
    views = [replace(view, ttl_s=None) for view in source.views]
    return latest_features_sql(views, source.keys)


def request_inputs(source: EntitySource, contract: Contract) -> tuple[str, ...]:
    """The model's inputs that the feature views do not provide: requests send them along."""
    provided = {feature_column(v, f) for v in source.views for f in v.features}
    return tuple(c.name for c in contract.inputs if c.name not in provided)


def build_snapshot(table: Any, source: EntitySource, contract: Contract) -> FeatureSnapshot:
    """Index the rows of `snapshot_sql` (an Arrow table) for lookups by key."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    sent = request_inputs(source, contract)
    features = [
        FeatureColumn(c.name, "numeric" if c.type == "double" else "categorical", "")
        for c in contract.inputs
        if c.name not in sent
    ]
    prepared = prepare_features(table, features)
    columns = {name: _as_numpy(prepared.column(name), np) for name in prepared.column_names}
    kinds = tuple(
        "integer" if pa.types.is_integer(table.column(k).type) else "string" for k in source.keys
    )
    keys = zip(*(table.column(k).to_pylist() for k in source.keys), strict=True)
    index = {
        tuple(v if kind == "integer" else str(v) for v, kind in zip(key, kinds, strict=True)): i
        for i, key in enumerate(keys)
    }
    expiry = []
    inputs = {c.name for c in contract.inputs}
    for view in source.views:
        used = tuple(n for n in (feature_column(view, f) for f in view.features) if n in inputs)
        times = table.column(event_time_column(view))
        micros = pc.cast(pc.cast(times, pa.timestamp("us")), pa.int64())
        event = pc.fill_null(micros, _NO_TIME).to_numpy(zero_copy_only=False)
        expiry.append((used, view.ttl_s if view.ttl_s is not None else -1.0, event))
    return FeatureSnapshot(source.keys, kinds, index, columns, tuple(expiry), sent)


def _as_numpy(column: Any, np: Any) -> Any:
    values = column.to_numpy(zero_copy_only=False)
    return values if values.dtype == np.float64 else values.astype(object)


def keys_to_feed(
    snapshot: FeatureSnapshot, contract: Contract, keys: Sequence[Any], now: datetime
) -> dict[str, Any]:
    """The ONNX inputs of the entities named by ``keys`` (JSON objects), as of ``now``; inputs
    the views do not provide are read from the key objects, checked like rows.

    Raises RequestError: 422 for a key object without a key field or with a value of the wrong
    type, 404 naming the entities that have no (fresh) features.
    """
    import numpy as np

    wanted = [_key(snapshot, position, key) for position, key in enumerate(keys)]
    rows = np.array([snapshot.index.get(k, -1) for k in wanted], dtype=np.int64)
    if (rows < 0).any():
        _unknown(snapshot, [k for k, row in zip(wanted, rows, strict=True) if row < 0])
    sent = [c for c in contract.inputs if c.name in snapshot.request_inputs]
    feed = rows_to_feed(Contract(tuple(sent), contract.task), keys, "key") if sent else {}
    for name, values in snapshot.columns.items():
        feed[name] = values[rows].reshape(-1, 1)
    if not snapshot.expiry:
        return feed
    now_us = int(now.timestamp() * 1_000_000)
    stale_everywhere = np.ones(len(rows), dtype=bool)
    for inputs, ttl_s, event in snapshot.expiry:
        times = event[rows]
        stale = times == _NO_TIME
        if ttl_s >= 0:
            stale |= times < now_us - round(ttl_s * 1_000_000)
        stale_everywhere &= stale
        if not stale.any():
            continue
        for name in inputs:
            column = feed[name].copy()
            column[stale] = np.nan if column.dtype == np.float64 else MISSING_CATEGORY
            feed[name] = column
    if stale_everywhere.any():
        _unknown(snapshot, [wanted[i] for i in np.flatnonzero(stale_everywhere)])
    return feed


def _unknown(snapshot: FeatureSnapshot, unknown: list[tuple[Any, ...]]) -> None:
    shown = "; ".join(_describe(snapshot.keys, k) for k in unknown[:_SHOWN])
    more = f" (and {len(unknown) - _SHOWN} more)" if len(unknown) > _SHOWN else ""
    raise RequestError(
        404,
        "unknown_entity",
        f"no current features for {shown}{more}",
        "the feature views have no row for this key, or only rows older than their ttl; "
        "send the feature values as rows instead",
    )


def _key(snapshot: FeatureSnapshot, position: int, key: Any) -> tuple[Any, ...]:
    if not isinstance(key, Mapping):
        example = ", ".join(f'"{k}": ...' for k in snapshot.keys)
        raise RequestError(
            422,
            "invalid_key",
            f"key {position} is not an object of key values",
            f'send {{"keys": [{{{example}}}, ...]}}',
        )
    values = []
    for name, kind in zip(snapshot.keys, snapshot.key_kinds, strict=True):
        if name not in key:
            raise RequestError(
                422,
                "missing_key",
                f"key {position} has no field '{name}'",
                f"entities are identified by {', '.join(snapshot.keys)}",
            )
        value = key[name]
        valid = (
            isinstance(value, int) and not isinstance(value, bool)
            if kind == "integer"
            else isinstance(value, str)
        )
        if not valid:
            raise RequestError(
                422,
                "wrong_type",
                f"key {position}, field '{name}': expected "
                f"{'an integer' if kind == 'integer' else 'a string'}, got {value!r}",
                "send key values with the type of the feature views' key column",
            )
        values.append(value)
    return tuple(values)


def _describe(names: Sequence[str], key: tuple[Any, ...]) -> str:
    return ", ".join(f"{n}={v!r}" for n, v in zip(names, key, strict=True))
