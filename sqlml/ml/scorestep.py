"""A scoring node's work: score the input rows with a model's champion into the scores table,
incrementally where it can.

The scores table holds the input's key columns, an ``input_hash`` of the model's input
columns, the score columns, and ``model_name``, ``model_version``, ``scored_at``, ``run_id``.

- **Full** (first run, ``incremental: false``, or another version than the table's, e.g. a new
  champion): every input row is scored and the table replaced in one transaction.
- **Incremental** (otherwise): only rows whose key is new or whose input columns changed (their
  hash differs) are scored, and replace their old scores; scores of keys that left the input
  are deleted, in the same transaction.

Keys must be unique: checked on the written rows inside the write's transaction (see
`_unique_on`, `_check_merged`), so a duplicate leaves the table as it was and the input is
read once to score it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlml.engine.base import Engine, Transaction
from sqlml.errors import ScoringError
from sqlml.ml.registry import RegistryError, load_onnx, show_model
from sqlml.ml.scoring import BeforeCommit, Stamp, score_query
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
    # Read only what is scored and kept, and hash the inputs in the same query.
    inputs = [f.name for f in signature.inputs]
    columns = ", ".join(_q(c) for c in dict.fromkeys([*keys, *inputs]))
    hashed = ", ".join(_q(c) for c in inputs)
    source = (
        f"select {columns}, hash({hashed}) as {HASH_COLUMN} from (\n{source_sql}\n) as __sqlml_in"
    )
    stamp = Stamp(model, version, run_id or "", datetime.now(UTC))
    keep = [*keys, HASH_COLUMN]
    if not (incremental and _same_version(engine, relation, existing, model, version, keep)):
        result = score_query(
            engine, onnx_bytes, source, stamp=stamp, keep=keep, relation=relation,
            existing=existing, before_commit=_unique_on(keys, model),
        )  # fmt: skip
        return ScoringOutcome("full", version, result.rows)
    match = " and ".join(f"s.{_q(k)} is not distinct from n.{_q(k)}" for k in keys)
    changed = (
        f"select * from ({source}) as n where not exists (select 1 from {relation} as s "
        f"where {match} and s.{HASH_COLUMN} = n.{HASH_COLUMN})"
    )
    removed: list[int] = []

    def finish(tx: Transaction, scored: Relation) -> None:
        """Delete the scores of keys gone from the input, in the same transaction, and prove
        the input's keys unique without grouping all of them (see `_check_merged`)."""
        _unique_on(keys, model)(tx, scored)
        gone = (
            f"delete from {relation} as s where not exists (select 1 from (\n{source_sql}\n) "
            f"as n where {match})"
        )
        rows = tx.execute(gone)
        removed.append(int(rows[0][0]) if rows else 0)
        _check_merged(tx, relation, keys, source_sql, model)

    result = score_query(
        engine, onnx_bytes, changed, stamp=stamp, keep=keep, relation=relation,
        existing=existing, merge_keys=keys, before_commit=finish,
    )  # fmt: skip
    return ScoringOutcome("incremental", version, result.rows, sum(removed))


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


def _unique_on(keys: Sequence[str], model: str) -> BeforeCommit:
    """A check that the scored rows have unique keys, run on the table they were written to:
    the written rows hold exactly the input's keys, so the input is not read again."""

    def check(tx: Transaction, scored: Relation) -> None:
        columns = ", ".join(_q(k) for k in keys)
        rows = tx.execute(
            f"select {columns}, count(*) from {scored} group by all having count(*) > 1 limit 1"
        )
        if rows:
            raise _duplicate(model, keys, rows[0])

    return check


def _check_merged(
    tx: Transaction, relation: Relation, keys: Sequence[str], source_sql: str, model: str
) -> None:
    """After an incremental merge and the deletion of gone keys, the table holds one row per
    distinct key of the input (its keys were unique before, the merged rows' keys are unique,
    and every input row was either merged or matched an existing score). So the input's keys
    are unique exactly when it has as many rows as the table: a count, not a grouping."""
    (table_rows,) = tx.execute(f"select count(*) from {relation}")[0]
    (input_rows,) = tx.execute(f"select count(*) from (\n{source_sql}\n) as __sqlml_in")[0]
    if table_rows == input_rows:
        return
    columns = ", ".join(_q(k) for k in keys)
    rows = tx.execute(
        f"select {columns}, count(*) from (\n{source_sql}\n) as __sqlml_in "
        f"group by all having count(*) > 1 limit 1"
    )
    raise _duplicate(model, keys, rows[0] if rows else None)


def _duplicate(model: str, keys: Sequence[str], row: tuple[object, ...] | None) -> ScoringError:
    if row is None:  # the table changed under the run: say what was seen
        found = "a different number of rows than distinct keys"
    else:
        *key, count = row
        found = f"{count} rows with key ({', '.join(map(repr, key))})"
    return ScoringError(
        f"the scoring input of model '{model}' has {found}: keys ({', '.join(keys)}) must be "
        f"unique",
        node=model,
        hint="score one row per entity: deduplicate the input, or add key columns",
    )


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
