"""Benchmark `sqlml serve`: latency and throughput under a bounded load from a second process.

    .venv/bin/python bench/serve.py                       # 2,000 single rows, 200 batches of 100
    .venv/bin/python bench/serve.py --requests 5000 --clients 8 --json out.json

It trains two models on a synthetic table of 20 numeric features with sqlml's own training and
ONNX export (a logistic regression, and a random forest of 100 trees of depth 8), registers
them in a fresh warehouse, starts `sqlml serve` as a separate process on loopback, and drives
it from this process: ``--clients`` threads, each on its own keep-alive connection, send a fixed
number of requests (a bounded load: every client waits for its answer before the next
request). For single rows and batches of 100 rows it reports p50 and p99 latency, requests/s
and rows/s.

The baselines, measured in the same run on the same payloads and load: the HTTP floor, a bare
uvicorn + Starlette process that reads the body and answers a constant document (what the
stack costs before sqlml does anything; the ratio endpoint/floor is what sqlml adds);
onnxruntime's `run` in this process on inputs already converted (the compute floor); and the
rows converted from JSON by `sqlml.serve.contract.rows_to_feed` then run (the endpoint's own
work, without HTTP). Nothing is asserted.

It also times what the server's design rests on (see docs/serve.md): a refresh (open the
warehouse read-only, read both champions, close), a poll that finds the file unchanged, and
one read-only open + query + close, what reading features per request would cost.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pyarrow as pa

from sqlml.engine import connect
from sqlml.ml.onnx_export import export_onnx
from sqlml.ml.registry import promote, register_version
from sqlml.ml.spec import load_spec
from sqlml.ml.train import train
from sqlml.serve.contract import read_contract, rows_to_feed

FEATURES = 20
MODELS = {
    "logistic": ("sklearn.linear_model.LogisticRegression", "{max_iter: 1000}"),
    "forest": (
        "sklearn.ensemble.RandomForestClassifier",
        "{n_estimators: 100, max_depth: 8, random_state: 0, n_jobs: 1}",
    ),
}


def training_table(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES))
    logit = x[:, :5] @ np.array([1.5, -1.0, 0.8, 0.5, -0.3]) + 0.3 * x[:, 5] * x[:, 6]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    columns = {f"f{i:02d}": x[:, i] for i in range(FEATURES)}
    columns["label"] = y
    return pa.table(columns)


def build_project(root: Path) -> dict[str, bytes]:
    """A project folder whose warehouse holds the two champions; their ONNX bytes."""
    (root / "project.yml").write_text("name: bench\n")
    table = training_table(5000)
    engine = connect(root / "warehouse.duckdb")
    onnx = {}
    try:
        for name, (estimator, params) in MODELS.items():
            spec_path = root / "ml" / f"{name}.yml"
            spec_path.parent.mkdir(exist_ok=True)
            spec_path.write_text(
                "owner: bench\nrelation: ref('training')\ntarget: label\n"
                f"task: classification\nestimator:\n  class: {estimator}\n  params: {params}\n"
            )
            trained = train(load_spec(spec_path, f"ml/{name}.yml"), table)
            onnx[name] = export_onnx(trained).onnx_bytes
            version = register_version(
                engine, "_sqlml", model=name, owner="bench", onnx=onnx[name],
                spec_fingerprint="", data_fingerprint="", params={}, metrics={},
                cv_metrics={}, importance={}, parity={}, run_id=None,
            )  # fmt: skip
            promote(engine, "_sqlml", name, version.version, reason="bench")
    finally:
        engine.close()
    return onnx


def start_server(root: Path) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "sqlml", "serve", "--port", "0", "--project-dir", str(root)]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    assert server.stderr is not None
    line = server.stderr.readline()
    if not line.startswith("Serving at "):
        server.kill()
        raise SystemExit(f"the server did not start: {line}{server.stderr.read()}")
    return server, line.split()[2]


# The HTTP floor: the same stack (uvicorn + Starlette, one process) answering a constant JSON
# document after reading the body, with no model, no validation and no JSON parsing.
_BARE = """
import socket, sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def answer(request):
    await request.body()
    return JSONResponse({"predictions": []})

sock = socket.socket()
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
sock.bind(("127.0.0.1", 0))
sock.listen(128)
print(f"Serving at http://127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True)
app = Starlette(routes=[Route("/v1/models/{name}/predict", answer, methods=["POST"])])
uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])
"""


def start_bare() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen([sys.executable, "-c", _BARE], stderr=subprocess.PIPE, text=True)
    assert server.stderr is not None
    return server, server.stderr.readline().split()[2]


def drive(url: str, path: str, body: bytes, requests: int, clients: int) -> dict[str, float]:
    """Send ``requests`` POSTs from ``clients`` threads; latencies in ms, rates per second."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = requests // clients
    failures = []

    def client() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        connection.connect()
        # http.client writes headers and body separately: without TCP_NODELAY the body waits
        # for the server's delayed ACK (40 ms). HTTP client libraries such as urllib3 set it.
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        headers = {"Content-Type": "application/json"}
        mine = []
        for _ in range(per_client):
            started = time.perf_counter()
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                failures.append(response.status)
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    latencies.sort()
    return {
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "requests_per_s": len(latencies) / wall,
    }


def floor(onnx: bytes, rows: list[dict[str, float]], repeat: int) -> dict[str, float]:
    """onnxruntime in this process: on ready inputs, and from the JSON rows as the endpoint."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])
    contract = read_contract(onnx)
    body = json.dumps({"rows": rows}).encode()
    feed = rows_to_feed(contract, rows)

    def timed(work: Any) -> float:
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            work()
            samples.append(time.perf_counter() - started)
        return 1000 * statistics.median(samples)

    return {
        "onnxruntime_ms": timed(lambda: session.run(None, feed)),
        "json_to_scores_ms": timed(
            lambda: session.run(None, rows_to_feed(contract, json.loads(body)["rows"]))
        ),
    }


def warehouse_costs(root: Path, repeat: int = 20) -> dict[str, float]:
    """Milliseconds: a full refresh, an unchanged poll, one read-only open + query + close."""
    from sqlml.serve.state import Refresher

    warehouse = root / "warehouse.duckdb"

    def median_ms(work: Any) -> float:
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            work()
            samples.append(time.perf_counter() - started)
        return 1000 * statistics.median(samples)

    def open_query_close() -> None:
        engine = connect(warehouse, read_only=True)
        engine.execute("select count(*) from _sqlml.model_aliases")
        engine.close()

    refresher = Refresher(warehouse, "_sqlml")
    refresher.refresh()
    return {
        "refresh_ms": median_ms(lambda: Refresher(warehouse, "_sqlml").refresh()),
        "unchanged_poll_ms": median_ms(refresher.poll),
        "open_query_close_ms": median_ms(open_query_close),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="single-row requests")
    parser.add_argument("--batches", type=int, default=200, help="requests of 100 rows")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}",
        "clients": args.clients,
    }
    rows = training_table(100, seed=1).drop(["label"]).to_pylist()
    with tempfile.TemporaryDirectory(prefix="sqlml-bench-serve-") as folder:
        root = Path(folder)
        onnx = build_project(root)
        costs = warehouse_costs(root)
        results["warehouse"] = costs
        print(
            f"refresh (read-only open, 2 champions, close) {costs['refresh_ms']:.1f} ms; "
            f"unchanged poll {costs['unchanged_poll_ms'] * 1000:.0f} µs; read-only open + "
            f"query + close {costs['open_query_close_ms']:.1f} ms",
            flush=True,
        )
        server, url = start_server(root)
        bare, bare_url = start_bare()
        try:
            for name in MODELS:
                for label, batch, count in (
                    ("1 row", rows[:1], args.requests),
                    ("100 rows", rows, args.batches),
                ):
                    body = json.dumps({"rows": batch}).encode()
                    path = f"/v1/models/{name}/predict"
                    warm_up = max(args.clients * 5, count // 10)
                    drive(url, path, body, warm_up, args.clients)
                    figures = drive(url, path, body, count, args.clients)
                    figures["rows_per_s"] = figures["requests_per_s"] * len(batch)
                    drive(bare_url, path, body, warm_up, args.clients)
                    floor_http = drive(bare_url, path, body, count, args.clients)
                    figures.update({f"bare_http_{k}": v for k, v in floor_http.items()})
                    figures.update(floor(onnx[name], batch, 200))
                    figures["p50_over_bare_http"] = figures["p50_ms"] / floor_http["p50_ms"]
                    results[f"{name}, {label}"] = figures
                    print(
                        f"{name:8} {label:8}  p50 {figures['p50_ms']:6.2f} ms  "
                        f"p99 {figures['p99_ms']:6.2f} ms  {figures['requests_per_s']:7.0f} req/s  "
                        f"{figures['rows_per_s']:8.0f} rows/s  | bare HTTP p50 "
                        f"{floor_http['p50_ms']:6.2f} ms, {floor_http['requests_per_s']:5.0f} "
                        f"req/s; in-process: onnxruntime {figures['onnxruntime_ms']:.3f} ms, "
                        f"JSON->scores {figures['json_to_scores_ms']:.3f} ms",
                        flush=True,
                    )
        finally:
            for process in (server, bare):
                process.terminate()
                process.wait(timeout=60)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
