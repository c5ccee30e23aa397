"""A tiny project with an export, and a real HTTP receiver on loopback that can misbehave."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.projectfactory import MINIMAL_PROJECT, write_project


def scores_csv(rows: list[tuple[int, float, str]]) -> str:
    return "customer_id,risk,name\n" + "".join(f"{i},{r},{n}\n" for i, r, n in rows)


ROWS = [(i, round(i / 10, 2), f"c{i}") for i in range(1, 11)]


def shop(root: Path, export_yaml: str, rows: list[tuple[int, float, str]] = ROWS) -> Path:
    """A project: model `scores` reads data/scores.csv, `other` is independent; one export."""
    return write_project(
        root,
        {
            "project.yml": MINIMAL_PROJECT,
            "data/scores.csv": scores_csv(rows),
            "models/scores.sql": "select * from read_csv('data/scores.csv')",
            "models/other.sql": "select 1 as one",
            "exports/risky.yml": export_yaml,
        },
    )


class Receiver:
    """Accepts JSON batches, keeps each idempotency key's rows once, and fails on request.

    ``script`` lists what the next requests get: an HTTP status to fail with, ``"slow"`` (the
    batch is stored but the answer comes after the client gave up), or ``"ok"``; once it is
    used up every request succeeds (or fails with ``always`` when set).
    """

    def __init__(self, script: list[Any] | None = None, always: int | None = None) -> None:
        self.script = list(script or [])
        self.always = always
        self.batches: dict[str, list[dict[str, Any]]] = {}
        self.bodies: dict[str, bytes] = {}
        self.requests = 0
        self.duplicates = 0
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [row for batch in self.batches.values() for row in batch]

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers["Content-Length"]))
        key = handler.headers["Idempotency-Key"]
        with self.lock:
            self.requests += 1
            self.headers.append(dict(handler.headers))
            step = self.script.pop(0) if self.script else (self.always or "ok")
        if isinstance(step, int):
            handler.send_response(step)
            handler.end_headers()
            return
        with self.lock:
            if key in self.batches:
                self.duplicates += 1
                assert self.bodies[key] == body, "one idempotency key, two different bodies"
            else:
                self.batches[key] = json.loads(body)["rows"]
                self.bodies[key] = body
        if step == "slow":
            time.sleep(1.0)
        handler.send_response(200)
        handler.end_headers()
        handler.wfile.write(b"{}")


@contextmanager
def receiving(receiver: Receiver) -> Iterator[str]:
    """Serve ``receiver`` on a free loopback port; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            # A client that gave up waiting closed the connection: the batch is stored anyway.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                receiver.handle(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/import"
    finally:
        server.shutdown()
        server.server_close()
