"""Rendering and parsing on two cores: a helper process takes chunks of the work.

Compiling a large project from scratch is CPU-bound Python (Jinja compiling templates,
sqlglot parsing), so threads do not help; a second process does. When enough work is
uncached, the compiler starts ``python -m sqlml.compiler.helper`` and shares each batch of
work with it: a feeder thread hands the helper chunks from the front of the batch while this
process works through chunks from the back, until none are left. The helper renders and
parses with the same functions as this process, so results do not depend on who did the
work. If the helper cannot start or fails, this process does the rest itself.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlml.compiler.fastrender import render_fast
from sqlml.compiler.render import JinjaRenderer
from sqlml.compiler.rendercontext import RenderContext
from sqlml.compiler.sqlparse import parse_sql
from sqlml.compiler.types import Rendered
from sqlml.errors import SqlmlError

if TYPE_CHECKING:
    import subprocess

# Below this much work (in milliseconds, estimated), starting a helper costs more than it saves.
MIN_WORK_MS = 400.0
# Roughly what one item costs (ms): a template Jinja compiles, any other template, a parse.
COST_MS = {"jinja": 2.5, "template": 0.05, "parse": 0.25}
CHUNK_MS = 15.0  # work per chunk: small enough that both finish nearly together
_PROCESSES_ENV = "SQLML_COMPILE_PROCESSES"

Outcome = tuple[Any, ...]  # ("ok", value) or ("error", SqlmlError, details)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while compiling.

    Parsing leaves cyclic garbage by the million objects (sqlglot links every node to its
    parent), and with the default thresholds the collector also walks every live object
    again and again: a sixth of a cold compile of 10,000 models. Objects alive now are frozen
    (not if the application froze some itself) and the youngest generation is collected every
    50,000 allocations instead of 700; both are restored at the end.
    """
    thresholds = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(50_000, 20, 10)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if freeze:
            gc.unfreeze()


def cores() -> int:
    """How many processes compiling may use (``SQLML_COMPILE_PROCESSES`` caps it)."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    cap = os.environ.get(_PROCESSES_ENV, "")
    return min(available, int(cap)) if cap.isdigit() and int(cap) > 0 else available


class Templates:
    """What rendering needs besides each template: the vars, macros and Jinja globals."""

    def __init__(
        self,
        vars: Any,
        macros: tuple[tuple[str, str], ...],
        globals_: dict[str, Any],
    ) -> None:
        self.vars = vars
        self.macros = macros
        self.globals = globals_
        self._jinja: JinjaRenderer | None = None

    def jinja(self) -> JinjaRenderer:
        if self._jinja is None:
            self._jinja = JinjaRenderer(self.macros, self.globals)
        return self._jinja

    def render(self, item: tuple[str, str, str]) -> Outcome:
        """Render one template (name, path, source): fast path first, else Jinja."""
        name, path, source = item
        ctx = RenderContext(name, path, self.vars)
        try:
            result, ctx = self._render(ctx, source)
            if ctx.asked_incremental:
                # The template branches on is_incremental(): render the other branch too.
                incremental, _ = self._render(
                    RenderContext(name, path, self.vars, incremental=True), source
                )
                result = with_incremental(result, incremental)
        except SqlmlError as exc:
            # What the template said of itself before failing still counts (e.g. ephemeral).
            return ("error", exc, dict(ctx.config))
        return ("ok", result)

    def _render(self, ctx: RenderContext, source: str) -> tuple[Rendered, RenderContext]:
        result = render_fast(ctx, source, self.jinja() if self.macros else None)
        if result is None:
            ctx = RenderContext(ctx.node, ctx.path, self.vars, incremental=ctx.incremental)
            result = self.jinja().render(ctx, source)
        return result, ctx

    def __getstate__(self) -> dict[str, Any]:
        return {"vars": self.vars, "macros": self.macros, "globals": self.globals}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["vars"], state["macros"], state["globals"])  # type: ignore[misc]


def with_incremental(full: Rendered, incremental: Rendered) -> Rendered:
    """``full`` carrying the is_incremental() variant's text; refs made by either count."""
    seen = {(c.kind, c.args) for c in full.refs}
    extra = tuple(c for c in incremental.refs if (c.kind, c.args) not in seen)
    return replace(
        full,
        text=full.text,
        refs=full.refs + extra,
        env_vars={**full.env_vars, **incremental.env_vars},
        incremental_text=incremental.text,
    )


def parse(item: tuple[str, str, str, str]) -> Outcome:
    """Parse one node's SQL: (sql, node, compiled path, source path)."""
    sql, node, compiled_path, source_path = item
    try:
        return (
            "ok",
            parse_sql(sql, node=node, compiled_path=compiled_path, source_path=source_path),
        )
    except SqlmlError as exc:
        return ("error", exc, None)


class Helper:
    """A helper process, started only when asked for work (and never if one core)."""

    def __init__(self, templates: Templates) -> None:
        self._templates = templates
        self._process: subprocess.Popen[bytes] | None = None
        self._failed = cores() < 2

    def start_if(self, work_ms: float) -> None:
        """Start the helper now (it boots while this process works) if ``work_ms`` of work,
        estimated, is worth sharing."""
        if self._process is None and not self._failed and work_ms >= MIN_WORK_MS:
            self._started()

    def _started(self) -> subprocess.Popen[bytes] | None:
        import subprocess  # only when a helper is started: it costs a few ms to import

        if self._process is None and not self._failed:
            # The helper imports this very sqlml, wherever it was imported from.
            package_parent = str(Path(__file__).resolve().parents[2])
            path = os.environ.get("PYTHONPATH")
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [package_parent, path])),
            }
            try:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "sqlml.compiler.helper"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    env=env,
                )
                self._send(("init", (_package(), self._templates)))
            except Exception:  # cannot start, or the vars cannot be pickled: work alone
                self._fail()
        return self._process

    def _send(self, message: Any) -> None:
        assert self._process is not None and self._process.stdin is not None
        pickle.dump(message, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self._process.stdin.flush()

    def _receive(self) -> Any:
        assert self._process is not None and self._process.stdout is not None
        return pickle.load(self._process.stdout)

    def _fail(self) -> None:
        self._failed = True
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
            for pipe in (process.stdin, process.stdout):
                with contextlib.suppress(OSError):
                    pipe.close()  # type: ignore[union-attr]

    def share(
        self,
        kind: str,
        items: Sequence[Any],
        local: Callable[[Any], Outcome],
        cost_ms: Sequence[float],
    ) -> list[Outcome]:
        """``[local(item) for item in items]``, with the helper doing part of it.

        ``cost_ms`` estimates each item's cost; the helper takes chunks from the front and
        this process from the back, so the costly items are best put first.
        """
        if not items:
            return []
        self.start_if(sum(cost_ms))
        if self._process is None:
            return [local(item) for item in items]
        chunks = deque(_chunks(items, cost_ms))
        results: dict[int, list[Outcome]] = {}
        lost: list[tuple[int, list[Any]]] = []
        feeder = threading.Thread(target=self._feed, args=(kind, chunks, results, lost))
        feeder.start()
        try:
            while True:
                try:
                    index, chunk = chunks.pop()
                except IndexError:
                    break
                results[index] = [local(item) for item in chunk]
        finally:
            feeder.join()
        for index, chunk in lost:  # what the helper had not answered when it failed
            results[index] = [local(item) for item in chunk]
        return [outcome for index in sorted(results) for outcome in results[index]]

    def _feed(
        self,
        kind: str,
        chunks: deque[tuple[int, list[Any]]],
        results: dict[int, list[Outcome]],
        lost: list[tuple[int, list[Any]]],
    ) -> None:
        """Keep two chunks in the helper's hands until none are left."""
        in_flight: deque[tuple[int, list[Any]]] = deque()
        try:
            if self._started() is None:
                return
            while True:
                while len(in_flight) < 2:
                    try:
                        chunk = chunks.popleft()
                    except IndexError:
                        break
                    in_flight.append(chunk)
                    self._send((kind, chunk[1]))
                if not in_flight:
                    return
                answer = self._receive()
                index, _ = in_flight.popleft()
                results[index] = answer
        except Exception:  # the helper died or answered nonsense: this process takes over
            lost.extend(in_flight)
            self._fail()

    def close(self) -> None:
        """Tell the helper to exit; a thread reaps it (its exit takes tens of milliseconds)."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.close()
        except OSError:
            process.kill()

        def reap() -> None:
            import subprocess

            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()  # type: ignore[union-attr]

        threading.Thread(target=reap, name="sqlml-helper-reaper", daemon=True).start()


def _package() -> str:
    """Where this sqlml was imported from: the helper must run the same code."""
    return str(Path(__file__).resolve().parent)


def _chunks(items: Sequence[Any], cost_ms: Sequence[float]) -> list[tuple[int, list[Any]]]:
    chunks: list[tuple[int, list[Any]]] = []
    chunk: list[Any] = []
    cost = 0.0
    for item, item_cost in zip(items, cost_ms, strict=True):
        chunk.append(item)
        cost += item_cost
        if cost >= CHUNK_MS:
            chunks.append((len(chunks), chunk))
            chunk, cost = [], 0.0
    if chunk:
        chunks.append((len(chunks), chunk))
    return chunks
