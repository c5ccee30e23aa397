"""The endpoint and `sqlml run` side by side on one warehouse file: neither stops the other."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sqlml.serve.app import ServeSettings
from sqlml.serve.server import ServeOptions, ServerThread
from sqlml.serve.state import Refresher
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.serve.helpers import (
    S,
    call,
    churn_onnx,
    churn_training_table,
    forest_onnx,
    register,
    wait_for,
)

MODELS = {
    "project.yml": MINIMAL_PROJECT,
    "models/numbers.sql": "select range as i, range % 7 as k from range(100000)",
    "models/totals.sql": "select k, sum(i) as total from {{ ref('numbers') }} group by k",
}


@pytest.mark.slow
def test_runs_write_the_warehouse_while_requests_are_answered(tmp_path: Path) -> None:
    root = write_project(tmp_path, MODELS)
    warehouse = root / "warehouse.duckdb"
    register(warehouse, "churn", churn_onnx())
    # Re-read the warehouse every 20 ms whether it changed or not: as often as it can collide.
    refresher = Refresher(warehouse, S, max_age_s=0.0)
    refresher.refresh()
    options = ServeOptions(port=0, poll_s=0.02, log_level="warning")
    rows = churn_training_table().drop(["churned"]).slice(0, 10).to_pylist()
    statuses: list[int] = []
    versions: set[int] = set()
    done = threading.Event()

    def ask(url: str) -> None:
        while not done.is_set():
            status, document = call(url, "POST", {"rows": rows})
            statuses.append(status)
            versions.add(document.get("version", 0))

    with ServerThread(refresher, ServeSettings(), options) as server:
        asker = threading.Thread(target=ask, args=(f"{server.url}/v1/models/churn/predict",))
        asker.start()
        try:
            runs = [
                subprocess.run(
                    [sys.executable, "-m", "sqlml", "run", "--project-dir", str(root)],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                for _ in range(2)
            ]
            register(warehouse, "churn", forest_onnx())  # a writer from this process too
            wait_for(lambda: 2 in versions, "the new champion to answer")
        finally:
            done.set()
            asker.join()

    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    assert statuses and set(statuses) == {200}
    assert versions == {1, 2}
    assert refresher.state.models["churn"].version == 2
