"""data/webhook_receiver.py, the example's alert receiver, hearing from sqlml's webhook POST."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlml.monitor.actions import post_webhook

ROOT = Path(__file__).resolve().parents[2]
ALERT = {
    "event": "sqlml.monitor.alert",
    "monitor": "churn_drift",
    "type": "drift",
    "severity": "error",
    "model": "churn",
    "version": 1,
    "owner": "growth-analytics",
    "metrics": [
        {"metric": "psi", "column": "customer_support__tickets_to_date", "value": 1.8123,
         "threshold": "warn > 0.1, error > 0.25", "status": "error"},
        {"metric": "ks", "column": "customer_support__tickets_to_date", "value": 0.4977,
         "threshold": "warn > 0.1, error > 0.2", "status": "error"},
    ],
}  # fmt: skip


def test_the_receiver_prints_and_logs_each_alert_it_is_sent(tmp_path: Path) -> None:
    log = tmp_path / "alerts.jsonl"
    receiver = subprocess.Popen(
        [sys.executable, str(ROOT / "data/webhook_receiver.py"), "--port", "0", "--log", str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        url = receiver.stdout.readline().split()[-1]  # "listening on http://127.0.0.1:PORT/alerts"
        assert post_webhook(url, ALERT) == "200"
        line = receiver.stdout.readline().strip()
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)

    assert line == (
        "ERROR churn_drift (drift) for growth-analytics, model churn v1: "
        "psi[customer_support__tickets_to_date]=1.812 (error); "
        "ks[customer_support__tickets_to_date]=0.4977 (error)"
    )
    assert [json.loads(row) for row in log.read_text().splitlines()] == [ALERT]
