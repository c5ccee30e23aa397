"""`sqlml serve` as a user starts it: a process, a port, a token from the environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.serve.helpers import call, churn_onnx, churn_training_table, register


@pytest.mark.slow
def test_the_command_serves_the_project_warehouse_with_a_token(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"project.yml": MINIMAL_PROJECT})
    register(root / "warehouse.duckdb", "churn", churn_onnx())
    env = {**os.environ, "SQLML_SERVE_TOKEN": "t0ken"}
    command = [sys.executable, "-m", "sqlml", "serve", "--port", "0", "--project-dir", str(root)]
    server = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        assert line.startswith("Serving at http://127.0.0.1:")
        assert line.endswith(" (bearer token required); Ctrl-C stops\n")
        url = line.split()[2]
        rows = churn_training_table().drop(["churned"]).slice(0, 3).to_pylist()

        assert call(f"{url}/v1/health")[0] == 200
        assert call(f"{url}/v1/models/churn/predict", "POST", {"rows": rows})[0] == 401
        status, document = call(
            f"{url}/v1/models/churn/predict", "POST", {"rows": rows}, token="t0ken"
        )
        assert (status, document["version"], len(document["predictions"])) == (200, 1, 3)
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C
        server.wait(timeout=60)
    assert server.returncode == 0


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    from click.testing import CliRunner

    from sqlml.cli.main import cli

    root = write_project(tmp_path, {"project.yml": MINIMAL_PROJECT})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port), "--project-dir", str(root)])

    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}: ")
    assert result.stderr.endswith("hint: choose another port with --port (0 picks a free one)\n")
