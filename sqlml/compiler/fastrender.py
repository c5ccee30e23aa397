"""Render a template without Jinja when its tags are all simple expressions.

Templates made only of simple expression tags (`{{ ref('x') }}`, `{{ var('y') }}`, or calls of
the project's macros with literal arguments) are rendered here: compiling a Jinja template
costs about half a millisecond, most of a cold compile. Anything else is left to
`sqlml.compiler.render.JinjaRenderer`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlml.batch import BATCH_END, BATCH_START
from sqlml.compiler.rendercontext import THIS, RenderContext, result
from sqlml.compiler.types import Rendered

if TYPE_CHECKING:
    from sqlml.compiler.render import JinjaRenderer

_BOUNDS = {"start": BATCH_START, "end": BATCH_END}
_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.S)
_SIMPLE_FUNCS = frozenset({"ref", "source", "var", "env_var", "config", "is_incremental"})
# Names every template sees; a macro of one of these names takes the template to Jinja.
_BUILT_IN_NAMES = _SIMPLE_FUNCS | {"this", "target", "project_name", "start", "end"}
# Names a tag may hold alone: they render as placeholders.
_NAMES = frozenset({"this", *_BOUNDS})


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
    return result(ctx, "".join(pieces))


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
    return result(ctx, "".join(pieces))
