"""Running the endpoint: uvicorn in the foreground (`serve`) or in a thread (`ServerThread`)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlml.errors import ExecutionError
from sqlml.serve.app import ServeSettings, build_app
from sqlml.serve.entities import EntitySource
from sqlml.serve.state import Refresher


@dataclass(frozen=True)
class ServeOptions:
    """Where to listen and how often to look at the warehouse.

    Args:
        host: the interface to bind (127.0.0.1: this machine only).
        port: the TCP port; 0 picks a free one.
        poll_s: seconds between two looks at the warehouse file (two ``stat`` calls).
        max_age_s: read the warehouse at least this often, even when the file did not change.
        log_level: uvicorn's log level.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    poll_s: float = 1.0
    max_age_s: float = 300.0
    log_level: str = "info"


def make_refresher(
    path: Path, schema: str, sources: Mapping[str, EntitySource], options: ServeOptions
) -> Refresher:
    """A refresher that has read the warehouse once (or noted why it could not)."""
    refresher = Refresher(path, schema, sources, max_age_s=options.max_age_s)
    refresher.refresh()
    return refresher


class ServerThread:
    """The endpoint served from a background thread, with its warehouse poller.

    Use as a context manager; ``url`` is where it listens::

        with ServerThread(refresher, ServeSettings(), ServeOptions(port=0)) as server:
            urlopen(server.url + "/v1/health")
    """

    def __init__(self, refresher: Refresher, settings: ServeSettings, options: ServeOptions):
        self.refresher = refresher
        self.options = options
        self._socket = _bind(options.host, options.port)
        host, port = self._socket.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self._server = _uvicorn(build_app(refresher, settings), options)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> ServerThread:
        serving = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        polling = threading.Thread(
            target=self.refresher.run, args=(self._stop, self.options.poll_s), daemon=True
        )
        self._threads = [serving, polling]
        for thread in self._threads:
            thread.start()
        while not self._server.started and serving.is_alive():
            serving.join(0.01)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.should_exit = True
        for thread in self._threads:
            thread.join()
        self._socket.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    refresher: Refresher,
    settings: ServeSettings,
    options: ServeOptions,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve in the foreground until interrupted (Ctrl-C or SIGTERM); ``ready`` gets the URL."""
    sock = _bind(options.host, options.port)
    host, port = sock.getsockname()[:2]
    stop = threading.Event()
    poller = threading.Thread(
        target=refresher.run, args=(stop, options.poll_s), name="sqlml-serve-poll", daemon=True
    )
    poller.start()
    try:
        if ready is not None:
            ready(f"http://{host}:{port}")
        _uvicorn(build_app(refresher, settings), options).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn shut down cleanly, then re-raised Ctrl-C: stopping is what was asked
    finally:
        stop.set()
        poller.join()
        sock.close()


def _uvicorn(app: Any, options: ServeOptions) -> Any:
    import uvicorn

    config = uvicorn.Config(
        app, log_level=options.log_level, access_log=options.log_level == "debug", lifespan="off"
    )
    return uvicorn.Server(config)


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0: a free one), so the URL is known before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Answers are written in two parts (head, body): without TCP_NODELAY the body waits for
    # the client's delayed ACK, 40 ms. Accepted connections inherit it from this socket.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ExecutionError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="choose another port with --port (0 picks a free one)",
            exit_code=2,
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


__all__ = ["ServeOptions", "ServerThread", "make_refresher", "serve"]
