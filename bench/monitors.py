"""Benchmark the drift suite in DuckDB against pandas/NumPy/SciPy on the same data, same run.

    .venv/bin/python bench/monitors.py --small            # 200,000 rows x 20 features
    nice .venv/bin/python bench/monitors.py               # 10,000,000 rows x 20 features
    .venv/bin/python bench/monitors.py --rows 2000000 --phases drift --json out.json

Data: a reference table (the training data) and a current table of ``--rows`` rows each, made
in DuckDB from seeded ``random()``: 16 numeric features (8 continuous normals, 8 rounded to
whole numbers, as counts and ages are; every fourth one shifted by 0.5 std in the current
table; 1% NULLs) and 4 categorical ones (8 categories, skewed; one shifted).

Phases, each timed on both sides:

- profile: sqlml's `write_profile` (summary statistics, quantile edges, bin shares and the
  distinct reference values, all stored in the warehouse) vs NumPy/pandas computing the same
  statistics, edges and bin shares in memory (the baseline keeps the raw reference arrays);
- drift: sqlml's `columns_drift` over every feature (PSI, JS distance, KS, Wasserstein ÷ std for
  numerics; PSI, JS, L-infinity, chi-square for categoricals; NULL, out-of-range and unseen
  shares), in SQL against the stored profile, vs NumPy bins + ``scipy.spatial.distance.
  jensenshannon`` + ``scipy.stats.ks_2samp`` + ``scipy.stats.wasserstein_distance`` +
  ``scipy.stats.chisquare`` on the in-memory arrays.

Fetching the tables into NumPy/pandas is timed on its own line and not charged to the
baseline's phases (a baseline that already holds the data in memory). The largest difference
between the two sides' figures is printed: they must agree to 1e-9.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sqlml.engine.duckdb import DuckDBEngine
from sqlml.monitor.drift import EPSILON, columns_drift
from sqlml.monitor.profile import ProfileColumn, write_profile

NUMERIC = 16
CATEGORICAL = 4
CATEGORIES = 8
BINS = 10


def make_data(engine: DuckDBEngine, rows: int, seed: float) -> list[ProfileColumn]:
    """Create tables ``ref`` and ``cur`` with ``rows`` rows each."""
    columns: list[ProfileColumn] = []
    for table, shift in (("ref", 0.0), ("cur", 0.5)):
        engine.execute(f"select setseed({seed if table == 'ref' else seed / 2})")
        parts = []
        for i in range(NUMERIC):
            moved = shift if i % 4 == 0 else 0.0
            normal = f"(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) + {moved})"
            value = f"round({normal} * 15 + 40)" if i % 2 else normal
            parts.append(f"case when random() < 0.01 then null else {value} end as n{i}")
        for i in range(CATEGORICAL):
            moved = 0.5 * shift if i == 0 else 0.0
            # Category k with probability ~ 0.6^k: a skewed, realistic mix.
            pick = f"least(floor(ln(1 - random()) / ln(0.6) - {moved} * 2), {CATEGORIES - 1})"
            parts.append(f"'c' || greatest({pick}, 0)::INTEGER as k{i}")
        engine.execute(f"create or replace table {table} as select {', '.join(parts)} "
                       f"from range({rows})")  # fmt: skip
    columns += [ProfileColumn(f"n{i}", "numeric") for i in range(NUMERIC)]
    columns += [ProfileColumn(f"k{i}", "categorical") for i in range(CATEGORICAL)]
    return columns


def sqlml_profile(engine: DuckDBEngine, columns: list[ProfileColumn]) -> Any:
    return write_profile(engine, "_sqlml", profile="bench", version=1,
                         source_sql="select * from ref", columns=columns, bins=BINS)  # fmt: skip


def sqlml_drift(engine: DuckDBEngine, profile: Any) -> dict[str, dict[str, float | None]]:
    drifts = columns_drift(
        engine, "_sqlml", "bench", 1, list(profile.columns.values()), "select * from cur"
    )
    return {drift.column: dict(drift.metrics) for drift in drifts}


def fetch(engine: DuckDBEngine, table: str) -> dict[str, np.ndarray]:
    return engine.cursor().execute(f"select * from {table}").fetchnumpy()


def numpy_profile(ref: dict[str, np.ndarray], columns: list[ProfileColumn]) -> dict[str, Any]:
    """Summary statistics, quantile edges and bin shares, as sqlml stores them."""
    import pandas as pd

    out: dict[str, Any] = {}
    for column in columns:
        raw = ref[column.name]
        if column.kind == "numeric":
            x = np.asarray(raw.filled(np.nan) if np.ma.isMaskedArray(raw) else raw, dtype=float)
            present = x[~np.isnan(x)]
            cuts = np.quantile(present, [i / BINS for i in range(1, BINS)])
            edges = np.unique(np.concatenate([[present.min()], cuts, [present.max()]]))
            std = float(np.std(present))
            shares = _shares(_bins(x, edges), len(edges) + 2)
            out[column.name] = {"x": present, "edges": edges, "std": std, "shares": shares,
                                "null_rate": 1 - len(present) / len(x)}  # fmt: skip
        else:
            values = pd.Series(raw.filled(None) if np.ma.isMaskedArray(raw) else raw)
            counts = values.value_counts(dropna=True)
            out[column.name] = {"counts": counts, "n": len(values)}
    return out


def numpy_drift(
    profile: dict[str, Any], cur: dict[str, np.ndarray], columns: list[ProfileColumn]
) -> dict[str, dict[str, float]]:
    import pandas as pd
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import chisquare, ks_2samp, wasserstein_distance

    out: dict[str, dict[str, float]] = {}
    for column in columns:
        ref = profile[column.name]
        raw = cur[column.name]
        if column.kind == "numeric":
            x = np.asarray(raw.filled(np.nan) if np.ma.isMaskedArray(raw) else raw, dtype=float)
            present = x[~np.isnan(x)]
            p, q = ref["shares"], _shares(_bins(x, ref["edges"]), len(ref["shares"]))
            std = ref["std"] or 1.0
            outside = (present < ref["edges"][0]) | (present > ref["edges"][-1])
            out[column.name] = {
                "psi": _psi(p, q),
                "js_distance": float(jensenshannon(p, q, base=2)),
                "ks": float(ks_2samp(ref["x"], present).statistic),
                "wasserstein": float(wasserstein_distance(ref["x"], present)) / std,
                "null_rate": 1 - len(present) / len(x),
                "out_of_range": float(outside.mean()),
            }
        else:
            values = pd.Series(raw.filled(None) if np.ma.isMaskedArray(raw) else raw)
            counts = values.value_counts(dropna=True)
            known = list(ref["counts"].index)
            p = np.array([1 - ref["counts"].sum() / ref["n"], 0.0,
                          *(ref["counts"] / ref["n"])])  # fmt: skip
            current = counts.reindex(known, fill_value=0)
            other = counts.sum() - current.sum()
            q = np.array([values.isna().mean(), other / len(values), *(current / len(values))])
            smooth = np.maximum(p, EPSILON) / np.maximum(p, EPSILON).sum()
            out[column.name] = {
                "psi": _psi(p, q),
                "js_distance": float(jensenshannon(p, q, base=2)),
                "linf": float(np.max(np.abs(p - q))),
                "chi2": float(chisquare(q * len(values), smooth * len(values)).statistic),
                "null_rate": float(values.isna().mean()),
            }
    return out


def _bins(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    out = np.zeros(len(x), dtype=np.int64)
    ok = ~np.isnan(x)
    inner = np.searchsorted(edges[1:-1], x[ok], side="right") + 2
    inner[x[ok] < edges[0]] = 1
    inner[x[ok] > edges[-1]] = max(len(edges) - 1, 1) + 2
    out[ok] = inner
    return out


def _shares(bins: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(bins, minlength=size) / len(bins)


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    pe, qe = np.maximum(p, EPSILON), np.maximum(q, EPSILON)
    return float(np.sum((qe - pe) * np.log(qe / pe)))


def timed(function: Any, *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--small", action="store_true", help="200,000 rows (a quick check)")
    parser.add_argument("--seed", type=float, default=0.42)
    parser.add_argument(
        "--phases",
        default="profile,drift",
        help="phases to time and compare: profile, drift or both (drift needs a profile: "
        "without the profile phase it is built, untimed)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rows = 200_000 if args.small else args.rows
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or set(phases) - {"profile", "drift"}:
        parser.error("--phases: profile, drift or profile,drift")
    features = NUMERIC + CATEGORICAL
    with tempfile.TemporaryDirectory(prefix="sqlml-bench-monitors-") as folder:
        engine = DuckDBEngine(Path(folder) / "warehouse.duckdb")
        columns, make_s = timed(make_data, engine, rows, args.seed)
        print(f"made {rows:,} rows x 2 tables in {make_s:.1f} s", flush=True)
        profile, profile_s = timed(sqlml_profile, engine, columns)
        drift: dict[str, dict[str, float | None]] = {}
        drift_s = 0.0
        if "drift" in phases:
            drift, drift_s = timed(sqlml_drift, engine, profile)
        print(f"sqlml: profile {profile_s:.1f} s, drift {drift_s:.1f} s", flush=True)
        (ref, cur), fetch_s = timed(lambda: (fetch(engine, "ref"), fetch(engine, "cur")))
        engine.close()
    base_profile, base_profile_s = timed(numpy_profile, ref, columns)
    base_drift: dict[str, dict[str, float]] = {}
    base_drift_s = 0.0
    if "drift" in phases:
        base_drift, base_drift_s = timed(numpy_drift, base_profile, cur, columns)
    timings = {"profile": (profile_s, base_profile_s), "drift": (drift_s, base_drift_s)}
    if "drift" in phases:
        worst = max(
            abs((drift[c][m] or 0.0) - value)
            for c, metrics in base_drift.items()
            for m, value in metrics.items()
        )
    else:
        worst = max(
            max(abs((profile.columns[c].std or 0.0) - ours["std"]),
                *(abs(b[3] - share) for b, share in
                  zip(profile.columns[c].bins, ours["shares"], strict=True)))
            for c, ours in base_profile.items() if "std" in ours
        )  # fmt: skip
    drifted = sorted(c for c, m in drift.items() if (m.get("psi") or 0) > 0.1)
    figures = {
        "rows": rows,
        "phases": phases,
        "features": features,
        "cpus": os.cpu_count(),
        "make_data_s": make_s,
        "fetch_to_numpy_s": fetch_s,
        "sqlml_profile_s": profile_s,
        "numpy_profile_s": base_profile_s,
        "sqlml_drift_s": drift_s,
        "scipy_drift_s": base_drift_s,
        "max_abs_difference": worst,
        "drifted_psi_over_0.1": drifted,
    }
    print(f"{rows:,} rows x {features} features (reference and current), {os.cpu_count()} CPUs")
    print(f"  make the data in DuckDB            {make_s:8.2f} s")
    print(f"  fetch both tables into NumPy       {fetch_s:8.2f} s  (not charged to the baseline)")
    print("  phase      sqlml (DuckDB SQL)   pandas/NumPy/SciPy   ratio (baseline / sqlml)")
    lines = [(name, *timings[name]) for name in ("profile", "drift") if name in phases]
    if len(lines) == 2:
        lines.append(("both", profile_s + drift_s, base_profile_s + base_drift_s))
    for name, ours, theirs in lines:
        print(f"  {name:<9} {ours:12.2f} s {theirs:17.2f} s {theirs / ours:14.2f}x")
    print(f"  largest difference between the two sides' figures: {worst:.2e}")
    if drifted:
        print(f"  features with PSI > 0.1: {', '.join(drifted)}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
