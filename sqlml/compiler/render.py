"""Render a model template once, recording the `ref`/`config`/`var`/`env_var` calls it makes.

Templates made only of simple expression tags (`{{ ref('x') }}`, `{{ var('y') }}`) are
rendered without Jinja: compiling a Jinja template costs about half a millisecond, most of a
cold compile. Anything else goes through a sandboxed Jinja environment.

`ref()` and `this` render as placeholders; the compiler swaps in relation names once every
node's configuration (and so its schema and alias) is known. That keeps rendering independent
of other files, so its result can be cached by content.
"""

from __future__ import annotations

import ast
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
# `{{ start }}` and `{{ end }}`, the bounds of a time_range model's batch: SQL that parses, and
# that the runner swaps for timestamp literals before each batch runs.
BATCH_START = "timestamp '__sqlml_batch_start__'"
BATCH_END = "timestamp '__sqlml_batch_end__'"
_BOUNDS = {"start": BATCH_START, "end": BATCH_END}

_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.S)
_TEST_BLOCK = re.compile(r"\{%(-?)\s*(test)\s+(\w+)|\{%(-?)\s*(endtest)\s*(-?)%\}")


def _as_macro(match: re.Match[str]) -> str:
    if match.group(2):
        return "{%" + match.group(1) + " macro test_" + match.group(3)
    return "{%" + (match.group(4) or "") + " endmacro " + (match.group(6) or "") + "%}"


_SIMPLE_FUNCS = frozenset({"ref", "source", "var", "env_var", "config", "is_incremental"})
# Names every template sees; a macro of one of these names takes the template to Jinja.
_BUILT_IN_NAMES = _SIMPLE_FUNCS | {"this", "target", "project_name", "start", "end"}
# Names a tag may hold alone: they render as placeholders.
_NAMES = frozenset({"this", *_BOUNDS})


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


def render_fast(
    ctx: RenderContext, source: str, jinja: JinjaRenderer | None = None
) -> Rendered | None:
    """Render ``source`` without compiling it as a Jinja template, or return None.

    Handles templates whose tags are all ``{{ f(literal, ...) }}`` calls or ``{{ this }}``:
    calls of the functions every template sees, and, given ``jinja``, calls of the project's
    macros (called from the macro files, which are compiled once). Anything else, and any
    failure inside a macro, is left to Jinja (None), which renders and reports it exactly.
    """
    if "{%" in source or "{#" in source:
        return None
    if "\r" in source:  # Jinja reads every line ending as "\n"; so must we
        source = source.replace("\r\n", "\n").replace("\r", "\n")
    if source.endswith("\n"):  # Jinja drops one trailing newline of the template
        source = source[:-1]
    tags: list[tuple[re.Match[str], Tag | None]] = []
    for match in _EXPRESSION.finditer(source):
        expression = match.group(1)
        if expression.startswith(("-", "+")) or expression.endswith(("-", "+")):
            tags.append((match, None))
            break
        tag = _parse_tag(expression.strip())
        tags.append((match, tag))
        if tag is None:
            break
    if jinja is not None and _calls_macros(tags, jinja):
        return _render_with_macros(ctx, source, tags, jinja)
    pieces: list[str] = []
    last = 0
    for match, tag in tags:
        if tag is None or (tag[0] not in _SIMPLE_FUNCS and tag[0] not in _NAMES):
            return None
        pieces.append(source[last : match.start()])
        pieces.append(str(_evaluate(ctx, ctx.functions(), source, match.start(), tag)))
        last = match.end()
    pieces.append(source[last:])
    return _result(ctx, "".join(pieces))


# A parsed tag: ("this", (), {}) or (function name, positional args, keyword args).
Tag = tuple[str, tuple[Any, ...], dict[str, Any]]

# The most common tags, read without the ast module: a call with zero to two plain strings.
_COMMON_CALL = re.compile(
    r"""(\w+)\(\s*(?:(['"])([^'"\\\n]*)\2\s*(?:,\s*(['"])([^'"\\\n]*)\4\s*)?)?\)"""
)


def _parse_tag(expression: str) -> Tag | None:
    """A tag's call and its literal arguments, or None if it is anything else."""
    if expression in _NAMES:
        return (expression, (), {})
    match = _COMMON_CALL.fullmatch(expression)
    if match is not None:
        first, second = match.group(3), match.group(5)
        args = () if first is None else (first,) if second is None else (first, second)
        return (match.group(1), args, {}) if match.group(1) not in _NAMES else None
    if "\\" in expression:  # escapes: Jinja and Python read some differently
        return None
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError:
        return None
    if not (
        isinstance(tree, ast.Call)
        and isinstance(tree.func, ast.Name)
        and tree.func.id not in _NAMES
    ):
        return None
    try:
        args = tuple(_literal(a) for a in tree.args)
        kwargs = {k.arg: _literal(k.value) for k in tree.keywords if k.arg}
    except ValueError:
        return None
    if len(kwargs) != len(tree.keywords):
        return None
    return (tree.func.id, args, kwargs)


def _literal(node: ast.expr) -> Any:
    """The value of a literal Jinja reads the same way: strings, numbers, booleans, None,
    lists, tuples and dicts of them (no sets, bytes or complex numbers). Else ValueError."""
    if isinstance(node, ast.Constant) and type(node.value) in _CONSTANT_TYPES:
        return node.value
    if isinstance(node, ast.List):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True)}  # type: ignore[arg-type]
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub | ast.UAdd)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    ):
        value = node.operand.value
        return -value if isinstance(node.op, ast.USub) else +value
    raise ValueError("not a literal")


_CONSTANT_TYPES = (str, int, float, bool, type(None))


def _evaluate(
    ctx: RenderContext,
    functions: Mapping[str, Any],
    source: str,
    offset: int,
    tag: Tag,
) -> Any:
    """Call a tag's function; calls of the built-in functions know their place in the file."""
    name, args, kwargs = tag
    if name == "this":
        return THIS
    if name in _BOUNDS:
        return _BOUNDS[name]
    if name not in _SIMPLE_FUNCS:  # a macro: its own calls find their line in the macro file
        return functions[name](*args, **kwargs)
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    ctx.position = (line, column)
    try:
        return functions[name](*args, **kwargs)
    finally:
        ctx.position = None


def _calls_macros(tags: list[tuple[re.Match[str], Tag | None]], jinja: JinjaRenderer) -> bool:
    """Whether every tag parsed and some call a macro (and no macro hides a built-in name)."""
    names = {tag[0] for _, tag in tags if tag is not None}
    return (
        all(tag is not None for _, tag in tags)
        and bool(names & jinja.macro_names)
        and names <= jinja.macro_names | _SIMPLE_FUNCS | _NAMES
        and not jinja.macro_names & _BUILT_IN_NAMES
    )


def _render_with_macros(
    ctx: RenderContext,
    source: str,
    tags: list[tuple[re.Match[str], Tag | None]],
    jinja: JinjaRenderer,
) -> Rendered | None:
    """Render tags that call macros, with the namespace a Jinja render would have."""
    from jinja2.runtime import Macro

    try:
        namespace = jinja.namespace(ctx, source)
        functions = ctx.functions()
        pieces: list[str] = []
        last = 0
        for match, tag in tags:
            assert tag is not None
            name = tag[0]
            bound = namespace.get(name)
            if name == "this" and bound is not THIS:
                return None
            if name in _BOUNDS and bound is not _BOUNDS[name]:
                return None
            if name in _SIMPLE_FUNCS and bound != functions[name]:
                return None  # a macro file set a variable of that name: Jinja decides
            if name in jinja.macro_names and not isinstance(bound, Macro):
                return None
            pieces.append(source[last : match.start()])
            pieces.append(str(_evaluate(ctx, namespace, source, match.start(), tag)))
            last = match.end()
    except Exception:  # Jinja renders it again and reports the error as it always has
        return None
    pieces.append(source[last:])
    return _result(ctx, "".join(pieces))


def result(ctx: RenderContext, text: str) -> Rendered:
    """What ``ctx`` recorded while rendering ``text``."""
    return _result(ctx, text)


def _result(ctx: RenderContext, text: str) -> Rendered:
    return Rendered(
        text=text,
        refs=tuple(ctx.refs),
        config=dict(ctx.config),
        config_line=ctx.config_line,
        env_vars=dict(ctx.env_vars),
    )


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
        return _result(ctx, text)


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
