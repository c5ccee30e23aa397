"""Templates that differ only in their text and string literals share one compiled template.

Compiling a Jinja template (about 2.5 ms for a model with a loop and a condition) costs ten
times more than rendering it, and the templates of a project often repeat one shape with
other table names and SQL around the tags. The skeleton of a template keeps its tags and
replaces each run of text by ``{{ __sqlml_N }}`` and each string literal by ``__sqlml_N``,
keeping every tag on its line; rendering the compiled skeleton with those values gives what
the template gives. Templates with a ``{% raw %}`` block have no skeleton.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlml.compiler.rendercontext import RenderContext, result
from sqlml.compiler.types import Rendered

if TYPE_CHECKING:
    from sqlml.compiler.render import JinjaRenderer

_OPENING = frozenset({"block_begin", "variable_begin", "comment_begin"})
_CLOSING = frozenset({"block_end", "variable_end", "comment_end"})
_BLANK = "__sqlml_blank"


def skeleton(env: Any, source: str, name: str) -> tuple[str, dict[str, Any]] | None:
    """The skeleton of ``source`` and the values of its variables, or None if it has none
    (a raw block, or a lexing error the caller will report by compiling ``source``)."""
    from jinja2 import TemplateSyntaxError

    lexer = env.lexer
    pieces: list[str] = []
    values: dict[str, Any] = {}
    line = 1
    inside = False  # within a tag, where whitespace is not output
    try:
        for lineno, kind, raw in lexer.tokeniter(source, name):
            if lineno > line:  # newlines the lexer stripped: keep every tag on its line
                gap = "\n" * (lineno - line)
                if inside:
                    pieces.append(gap)
                else:
                    pieces.append("{{ " + _BLANK + gap + " }}")
                    values[_BLANK] = ""
                line = lineno
            newlines = raw.count("\n")
            if kind == "data":
                variable = f"__sqlml_{len(values)}"
                values[variable] = raw
                pieces.append("{{ " + variable + "\n" * newlines + " }}")
            elif kind == "string":
                token = next(iter(lexer.wrap(iter([(lineno, kind, raw)]), name)))
                variable = f"__sqlml_{len(values)}"
                values[variable] = token.value
                pieces.append(" " + variable + "\n" * newlines + " ")
            elif kind == "comment":
                pieces.append("\n" * newlines)
            elif kind in ("raw_begin", "linestatement_begin", "linecomment_begin"):
                return None
            else:
                pieces.append(raw)
            line += newlines
            if kind in _OPENING:
                inside = True
            elif kind in _CLOSING:
                inside = False
    except TemplateSyntaxError:
        return None
    return "".join(pieces), values


def render_shared(
    jinja: JinjaRenderer,
    ctx: RenderContext,
    source: str,
    extra: Mapping[str, Any] | None,
) -> Rendered | None:
    """Render ``source`` through its compiled skeleton, or None: no skeleton, one that does
    not compile, or any error while rendering (the caller then compiles ``source`` itself and
    reports the error in its own terms). ``ctx`` is left as it was found when None."""
    assert jinja.skeletons is not None
    found = skeleton(jinja.env, source, ctx.path)
    if found is None:
        return None
    text, values = found
    if text not in jinja.skeletons:
        from jinja2 import TemplateSyntaxError

        try:
            code = jinja.env.compile(text, name=ctx.path, filename=ctx.path)
            template = jinja.env.template_class.from_code(jinja.env, code, jinja.env.globals, None)
        except TemplateSyntaxError:
            template = None
        jinja.skeletons[text] = template
    template = jinja.skeletons[text]
    if template is None:
        return None
    saved = (len(ctx.refs), dict(ctx.config), ctx.config_line, dict(ctx.env_vars))
    try:
        namespace = jinja.namespace(ctx, source, extra)
        namespace.update(values)
        return result(ctx, template.render(namespace))
    except Exception:
        del ctx.refs[saved[0] :]
        ctx.config, ctx.config_line, ctx.env_vars = saved[1], saved[2], saved[3]
        return None
