"""A tiny alert receiver for the example project: prints each monitor alert sqlml POSTs.

Start it in one terminal, point the example's webhook at it in another, and run a shifted day::

    python data/webhook_receiver.py --port 8765 --log target/alerts.jsonl
    export SQLML_ALERT_WEBHOOK=http://127.0.0.1:8765/alerts
    python data/generate.py --append-day --shifted && sqlml run

Each alert is printed as one line (monitor, severity, owner, model and version, the worst
figures) and, with ``--log``, appended to a JSON Lines file as received. It answers 200 to
every POST of JSON and 400 to anything else; it listens on loopback only by default. Stop it
with Ctrl-C. Only the standard library is used, so it runs on any Python 3.11.
"""

from __future__ import annotations

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def describe(alert: dict[str, Any]) -> str:
    """One line for a received alert: who is told what about which model."""
    version = f" v{alert['version']}" if alert.get("version") is not None else ""
    model = f", model {alert['model']}{version}" if alert.get("model") else ""
    figures = [_figure(m) for m in alert.get("metrics", [])[:3]]
    more = len(alert.get("metrics", [])) - len(figures)
    tail = "; ".join(figures) + (f"; {more} more" if more > 0 else "")
    return (
        f"{alert.get('severity', '?').upper()} {alert.get('monitor')} ({alert.get('type')}) "
        f"for {alert.get('owner') or 'no owner'}{model}: {tail}"
    )


def _figure(metric: dict[str, Any]) -> str:
    column = f"[{metric['column']}]" if metric.get("column") else ""
    return f"{metric['metric']}{column}={_number(metric.get('value'))} ({metric.get('status')})"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else str(value)


def make_handler(log: Path | None) -> type[BaseHTTPRequestHandler]:
    """A request handler that prints each JSON body POSTed and appends it to ``log``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            try:
                alert = json.loads(self.rfile.read(length))
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            print(describe(alert), flush=True)
            if log is not None:
                with log.open("a") as out:
                    out.write(json.dumps(alert) + "\n")
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:  # one line per alert is enough
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log", type=Path, help="append each alert to this JSON Lines file")
    args = parser.parse_args(argv)
    if args.log is not None:
        args.log.parent.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.log))
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}/alerts", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
