"""A scoring node's work: score the input rows with a model's champion into the scores table,
incrementally where it can.

The scores table holds the input's key columns, an ``input_hash`` of the model's input
columns, the score columns, and ``model_name``, ``model_version``, ``scored_at``, ``run_id``.

- **Full** (first run, ``incremental: false``, or another version than the table's, e.g. a new
  champion): every input row is scored and the table replaced in one transaction.
- **Incremental** (otherwise): only rows whose key is new or whose input columns changed (their
  hash differs) are scored, and replace their old scores; scores of keys that left the input
  are deleted. The new scores replace the old ones in one transaction; the deletion follows
  in its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlml.engine.base import Engine
from sqlml.errors import ScoringError
from sqlml.ml.registry import RegistryError, load_onnx, show_model
from sqlml.ml.scoring import Stamp, score_query
from sqlml.ml.signature import read_signature
from sqlml.relation import Relation

HASH_COLUMN = "input_hash"


@dataclass(frozen=True)
class ScoringOutcome:
    """What a scoring run did: ``rows`` scored, ``removed`` scores of keys gone from the input."""

    mode: Literal["full", "incremental"]
    version: int
    rows: int
    removed: int = 0

    @property
    def message(self) -> str:
        if self.mode == "full":
            return f"scored all {self.rows} rows with version {self.version}"
        removed = f", removed {self.removed} gone from the input" if self.removed else ""
        return f"scored {self.rows} new or changed rows with version {self.version}{removed}"


def champion_version(engine: Engine, schema: str, model: str, alias: str = "champion") -> int:
    """The version ``alias`` points to (or the number itself); a ScoringError saying how to get
    one when the model or alias does not exist."""
    if alias.isdigit():
        return int(alias)
    try:
        aliases = show_model(engine, schema, model).aliases
    except RegistryError as exc:
        raise ScoringError(
            f"cannot score with model '{model}': {exc.message}",
            node=model,
            hint=f"train it first: `sqlml run -s {model}`",
        ) from None
    if alias not in aliases:
        raise ScoringError(
            f"model '{model}' has no {alias} to score with",
            node=model,
            hint=f"promote a version: `sqlml models promote {model} VERSION`",
        )
    return int(aliases[alias])


def score_model(
    engine: Engine,
    *,
    model: str,
    source_sql: str,
    keys: Sequence[str],
    relation: Relation,
    existing: str | None,
    state_schema: str,
    run_id: str | None,
    alias: str = "champion",
    incremental: bool = True,
) -> ScoringOutcome:
    """Score the rows of ``source_sql`` into ``relation``; see the module's docstring.

    Raises ScoringError when the model has no such version, its bytes fail their checksum,
    the keys are not unique, or scoring fails; the scores table is then left as it was.
    """
    version = champion_version(engine, state_schema, model, alias)
    onnx_bytes = load_onnx(engine, state_schema, model, version)
    signature = read_signature(onnx_bytes, model)
    _check_unique(engine, source_sql, keys, model)
    hashed = ", ".join(_q(f.name) for f in signature.inputs)
    source = f"select *, hash({hashed}) as {HASH_COLUMN} from (\n{source_sql}\n) as __sqlml_in"
    stamp = Stamp(model, version, run_id or "", datetime.now(UTC))
    keep = [*keys, HASH_COLUMN]
    if not (incremental and _same_version(engine, relation, existing, model, version, keep)):
        result = score_query(
            engine, onnx_bytes, source, stamp=stamp, keep=keep, relation=relation,
            existing=existing,
        )  # fmt: skip
        return ScoringOutcome("full", version, result.rows)
    match = " and ".join(f"s.{_q(k)} is not distinct from n.{_q(k)}" for k in keys)
    changed = (
        f"select * from ({source}) as n where not exists (select 1 from {relation} as s "
        f"where {match} and s.{HASH_COLUMN} = n.{HASH_COLUMN})"
    )
    result = score_query(
        engine, onnx_bytes, changed, stamp=stamp, keep=keep, relation=relation,
        existing=existing, merge_keys=keys,
    )  # fmt: skip
    gone = (
        f"delete from {relation} as s where not exists (select 1 from (\n{source_sql}\n) "
        f"as n where {match})"
    )
    removed = engine.execute(gone)
    return ScoringOutcome("incremental", version, result.rows, int(removed[0][0]) if removed else 0)


def _same_version(
    engine: Engine,
    relation: Relation,
    existing: str | None,
    model: str,
    version: int,
    keep: Sequence[str],
) -> bool:
    """Whether the table holds this model's scores, all by ``version``, with the columns
    incremental scoring needs."""
    if existing != "table":
        return False
    have = {name for name, _ in engine.columns(relation)}
    if not {*keep, "model_name", "model_version"} <= have:
        return False
    rows = engine.execute(
        f"select count(*), count(*) filter (where model_name = ? and model_version = ?) "
        f"from {relation}",
        [model, version],
    )
    total, same = rows[0]
    return bool(total) and total == same


def _check_unique(engine: Engine, source_sql: str, keys: Sequence[str], model: str) -> None:
    columns = ", ".join(_q(k) for k in keys)
    rows = engine.execute(
        f"select {columns}, count(*) from (\n{source_sql}\n) as __sqlml_in "
        f"group by all having count(*) > 1 limit 1"
    )
    if rows:
        *key, count = rows[0]
        raise ScoringError(
            f"the scoring input of model '{model}' has {count} rows with key "
            f"({', '.join(map(repr, key))}): keys ({', '.join(keys)}) must be unique",
            node=model,
            hint="score one row per entity: deduplicate the input, or add key columns",
        )


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
