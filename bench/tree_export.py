"""Tree export layout: onnxruntime alone on one model exported in sqlml's current layout and in
the earlier one, side by side in one process.

The earlier layout (`convert(..., compact_trees=False)`, what versions registered before the
change hold) puts every class in one TreeEnsemble node, a forest's trees copied for each class;
the current one exports a forest's trees for every class but the first (its probability is the
complement) and gives multiclass boosting one single-target node per class.

For each model (random forest of 100 trees of depth 8, HistGradientBoosting of 100 iterations),
trained and exported by sqlml on 20k rows x 20 DOUBLE features, this measures rows per second
of `session.run` on --rows rows already in memory as [N, 1] columns (as sqlml feeds them):

- 1 thread: what each worker of the scoring node runs; wall time, and CPU time, which the
  other jobs on a shared machine disturb far less;
- all cores: one session with every core, the compute ceiling of bench/scoring.py.

Runs alternate between the layouts, best of --repeat each. With --sql the forest is also
compiled to SQL in both layouts (size and generation time).

    nice python bench/tree_export.py                       # 1M rows, forest and boosting
    nice python bench/tree_export.py --classes 3 --rows 200000 --models forest
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
MODELS = {
    "forest": ("sklearn.ensemble.RandomForestClassifier", "{n_estimators: 100, max_depth: 8}"),
    "boosting": ("sklearn.ensemble.HistGradientBoostingClassifier", "{max_iter: 100}"),
}


def features(rows: int, seed: int) -> dict[str, Any]:
    """``rows`` rows of 20 uniform features in [-1, 1], one float64 array per column."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return {f"f{i}": rng.uniform(-1, 1, rows) for i in range(FEATURES)}


def training_table(classes: int) -> Any:
    """20k rows; the label leans on a few features (``classes`` bands of the same score)."""
    import numpy as np
    import pyarrow as pa

    columns = features(20_000, 1)
    f = [columns[f"f{i}"] for i in range(6)]
    score = f[0] + f[1] * f[2] - f[3] * f[3] + 0.5 * f[4] + 0.3 * np.sin(6 * f[5])
    cuts = np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1])
    return pa.table({**columns, "target": np.digitize(score, cuts)})


def train_model(root: Path, name: str, classes: int) -> Any:
    from sqlml.ml.spec import load_spec
    from sqlml.ml.train import train

    estimator, params = MODELS[name]
    metric = "accuracy" if classes > 2 else "roc_auc"
    path = root / "ml" / f"{name}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"owner: bench\nrelation: ref('training')\ntarget: target\ntask: classification\n"
        f"metrics: [{metric}]\nestimator:\n  class: {estimator}\n  params: {params}\n"
    )
    return train(load_spec(path, f"ml/{name}.yml"), training_table(classes))


def session(onnx_bytes: bytes, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 4
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


def best_of(repeat: int, runs: dict[str, Callable[[], Any]]) -> dict[str, tuple[float, float]]:
    """Best wall and CPU seconds of each run, the runs alternating."""
    wall: dict[str, float] = {name: float("inf") for name in runs}
    cpu: dict[str, float] = dict(wall)
    for _ in range(repeat):
        for name, run in runs.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            run()
            wall[name] = min(wall[name], time.perf_counter() - started)
            cpu[name] = min(cpu[name], time.process_time() - started_cpu)
    return {name: (wall[name], cpu[name]) for name in runs}


def measure(model: Any, rows: int, repeat: int, sql: bool) -> list[str]:
    """Markdown rows: rows/s of both layouts, and the earlier/current ratio."""
    import numpy as np

    from sqlml.ml.onnx_convert import convert
    from sqlml.ml.onnx_export import export_onnx

    layouts = {
        "earlier": convert(model, compact_trees=False).SerializeToString(),
        "current": export_onnx(model).onnx_bytes,
    }
    feed = {name: values.reshape(-1, 1) for name, values in features(rows, 2).items()}
    outputs = {}
    for name, onnx_bytes in layouts.items():  # same scores, whichever the layout
        outputs[name] = session(onnx_bytes, 1).run(["probabilities"], feed)[0]
    difference = float(np.abs(outputs["earlier"] - outputs["current"]).max())
    lines = []
    for threads in (1, os.cpu_count() or 1):
        sessions = {name: session(blob, threads) for name, blob in layouts.items()}
        runs = {name: (lambda s=s: s.run(None, feed)) for name, s in sessions.items()}
        best = best_of(repeat, runs)
        (old_wall, old_cpu), (new_wall, new_cpu) = best["earlier"], best["current"]
        cells = [
            f"{threads}",
            f"{rows / old_wall / 1e3:,.0f}k/s",
            f"{rows / new_wall / 1e3:,.0f}k/s",
            f"{old_wall / new_wall:.2f}x",
        ]
        if threads == 1:
            cells.append(f"{old_cpu / new_cpu:.2f}x")
        else:
            cells.append("")
        lines.append(" | ".join(cells))
    lines.append(f"largest difference between the layouts' probabilities: {difference:.2g}")
    if sql:
        lines.append(sql_sizes(layouts))
    return lines


def sql_sizes(layouts: dict[str, bytes]) -> str:
    from sqlml.ml.sqlmodel import compile_model

    parts = []
    for name, onnx_bytes in layouts.items():
        started = time.perf_counter()
        text = compile_model(onnx_bytes).sql("scoring")
        seconds = time.perf_counter() - started
        parts.append(f"{name} {len(text) / 1e6:.2f} MB in {seconds:.1f} s")
    return "SQL: " + ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--models", default="forest,boosting", help="forest, boosting")
    parser.add_argument("--classes", type=int, default=2, help="2 (binary) or more")
    parser.add_argument("--repeat", type=int, default=3, help="runs per layout (best kept)")
    parser.add_argument("--sql", action="store_true", help="also compile the forest to SQL")
    args = parser.parse_args()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    print(f"{args.rows:,} rows x {FEATURES} features, {args.classes} classes; rows/s of "
          "onnxruntime alone, earlier layout vs current\n")  # fmt: skip
    print("| model | threads | earlier | current | current / earlier (wall) | (CPU time) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as root:
        notes = []
        for name in names:
            model = train_model(Path(root), name, args.classes)
            lines = measure(model, args.rows, args.repeat, args.sql and name == "forest")
            for line in lines:
                if " | " in line:
                    print(f"| {name} | {line} |", flush=True)
                else:
                    notes.append(f"{name}: {line}")
        print()
        for note in notes:
            print(note)


if __name__ == "__main__":
    main()
