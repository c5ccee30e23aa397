"""Batch scoring throughput: sqlml's scoring node against its baselines, in one process and run.

For each size (rows x 20 DOUBLE features in a DuckDB file) and each model (logistic regression,
random forest of 100 trees of depth 8, HistGradientBoosting of 100 iterations), all trained and
exported by sqlml on 20k rows, this measures rows per second of:

- ceiling: onnxruntime alone, the model as the node runs it (its packed graph, see
  `sqlml.ml.packing`), inputs already in memory; the faster of one session with a thread per
  core and one single-threaded call per core at once: the compute ceiling;
- floor: a hand-written DuckDB → Arrow → onnxruntime → DuckDB loop, nothing around it: the
  exported model fed one input per column, one session with a thread per core, one batch at a
  time, no overlap, writing the same score columns;
- sqlml: the scoring node end to end (`score_model`: registry load and checksum, input hash,
  streaming scorer on one single-threaded call per core, key check and atomic table write),
  table in, table out;
- pandas: `df()`, the scikit-learn pipeline's `predict_proba`, the frame written back;
- sql: the model compiled to SQL (`compile_model`) run by DuckDB as CREATE TABLE AS; forests
  are measured on at most --sql-rows rows (it is far slower), plus the SQL generation time.

Every path has all the machine's cores available.

    python bench/scoring.py --small                     # 100k rows: a smoke run of every path
    nice python bench/scoring.py --rows 10000000 --models logistic,forest
    nice python bench/scoring.py                        # 1M and 10M rows, every model (long)

Targets (issue 6): sqlml >= 0.8x floor for every model, >= 0.8x ceiling for the forest and
boosting, and faster than pandas + scikit-learn. Printed as a markdown table with the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FEATURES = 20
BATCH = 122_880
MODELS = {
    "logistic": ("sklearn.linear_model.LogisticRegression", "{max_iter: 500}"),
    "forest": ("sklearn.ensemble.RandomForestClassifier", "{n_estimators: 100, max_depth: 8}"),
    "boosting": ("sklearn.ensemble.HistGradientBoostingClassifier", "{max_iter: 100}"),
}
COLUMNS = [f"f{i}" for i in range(FEATURES)]


def make_table(con: Any, name: str, rows: int, seed: int) -> None:
    """``rows`` rows of an id and 20 DOUBLE features; the label leans on a few of them."""
    con.execute(f"select setseed({seed / 100})")
    features = ", ".join(f"random() * 2 - 1 as f{i}" for i in range(FEATURES))
    con.execute(
        f"create or replace table {name} as select range as id, {features} from range({rows})"
    )


def train_models(root: Path, con: Any, names: list[str]) -> dict[str, Any]:
    from sqlml.ml.onnx_export import export_onnx
    from sqlml.ml.spec import load_spec
    from sqlml.ml.train import train

    make_table(con, "training", 20_000, 1)
    label = "(f0 + f1 * f2 - f3 * f3 + 0.5 * f4 + 0.3 * sin(6 * f5) > 0)::int as target"
    table = con.sql(f"select * exclude (id), {label} from training").to_arrow_table()
    models = {}
    for name in names:
        estimator, params = MODELS[name]
        path = root / "ml" / f"{name}.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"owner: bench\nrelation: ref('training')\ntarget: target\ntask: classification\n"
            f"estimator:\n  class: {estimator}\n  params: {params}\n"
        )
        trained = train(load_spec(path, f"ml/{name}.yml"), table)
        models[name] = (trained, export_onnx(trained).onnx_bytes)
    return models


def timed(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def ceiling(con: Any, onnx_bytes: bytes, rows: int) -> tuple[float, str]:
    """Compute alone: the model as sqlml's node runs it (its packed graph when it has one),
    on inputs already in memory in the layout that graph takes; the loading is not timed.
    Both ways of using the cores are timed and the faster kept: one session with a thread
    per core on 1M-row batches, or one single-threaded call per core on the node's batches."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy

    from sqlml.ml.packing import packed_model
    from sqlml.ml.scoring import make_session

    cores = os.cpu_count() or 1
    packed = packed_model(onnx_bytes)
    model = packed[0] if packed else onnx_bytes
    size = min(rows, 1_000_000)
    data = con.sql(f"select {', '.join(COLUMNS)} from scoring limit {size}").fetchnumpy()
    if packed:
        matrix = numpy.column_stack([data[c] for c in packed[1].columns])
        feed = {packed[1].tensor: matrix}
    else:
        feed = {c: data[c].reshape(-1, 1) for c in COLUMNS}
    starts = range(0, rows, size)

    def part(start: int, length: int) -> dict[str, Any]:
        return {k: v[start : start + length] for k, v in feed.items()}

    threaded = make_session(model, threads=cores)
    one = timed(lambda: [threaded.run(None, part(0, min(size, rows - s))) for s in starts])
    single = make_session(model, threads=1)
    slices = [(b, min(BATCH, size - b)) for b in range(0, size, BATCH)]

    def per_core() -> None:
        with ThreadPoolExecutor(cores) as pool:
            for s in starts:
                limit = min(size, rows - s)
                jobs = [(b, min(n, limit - b)) for b, n in slices if b < limit]
                list(pool.map(lambda job: single.run(None, part(*job)), jobs))

    many = timed(per_core)
    if one <= many:
        return one, f"1 session x {cores} threads"
    return many, f"{cores} calls x 1 thread"


def floor(con: Any, onnx_bytes: bytes, rows: int) -> float:
    """The plainest streaming loop a person would write: read a batch, feed the exported model
    one input per column (one session, a thread per core), hand the scores to DuckDB; one batch
    at a time, no overlap. It writes the same scores as the node: class and probabilities."""
    import pyarrow as pa

    from sqlml.ml.scoring import make_session

    session = make_session(onnx_bytes, threads=os.cpu_count() or 1)

    def batches() -> Any:
        reader = con.cursor().sql("select * from scoring").to_arrow_reader(BATCH)
        for batch in reader:
            feed = {c: batch.column(c).to_numpy().reshape(-1, 1) for c in COLUMNS}
            label, probabilities = session.run(None, feed)
            yield pa.record_batch(
                [batch.column("id"), pa.array(label), pa.array(probabilities[:, 0]),
                 pa.array(probabilities[:, 1])],
                names=["id", "predicted_class", "probability_0", "probability_1"],
            )  # fmt: skip

    schema = pa.schema([("id", pa.int64()), ("predicted_class", pa.int64()),
                        ("probability_0", pa.float64()),
                        ("probability_1", pa.float64())])  # fmt: skip

    def run() -> None:
        con.register("scored", pa.RecordBatchReader.from_batches(schema, batches()))
        con.execute("create or replace table floor_scores as select * from scored")
        con.unregister("scored")

    return timed(run)


def sqlml_node(engine: Any, name: str) -> float:
    from sqlml.ml.scorestep import score_model
    from sqlml.relation import Relation

    relation = Relation("main", "sqlml_scores")
    existing = "table" if ("main", "sqlml_scores") in engine.relations() else None
    return timed(
        lambda: score_model(
            engine, model=name, source_sql="select * from scoring", keys=["id"],
            relation=relation, existing=existing, state_schema="_sqlml", run_id="bench",
            incremental=False,
        )
    )  # fmt: skip


def pandas_sklearn(con: Any, pipeline: Any) -> float:
    def run() -> None:
        frame = con.sql("select * from scoring").df()
        probabilities = pipeline.predict_proba(frame[COLUMNS])
        label = pipeline.classes_[probabilities.argmax(axis=1)]
        out = frame[["id"]].assign(predicted_class=label, probability_0=probabilities[:, 0],
                                   probability_1=probabilities[:, 1])  # fmt: skip
        con.register("out_frame", out)
        con.execute("create or replace table pandas_scores as select * from out_frame")
        con.unregister("out_frame")

    return timed(run)


def sql_model(con: Any, onnx_bytes: bytes, rows: int) -> tuple[float, float, int]:
    from sqlml.ml.sqlmodel import compile_model

    started = time.perf_counter()
    sql = compile_model(onnx_bytes).sql(f"(select * from scoring limit {rows})", keep=["id"])
    generated = time.perf_counter() - started
    seconds = timed(lambda: con.execute(f"create or replace table sql_scores as {sql}"))
    return generated, seconds, len(sql)


def sizes_and_models(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="100k rows only: a smoke run")
    parser.add_argument("--rows", type=_numbers, help="sizes, comma-separated (default 1M,10M)")
    parser.add_argument("--models", type=_names, default=list(MODELS),
                        help=f"comma-separated, of {','.join(MODELS)} (default all)")  # fmt: skip
    parser.add_argument("--sql-rows", type=int, default=200_000,
                        help="most rows the SQL-compiled forest and boosting score")  # fmt: skip
    args = parser.parse_args(argv)
    args.rows = args.rows or ([100_000] if args.small else [1_000_000, 10_000_000])
    return args


def _numbers(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part]


def _names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown model(s) {', '.join(unknown)}")
    return names


def main() -> None:
    args = sizes_and_models()

    from sqlml.engine import connect
    from sqlml.ml.registry import promote, register_version

    with tempfile.TemporaryDirectory(prefix="sqlml-bench-") as folder:
        root = Path(folder)
        engine = connect(root / "warehouse.duckdb")
        con = engine.cursor()  # the same database, for the baselines
        print(f"training {', '.join(args.models)} on 20k rows ...", flush=True)
        models = train_models(root, con, args.models)
        for name in args.models:
            version = register_version(
                engine, "_sqlml", model=name, owner="bench", onnx=models[name][1],
                spec_fingerprint="", data_fingerprint="", params={}, metrics={},
                cv_metrics={}, importance={}, parity={}, run_id="bench",
            )  # fmt: skip
            promote(engine, "_sqlml", name, version.version, reason="bench")
        lines = [
            "| rows | model | ceiling | floor | sqlml | pandas + sklearn | SQL-compiled | "
            "sqlml / floor | sqlml / ceiling | sqlml / pandas |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for rows in args.rows:
            make_table(con, "scoring", rows, 2)
            for name in args.models:
                trained, onnx_bytes = models[name]
                ceiling_seconds, threading = ceiling(con, onnx_bytes, rows)
                results = {
                    "ceiling": ceiling_seconds,
                    "floor": floor(con, onnx_bytes, rows),
                    "sqlml": sqlml_node(engine, name),
                    "pandas": pandas_sklearn(con, trained.pipeline),
                }
                sql_rows = rows if name == "logistic" else min(rows, args.sql_rows)
                generated, sql_seconds, size = sql_model(con, onnx_bytes, sql_rows)
                speed = {k: rows / v for k, v in results.items()}
                sql_speed = sql_rows / sql_seconds
                print(
                    f"{rows:>10,} {name:<9} "
                    + " ".join(f"{k} {v / 1e6:.3f}M/s" for k, v in speed.items())
                    + f" (ceiling: {threading}) sql {sql_speed / 1e6:.4f}M/s (on {sql_rows:,}"
                    f" rows; {size / 1e6:.2f} MB of SQL generated in {generated:.1f} s)",
                    flush=True,
                )
                lines.append(
                    f"| {rows:,} | {name} | {_rate(speed['ceiling'])} | {_rate(speed['floor'])} | "
                    f"{_rate(speed['sqlml'])} | {_rate(speed['pandas'])} | {_rate(sql_speed)} | "
                    f"{speed['sqlml'] / speed['floor']:.2f}x | "
                    f"{speed['sqlml'] / speed['ceiling']:.2f}x | "
                    f"{speed['sqlml'] / speed['pandas']:.2f}x |"
                )
        engine.close()
    print("\nrows/s; ratios are sqlml's throughput over the baseline's\n")
    print("\n".join(lines))


def _rate(per_second: float) -> str:
    if per_second >= 1e6:
        return f"{per_second / 1e6:.2f}M/s"
    return f"{per_second / 1e3:.0f}k/s"


if __name__ == "__main__":
    main()
