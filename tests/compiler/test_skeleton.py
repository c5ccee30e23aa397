"""Templates rendered through a shared compiled skeleton render as Jinja renders them."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlml.compiler.render import JinjaRenderer
from sqlml.compiler.rendercontext import RenderContext
from sqlml.compiler.skeleton import skeleton
from sqlml.compiler.types import Rendered
from sqlml.errors import CompileError
from tests.compiler.test_render import MACROS, SIMPLE_TAGS, UNSET, VARS, assert_same

TEXT = st.text(alphabet=string.ascii_letters + " \n\t,.*()'\"=<>_;:+/-", max_size=12)
STRINGS = st.sampled_from(["'a'", '"b"', "'it''s'", "'x\\ny'", "'\\u00e9'", "''", "'two\nlines'"])
CONDITIONS = st.sampled_from(["true", "false", "var('limit') > 5", "var('nothing') is none"])


def _tag(open_: str, close: str, body: str) -> st.SearchStrategy[str]:
    return st.tuples(
        st.sampled_from(["{" + open_, "{" + open_ + "-"]),
        st.sampled_from([close + "}", "-" + close + "}"]),
    ).map(lambda pair: pair[0] + " " + body + " " + pair[1])


def _blocks(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(_tag("%", "%", "if true"), children, _tag("%", "%", "endif")).map("".join),
        st.builds(
            lambda c, a, b, e: f"{{% if {c} %}}{a}{{% else %}}{b}{{% endif %}}",
            CONDITIONS,
            children,
            children,
            st.just(""),
        ),
        st.builds(
            lambda s, body: f"{{% for x in [{s}, 'z'] %}}{body}{{{{ x }}}}{{% endfor %}}",
            STRINGS,
            children,
        ),
        st.builds(lambda s: f"{{% set y = {s} %}}{{{{ y ~ {s} }}}}", STRINGS),
        st.builds(lambda s: f"{{{{ ref({s}) }}}}", st.sampled_from(["'orders'", '"customers"'])),
        st.builds(lambda t: f"{{# {t} #}}", TEXT),
        st.builds(lambda t: f"{{#- {t} -#}}", TEXT),
        st.builds(lambda s: f"{{{{ money({s}) }}}}", STRINGS),
        st.builds(
            lambda body: (
                f"{{% macro local(v) %}}{body}{{{{ v }}}}{{% endmacro %}}{{{{ local('q') }}}}"
            ),
            children,
        ),
    )


TEMPLATES = st.recursive(
    st.one_of(TEXT, SIMPLE_TAGS),
    lambda children: st.lists(st.one_of(children, _blocks(children)), max_size=4).map("".join),
    max_leaves=12,
)


def render(template: str, *, share: bool, jinja: JinjaRenderer | None = None) -> Rendered:
    renderer = jinja or JinjaRenderer(MACROS, {}, share_compiled=share)
    return renderer.render(RenderContext("m", "models/m.sql", VARS), template)


SHARED = JinjaRenderer(MACROS, {})  # one renderer: skeletons are reused across examples


@settings(max_examples=400, deadline=None)
@given(TEMPLATES)
def test_a_skeleton_renders_like_the_template(template: str) -> None:
    try:
        expected = render(template, share=False)
    except CompileError as error:
        with pytest.raises(CompileError) as caught:
            render(template, share=True, jinja=SHARED)
        assert caught.value.render() == error.render()
        return

    assert_same(render(template, share=True, jinja=SHARED), expected)


def test_templates_of_one_shape_share_a_skeleton() -> None:
    jinja = JinjaRenderer((), {})
    shape = "{% if true %}select * from {{ ref('NAME') }} -- TEXT\n{% endif %}"
    for name in ("a", "b", "c"):
        rendered = render(
            shape.replace("NAME", name).replace("TEXT", name * 3), share=True, jinja=jinja
        )
        assert rendered.text == f"select * from \x1fref\x1e{name}\x1f -- {name * 3}\n"

    assert len(jinja.skeletons or {}) == 1


@pytest.mark.parametrize(
    "template",
    [
        "{{ ref('a') }}{{ 'a' 'b' }}",  # literals Jinja joins: the skeleton does not compile
        "{% raw %}{{ x }}{% endraw %} {{ ref('a') }}",
        "a\r\nb {% if true -%}\r\n  c{%- endif %}\r\n",
    ],
)
def test_templates_without_a_usable_skeleton_still_render(template: str) -> None:
    assert_same(render(template, share=True), render(template, share=False))


def test_raw_blocks_have_no_skeleton() -> None:
    assert skeleton(JinjaRenderer((), {}).env, "{% raw %}{{ x }}{% endraw %}", "m.sql") is None


@pytest.mark.parametrize(
    "template",
    [
        "select 1,\n  {{ nope }} as y\n",
        "{% if true %}\n\n{{ var('nope') }}{% endif %}",
        "{% for x in [1] %}{{ x / 0 }}{% endfor %}",
        "{% if %}",
        f"{{{{ env_var('{UNSET}') }}}}",
    ],
)
def test_errors_are_those_of_the_template(template: str) -> None:
    with pytest.raises(CompileError) as expected:
        render(template, share=False)
    with pytest.raises(CompileError) as shared:
        render(template, share=True)

    assert shared.value.render() == expected.value.render()
