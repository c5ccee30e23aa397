"""Batch scoring: rows stream from the warehouse as Arrow record batches, through onnxruntime,
and back into a table, with reading, scoring and writing of batches overlapped.

One thread reads batches from the engine's stream and hands each to a pool of scoring
threads (onnxruntime releases the GIL while it computes); the warehouse pulls the scored
batches, in input order, straight into the table it is building. At most ``2 x workers``
batches are in flight, so memory stays bounded whatever the table's size.

Each input column goes to the model as its own [N, 1] input, converted column by column
(`sqlml.ml.features`): never stacked into one matrix, which costs more than reading the rows.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlml.engine.base import Engine, Transaction
from sqlml.errors import ScoringError, SqlmlError
from sqlml.ml.features import onnx_inputs, prepare_features
from sqlml.ml.packing import Packing, packed_feed, packed_model, packed_sql, unpacked
from sqlml.ml.signature import Signature, check_columns, read_signature
from sqlml.relation import Relation

if TYPE_CHECKING:
    import pyarrow as pa

BATCH_ROWS = 122_880  # 60 DuckDB vectors: big enough that per-batch costs vanish
_DONE = object()

# Called inside the write's transaction, after the scored rows are written and before they
# commit, with the table holding just those rows; raises to keep the table as it was.
BeforeCommit = Callable[[Transaction, Relation], None]


@dataclass(frozen=True)
class Stamp:
    """What every scored row records about how it was scored."""

    model: str
    version: int
    run_id: str
    scored_at: datetime


@dataclass(frozen=True)
class ScoreResult:
    rows: int
    signature: Signature


def make_session(onnx_bytes: bytes, threads: int = 1) -> Any:
    """An onnxruntime session on the CPU with ``threads`` threads per call; scoring runs
    several calls at once, one per worker, so each needs few threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 4  # failures come back as exceptions
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


def score_batch(
    session: Any,
    signature: Signature,
    batch: pa.RecordBatch | pa.Table,
    keep: Sequence[str],
    packing: Packing | None = None,
) -> pa.RecordBatch:
    """Score one batch: the ``keep`` columns as they are, then the score columns. With a
    ``packing``, the session is `packed_model`'s and the batch has the packed column."""
    import numpy as np
    import pyarrow as pa

    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    if packing is None:
        feed = onnx_inputs(prepare_features(table, signature.inputs))
    else:
        rest = [f for f in signature.inputs if f.name not in set(packing.columns)]
        feed = {**onnx_inputs(prepare_features(table, rest)), **packed_feed(table, packing)}
    columns = [table.column(name).combine_chunks() for name in keep]
    if signature.task == "regression":
        (prediction,) = session.run(["prediction"], feed)
        columns.append(pa.array(prediction.reshape(-1), type=pa.float64()))
    else:
        label, probabilities = session.run(["label", "probabilities"], feed)
        label_type = pa.int64() if signature.label_type == "int64" else pa.string()
        columns.append(pa.array(np.asarray(label).reshape(-1), type=label_type))
        for j in range(probabilities.shape[1]):
            columns.append(pa.array(np.ascontiguousarray(probabilities[:, j]), type=pa.float64()))
    names = [*keep, *(name for name, _ in signature.score_columns)]
    return pa.RecordBatch.from_arrays(columns, names=names)


def output_schema(signature: Signature, input_schema: pa.Schema, keep: Sequence[str]) -> pa.Schema:
    """The schema of `score_batch`'s batches for input batches of ``input_schema``."""
    import pyarrow as pa

    fields = [input_schema.field(name) for name in keep]
    for name, sql_type in signature.score_columns:
        kind = {"DOUBLE": pa.float64(), "BIGINT": pa.int64(), "VARCHAR": pa.string()}[sql_type]
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def scored_batches(
    reader: pa.RecordBatchReader,
    score: Callable[[pa.RecordBatch], pa.RecordBatch],
    workers: int,
) -> Generator[pa.RecordBatch, None, None]:
    """Score every batch of ``reader`` with ``score`` on ``workers`` threads; yield the results
    in input order. Reading runs on a thread of its own, ahead of the consumer by at most
    ``2 x workers`` batches. An error anywhere stops the reading and is raised here."""
    from concurrent.futures import Future, ThreadPoolExecutor

    pending: queue.Queue[Any] = queue.Queue(maxsize=2 * workers)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                pending.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read(pool: ThreadPoolExecutor) -> None:
        try:
            for batch in reader:
                if batch.num_rows and not put(pool.submit(score, batch)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)
            return
        put(_DONE)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sqlml-score") as pool:
        reading = threading.Thread(target=read, args=(pool,), name="sqlml-read", daemon=True)
        reading.start()
        try:
            while True:
                item = pending.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                future: Future[pa.RecordBatch] = item
                yield future.result()
        finally:
            stop.set()
            reading.join()


def score_query(
    engine: Engine,
    onnx_bytes: bytes,
    sql: str,
    *,
    stamp: Stamp,
    keep: Sequence[str],
    relation: Relation,
    existing: str | None,
    merge_keys: Sequence[str] | None = None,
    before_commit: BeforeCommit | None = None,
    batch_rows: int = BATCH_ROWS,
    workers: int | None = None,
) -> ScoreResult:
    """Score the rows of ``sql`` with a model and write them into ``relation``, atomically.

    Args:
        engine: the warehouse.
        onnx_bytes: the model (an sqlml ONNX export); its inputs must be columns of ``sql``.
        sql: the query whose rows are scored.
        stamp: model name, version, run id and time, written on every row.
        keep: columns of ``sql`` copied to the output before the scores (keys, hashes, ...).
        relation: the output table.
        existing: what ``relation`` is now ("table", "view" or None).
        merge_keys: None to replace the whole table with the scored rows; otherwise the
            columns by which scored rows replace the table's rows, all in one transaction.
        before_commit: checks or further statements run in the write's transaction (see
            `BeforeCommit`), e.g. that the keys are unique: verified on the written rows,
            the input is not read a second time.
        batch_rows: rows per batch read from the warehouse.
        workers: scoring threads (default: the machine's cores).

    Returns:
        The number of rows written and the model's signature. Raises ScoringError when the
        model cannot read the input or onnxruntime fails; the table is then left as it was.
    """
    signature = read_signature(onnx_bytes, stamp.model)
    sql, model_bytes, packing = _packed(engine, onnx_bytes, sql, signature, keep, stamp.model)
    session = _session(model_bytes, stamp.model)
    workers = workers or os.cpu_count() or 1
    failure: list[BaseException] = []

    def score(batch: pa.RecordBatch) -> pa.RecordBatch:
        try:
            return score_batch(session, signature, batch, keep, packing)
        except BaseException as exc:
            failure.append(exc)
            raise

    with engine.stream(sql, batch_rows) as reader:
        if packing is None:
            check_columns(signature, reader.schema.names, stamp.model)
            _check_keep(keep, reader.schema.names, stamp.model)
        generator = scored_batches(reader, score, workers)
        schema = output_schema(signature, reader.schema, keep)
        with _closing(generator), engine.arrow_view(_reader(schema, generator)) as view:
            select = f"select *, {_stamp_sql(stamp)} from {view}"
            try:
                rows = _write(engine, relation, select, existing, merge_keys, before_commit)
            except ScoringError:
                raise
            except SqlmlError as exc:
                if failure:
                    raise _scoring_error(failure[0], stamp.model) from failure[0]
                raise ScoringError(
                    f"writing scores of model '{stamp.model}' into {relation} failed: "
                    f"{exc.message}",
                    node=stamp.model,
                    hint=exc.hint,
                ) from exc
    return ScoreResult(rows, signature)


def _write(
    engine: Engine,
    relation: Relation,
    select: str,
    existing: str | None,
    merge_keys: Sequence[str] | None,
    before_commit: BeforeCommit | None,
) -> int:
    """Write the rows of ``select`` into ``relation`` in one transaction: as the whole new
    table (built beside the old one, which it then replaces), or merged by ``merge_keys``."""
    with engine.transaction() as tx:
        if merge_keys is None:
            new = relation
            if existing is not None:
                new = Relation(relation.schema, f"{relation.name}__sqlml_tmp", relation.database)
            rows = tx.execute(f"create or replace table {new} as\n{select}")
            if before_commit is not None:
                before_commit(tx, new)
            if existing is not None:
                tx.execute(f"drop {existing} {relation}")
                tx.execute(f"alter table {new} rename to {_q(relation.name)}")
        else:
            new = Relation("temp", f"__sqlml_scored_{threading.get_ident()}")
            tx.execute(f"create or replace temporary table {new} as\n{select}")
            match = " and ".join(f"t.{_q(k)} is not distinct from n.{_q(k)}" for k in merge_keys)
            tx.execute(
                f"delete from {relation} t where exists (select 1 from {new} n where {match})"
            )
            rows = tx.execute(f"insert into {relation} by name select * from {new}")
            if before_commit is not None:
                before_commit(tx, new)
            tx.execute(f"drop table {new}")
    return int(rows[0][0]) if rows else 0


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _packed(
    engine: Engine,
    onnx_bytes: bytes,
    sql: str,
    signature: Signature,
    keep: Sequence[str],
    model: str,
) -> tuple[str, bytes, Packing | None]:
    """The query to stream, the model to run and its packing: the query reads only ``keep``
    and the model's inputs, its numeric ones packed into one matrix column where the model
    allows (see `sqlml.ml.packing`); otherwise ``sql`` and the model as they are."""
    packed = packed_model(onnx_bytes)
    if packed is None:
        return sql, onnx_bytes, None
    model_bytes, packing = packed
    schema = engine.arrow(f"select * from (\n{sql}\n) as __sqlml_rows limit 0").schema
    check_columns(signature, schema.names, model)
    _check_keep(keep, schema.names, model)
    item = packed_sql(packing, {f.name: f.type for f in schema})
    if item is None:
        return sql, onnx_bytes, None
    columns = [*keep, *unpacked([f.name for f in signature.inputs], packing)]
    selected = ", ".join([*(_q(c) for c in dict.fromkeys(columns)), item])
    return f"select {selected} from (\n{sql}\n) as __sqlml_rows", model_bytes, packing


def _reader(schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> pa.RecordBatchReader:
    import pyarrow as pa

    return pa.RecordBatchReader.from_batches(schema, batches)


@contextmanager
def _closing(generator: Generator[Any, None, None]) -> Iterator[None]:
    """Close the generator on the way out, which stops its reading thread even when the
    warehouse stopped pulling batches half way."""
    try:
        yield
    finally:
        generator.close()


def _session(onnx_bytes: bytes, model: str) -> Any:
    try:
        return make_session(onnx_bytes)
    except Exception as exc:  # the boundary where onnxruntime's errors become ours
        raise _scoring_error(exc, model) from exc


def _scoring_error(exc: BaseException, model: str) -> SqlmlError:
    if isinstance(exc, SqlmlError):
        return exc
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    return ScoringError(
        f"scoring with model '{model}' failed: {first}",
        node=model,
        hint="the scores table was left as it was; check the input columns' types",
    )


def _check_keep(keep: Sequence[str], available: Sequence[str], model: str) -> None:
    missing = [k for k in keep if k not in available]
    if missing:
        raise ScoringError(
            f"the scoring input of model '{model}' has no column(s) {', '.join(missing)}",
            node=model,
            hint=f"its columns: {', '.join(available)}",
        )


def _stamp_sql(stamp: Stamp) -> str:
    def text(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    return (
        f"{text(stamp.model)}::varchar as model_name, {int(stamp.version)}::integer as "
        f"model_version, {text(stamp.scored_at.isoformat())}::timestamptz as scored_at, "
        f"{text(stamp.run_id)}::varchar as run_id"
    )
