"""Render a model template once, in a sandboxed Jinja environment holding the project's
macros, recording the `ref`/`config`/`var`/`env_var` calls it makes (see
`sqlml.compiler.rendercontext`). Templates whose tags are all simple are rendered without
Jinja first (`sqlml.compiler.fastrender`). Jinja's errors are translated here, into
CompileErrors in the template file's coordinates.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from sqlml.batch import BATCH_END, BATCH_START
from sqlml.compiler.rendercontext import THIS, RenderContext, result
from sqlml.compiler.types import Rendered
from sqlml.errors import CompileError, Location

_TEST_BLOCK = re.compile(r"\{%(-?)\s*(test)\s+(\w+)|\{%(-?)\s*(endtest)\s*(-?)%\}")


def _as_macro(match: re.Match[str]) -> str:
    if match.group(2):
        return "{%" + match.group(1) + " macro test_" + match.group(3)
    return "{%" + (match.group(4) or "") + " endmacro " + (match.group(6) or "") + "%}"


class JinjaRenderer:
    """A sandboxed Jinja environment with the project's macros, shared by every render."""

    def __init__(
        self,
        macros: tuple[tuple[str, str], ...],
        globals_: Mapping[str, Any],
        *,
        share_compiled: bool = True,
    ):
        from jinja2 import StrictUndefined
        from jinja2.sandbox import SandboxedEnvironment

        self.env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self.globals = dict(globals_)
        # Compiled skeletons (see sqlml.compiler.skeleton), None when one does not compile.
        self.skeletons: dict[str, Any] | None = {} if share_compiled else None
        # `{% test name(...) %}` blocks are macros named test_name, as in dbt.
        self._macro_sources = tuple(
            (path, _TEST_BLOCK.sub(_as_macro, text)) for path, text in macros
        )
        macros = self._macro_sources
        self._macro_templates: list[Any] | None = None
        self.macro_names = frozenset(
            m.group(1) for _, text in macros for m in re.finditer(r"\{%-?\s*macro\s+(\w+)", text)
        )

    def _compile(self, source: str, path: str) -> Any:
        from jinja2 import TemplateSyntaxError

        try:
            code = self.env.compile(source, name=path, filename=path)
        except TemplateSyntaxError as exc:
            raise CompileError(
                f"template syntax error: {exc.message}",
                location=Location(path, exc.lineno or 0),
                hint="check the {{ }} and {% %} tags on that line",
            ) from None
        return self.env.template_class.from_code(self.env, code, self.env.globals, None)

    def macros(self) -> list[Any]:
        if self._macro_templates is None:
            self._macro_templates = [
                self._compile(text, path) for path, text in self._macro_sources
            ]
        return self._macro_templates

    def namespace(
        self, ctx: RenderContext, source: str, extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """What a template sees: globals, the node's functions, ``this``, ``extra``, and the
        macros when ``source`` names one (their modules run now, in this namespace)."""
        namespace: dict[str, Any] = {
            **self.globals,
            **ctx.functions(),
            "this": THIS,
            "start": BATCH_START,
            "end": BATCH_END,
        }
        namespace.update(extra or {})
        if self.macro_names and any(name in source for name in self.macro_names):
            for macro_template in self.macros():
                module = macro_template.make_module(namespace, shared=True)
                for name in dir(module):
                    if not name.startswith("_"):
                        namespace[name] = getattr(module, name)
        return namespace

    def render(
        self, ctx: RenderContext, source: str, *, extra: Mapping[str, Any] | None = None
    ) -> Rendered:
        """Render ``source`` for one node; Jinja errors come back in the file's coordinates.

        ``extra`` adds variables to the template's namespace (used to call test macros).
        """
        if self.skeletons is not None:
            from sqlml.compiler.skeleton import render_shared

            shared = render_shared(self, ctx, source, extra)
            if shared is not None:
                return shared
        template = self._compile(source, ctx.path)
        try:
            text = template.render(self.namespace(ctx, source, extra))
        except CompileError:
            raise
        except Exception as exc:  # a template error: translate here, the one boundary
            frames = _template_frames(exc)
            path, line = frames[-1] if frames else (ctx.path, 0)
            message = f"template error: {_describe(exc)}"
            calls = [f"{p}:{n}" for p, n in frames[:-1] if p == ctx.path]
            if path != ctx.path and calls:
                message += f" (called from {calls[-1]})"
            raise CompileError(
                message,
                node=ctx.node,
                location=Location(path, line),
                hint=_hint_for(exc),
            ) from None
        return result(ctx, text)


def _template_frames(exc: BaseException) -> list[tuple[str, int]]:
    """Template files and lines in a traceback Jinja has rewritten, outermost first."""
    import traceback

    return [
        (frame.filename, frame.lineno or 0)
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename.endswith(".sql") and not os.path.isabs(frame.filename)
    ]


def _describe(exc: BaseException) -> str:
    from jinja2 import UndefinedError

    if isinstance(exc, UndefinedError):
        return str(exc.message)
    return f"{type(exc).__name__}: {exc}"


def _hint_for(exc: BaseException) -> str | None:
    from jinja2 import UndefinedError

    if isinstance(exc, UndefinedError) and "is undefined" in str(exc.message):
        return (
            "check the spelling; functions available are ref, var, env_var, config, this, "
            "is_incremental and the project's macros"
        )
    return None
