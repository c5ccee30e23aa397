"""What a template sees while it renders: `ref`, `source`, `var`, `env_var`, `config`,
`is_incremental` and `this`, bound to one node's `RenderContext`, which records each call.

`ref()` and `this` render as placeholders; the compiler swaps in relation names once every
node's configuration (and so its schema and alias) is known. That keeps rendering independent
of other files, so its result can be cached by content.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from sqlml.compiler.types import Call, Rendered
from sqlml.errors import CompileError, Location

PLACEHOLDER = "\x1fref\x1e{}\x1f"
PLACEHOLDER_RE = re.compile("\x1fref\x1e([^\x1f]*)\x1f")
THIS = "\x1fthis\x1f"


class _Missing:
    pass


# Environment variables read by any render while `recording_env_reads` is active.
_env_reads: ContextVar[dict[str, str | None] | None] = ContextVar("env_reads", default=None)


@contextmanager
def recording_env_reads() -> Iterator[dict[str, str | None]]:
    """Collect every environment variable templates read (name -> value) in this block."""
    reads: dict[str, str | None] = {}
    token = _env_reads.set(reads)
    try:
        yield reads
    finally:
        _env_reads.reset(token)


MISSING = _Missing()


@dataclass
class RenderContext:
    """Per-node state of one render: the functions a template sees, and what they recorded."""

    node: str
    path: str
    vars: Mapping[str, Any]
    refs: list[Call] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    config_line: int = 0
    env_vars: dict[str, str | None] = field(default_factory=dict)
    # Set while the fast path evaluates a tag, so calls know their position.
    position: tuple[int, int] | None = None
    # What is_incremental() answers, and whether the template asked: only a template that
    # asks renders a second time, with the answer True.
    incremental: bool = False
    asked_incremental: bool = False

    def functions(self) -> dict[str, Callable[..., Any]]:
        return {
            "ref": self.ref,
            "source": self.source,
            "var": self.var,
            "env_var": self.env_var,
            "config": self.set_config,
            "is_incremental": self.is_incremental,
        }

    def _where(self) -> tuple[int, int]:
        if self.position is not None:
            return self.position
        return _template_line(), 0

    def ref(self, name: str, *rest: str) -> str:
        if rest or not isinstance(name, str):
            line, column = self._where()
            raise CompileError(
                "ref() takes one model name",
                node=self.node,
                location=Location(self.path, line, column),
                hint="write {{ ref('model_name') }}",
            )
        line, column = self._where()
        self.refs.append(Call((name,), line, column))
        return PLACEHOLDER.format(name)

    def source(self, source: str, table: str, *rest: str) -> str:
        line, column = self._where()
        if rest or not isinstance(source, str) or not isinstance(table, str):
            raise CompileError(
                "source() takes a source name and a table name",
                node=self.node,
                location=Location(self.path, line, column),
                hint="write {{ source('source_name', 'table_name') }}",
            )
        self.refs.append(Call((source, table), line, column, kind="source"))
        return PLACEHOLDER.format(f"{source}.{table}")

    def var(self, name: str, default: Any = MISSING) -> Any:
        if name in self.vars:
            return self.vars[name]
        if default is not MISSING:
            return default
        line, column = self._where()
        raise CompileError(
            f"var '{name}' is not defined",
            node=self.node,
            location=Location(self.path, line, column),
            hint=f"define it under `vars:` in project.yml, pass --vars '{{{name}: ...}}', "
            f"or give a default: var('{name}', ...)",
        )

    def env_var(self, name: str, default: Any = MISSING) -> Any:
        value = os.environ.get(name)
        self.env_vars[name] = value
        reads = _env_reads.get()
        if reads is not None:
            reads[name] = value
        if value is not None:
            return value
        if default is not MISSING:
            return default
        line, column = self._where()
        raise CompileError(
            f"environment variable '{name}' is not set",
            node=self.node,
            location=Location(self.path, line, column),
            hint=f"export {name}=... or give a default: env_var('{name}', ...)",
        )

    def set_config(self, **kwargs: Any) -> str:
        self.config.update(kwargs)
        self.config_line = self._where()[0]
        return ""

    def is_incremental(self) -> bool:
        self.asked_incremental = True
        return self.incremental


def _template_line() -> int:
    """The source line of the innermost Jinja template frame calling us (0 when unknown)."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        if template is not None:
            return int(template.get_corresponding_lineno(frame.f_lineno))
        frame = frame.f_back
    return 0


def result(ctx: RenderContext, text: str) -> Rendered:
    """What ``ctx`` recorded while rendering ``text``."""
    return Rendered(
        text=text,
        refs=tuple(ctx.refs),
        config=dict(ctx.config),
        config_line=ctx.config_line,
        env_vars=dict(ctx.env_vars),
    )
