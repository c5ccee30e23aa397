"""Rendering templates: the fast path agrees with Jinja, and template errors name file and line."""

from __future__ import annotations

import os
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlml.compiler.fastrender import render_fast
from sqlml.compiler.render import JinjaRenderer
from sqlml.compiler.rendercontext import RenderContext
from sqlml.compiler.types import Rendered
from sqlml.errors import CompileError, Location
from tests.compiler.conftest import CompileFiles

UNSET = "SQLML_TEST_SURELY_UNSET_VARIABLE"
VARS = {"limit": 10, "name": "n", "items": [1, "a"], "nothing": None, "ratio": 0.5}


def render_both(template: str) -> tuple[Rendered | None, Rendered]:
    fast = render_fast(RenderContext("m", "models/m.sql", VARS), template)
    jinja = JinjaRenderer((), {}).render(RenderContext("m", "models/m.sql", VARS), template)
    return fast, jinja


def assert_same(fast: Rendered | None, jinja: Rendered) -> None:
    assert fast is not None, "expected the fast path to handle this template"
    assert fast.text == jinja.text
    assert [c.args for c in fast.refs] == [c.args for c in jinja.refs]
    assert [c.line for c in fast.refs] == [c.line for c in jinja.refs]
    assert fast.config == jinja.config
    assert fast.config_line == jinja.config_line
    assert fast.env_vars == jinja.env_vars


# Plain SQL text: no braces, percent or hash, so it never forms a Jinja tag by itself.
SQL_TEXT = st.text(
    alphabet=string.ascii_letters + string.digits + " \n\t,.*()'\"=<>_;:-+/", max_size=25
)
SIMPLE_TAGS = st.sampled_from(
    [
        "{{ ref('orders') }}",
        "{{ref('customers')}}",
        '{{ ref("orders") }}',
        "{{ var('limit') }}",
        "{{ var('name', default='x') }}",
        "{{ var('missing', 7) }}",
        "{{ var('items') }}",
        "{{ var('nothing') }}",
        "{{ var('ratio') }}",
        "{{ this }}",
        f"{{{{ env_var('{UNSET}', 'fallback') }}}}",
        "{{ config(materialized='view') }}",
        "{{ config(tags=['a', 'b'], meta={'owner': 'x'}) }}",
        "{{ is_incremental() }}",
    ]
)
TEMPLATES = st.lists(st.one_of(SQL_TEXT, SIMPLE_TAGS), max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(TEMPLATES)
def test_fast_path_renders_like_jinja(template: str) -> None:
    os.environ.pop(UNSET, None)

    assert_same(*render_both(template))


MACROS = (
    (
        "macros/money.sql",
        """\
{% macro money(column, scale=2) -%}
round({{ column }} / 100, {{ scale }})
{%- endmacro %}

{% macro pick(name) %}{{ ref(name) }}{% endmacro %}

{% macro as_view() -%}
{{ config(materialized='view', tags=['m']) }}
{%- endmacro %}

{% macro region() %}{{ env_var('"""
        + UNSET
        + """', 'eu') }}{% endmacro %}

{% macro lines(items) %}
{%- for item in items %}
  {{ item }} as c{{ loop.index }},
{%- endfor %}
{{ var('limit') }}
{% endmacro %}
{% macro outer(x) %}[{{ money(x) }}]{% endmacro %}
""",
    ),
)
JINJA = JinjaRenderer(MACROS, {})
MACRO_TAGS = st.sampled_from(
    [
        "{{ money('amount') }}",
        "{{money('amount',3)}}",
        "{{ money(column='price', scale=0) }}",
        "{{ money(-1.5) }}",
        "{{ pick('orders') }}",
        "{{ as_view() }}",
        "{{ region() }}",
        "{{ lines(['a', 'b']) }}",
        "{{ lines([]) }}",
        "{{ outer('x') }}",
        "{{ money({'a': [1, (2, 3)]}) }}",
    ]
)
MACRO_TEMPLATES = st.lists(st.one_of(SQL_TEXT, SIMPLE_TAGS, MACRO_TAGS), max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(MACRO_TEMPLATES)
def test_fast_path_calls_macros_like_jinja(template: str) -> None:
    os.environ.pop(UNSET, None)
    fast = render_fast(RenderContext("m", "models/m.sql", VARS), template, JINJA)
    jinja = JINJA.render(RenderContext("m", "models/m.sql", VARS), template)

    assert_same(fast, jinja)


@pytest.mark.parametrize(
    ("template", "macros"),
    [
        ("select {{ nope_macro() }}", MACROS),  # not a macro: Jinja reports it
        ("select {{ money(1, 2, 3) }}", MACROS),  # too many arguments
        ("select {{ money('a') | upper }}", MACROS),
        ("select {{ money(a) }}", MACROS),
        ("select {{ money({1, 2}) }}", MACROS),  # a set: Jinja has no such literal
        ("select {{ money('a\\n') }}", MACROS),
        (
            "select {{ broken() }}",
            (("macros/b.sql", "{% macro broken() %}{{ nope }}{% endmacro %}"),),
        ),
        (
            "select {{ ref('a') }}, {{ m() }}",
            (("macros/r.sql", "{% macro ref(x) %}{% endmacro %}{% macro m() %}{% endmacro %}"),),
        ),
        (
            "select {{ ref('a') }}, {{ m() }}",
            (("macros/r.sql", "{% set ref = 1 %}{% macro m() %}{% endmacro %}"),),
        ),
        ("select {{ m() }}", (("macros/r.sql", "{% macro m() %}{% endmacro %}{% if %}"),)),
    ],
)
def test_macro_calls_that_jinja_must_render_are_left_to_it(
    template: str, macros: tuple[tuple[str, str], ...]
) -> None:
    jinja = JinjaRenderer(macros, {})

    assert render_fast(RenderContext("m", "models/m.sql", VARS), template, jinja) is None


def test_a_macro_call_is_rendered_without_compiling_the_model() -> None:
    jinja = JinjaRenderer(MACROS, {})
    compiled: list[str] = []
    original = jinja._compile

    def compile_and_note(source: str, path: str) -> object:
        compiled.append(path)
        return original(source, path)

    jinja._compile = compile_and_note  # type: ignore[method-assign]
    for _ in range(3):
        rendered = render_fast(
            RenderContext("m", "models/m.sql", VARS), "select {{ money('amount') }} as x", jinja
        )
        assert rendered is not None
        assert rendered.text == "select round(amount / 100, 2) as x"

    assert compiled == ["macros/money.sql"]  # the macro file, once


@pytest.mark.parametrize(
    "template",
    [
        "select 1\n",
        "select 1\n\n",
        "\nselect 1",
        "select 1 as x\r\nfrom {{ ref('orders') }}\r\n",
        "select 1 as x\rfrom t",
    ],
    ids=["trailing-newline", "two-trailing-newlines", "leading-newline", "crlf", "cr"],
)
def test_fast_path_handles_line_endings_like_jinja(template: str) -> None:
    assert_same(*render_both(template))


@pytest.mark.parametrize(
    "template",
    [
        "{% if true %}select 1{% endif %}",
        "{# comment #}select 1",
        "select {{ var('limit') + 1 }}",
        "select {{ 'x' }}",
        "select {{- var('limit') }}",
        "select {{ var('limit') -}}",
        "select {{ var('x', none) }}",
        "select {{ my_macro() }}",
        "select {{ var('a', '}}') }}",
    ],
)
def test_anything_but_simple_calls_takes_the_jinja_path(template: str) -> None:
    assert render_fast(RenderContext("m", "models/m.sql", VARS), template) is None


def test_fast_and_jinja_paths_compile_to_the_same_sql(compile_files: CompileFiles) -> None:
    body = (
        "{{ config(materialized='view') }}\n"
        "select o.order_id, '{{ var('region', 'eu') }}' as region\n"
        "from {{ ref('orders') }} o\n"
        "where o.amount >= {{ var('limit') }}\n"
    )
    compiled = compile_files(
        {
            "project.yml": "name: demo\nvars:\n  limit: 10\n",
            "models/orders.sql": "select 1 as order_id, 20 as amount",
            "models/fast.sql": body,
            # A Jinja comment sends the same template through Jinja.
            "models/slow.sql": "{# jinja #}" + body,
        }
    )

    fast, slow = compiled.nodes["fast"], compiled.nodes["slow"]
    assert fast.error is None
    assert slow.error is None
    assert fast.sql == slow.sql
    assert fast.depends_on == slow.depends_on == ("orders",)
    assert fast.config == slow.config


def error_of(compiled_files: CompileFiles, files: dict[str, str], node: str = "a") -> CompileError:
    error = compiled_files(files).nodes[node].error
    assert isinstance(error, CompileError)
    return error


def test_jinja_syntax_error_names_source_file_and_line(compile_files: CompileFiles) -> None:
    err = error_of(compile_files, {"models/a.sql": "select 1 as x\n{% if %}\n"})

    assert err.node == "a"
    assert err.location == Location("models/a.sql", 2)
    assert err.render() == (
        "models/a.sql:2: template syntax error: Expected an expression, got 'end of statement "
        "block'\nhint: check the {{ }} and {% %} tags on that line"
    )


def test_unclosed_block_names_the_line_that_breaks(compile_files: CompileFiles) -> None:
    template = "{% set x = 1 %}\nselect 1 as x\n{% if x %}\n{% endfor %}"
    err = error_of(compile_files, {"models/a.sql": template})

    assert err.location == Location("models/a.sql", 4)
    assert err.message == (
        "template syntax error: Encountered unknown tag 'endfor'. Jinja was looking for the "
        "following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be "
        "closed is 'if'."
    )


@pytest.mark.parametrize("tag", ["{{ nope }}", "{{ nope() }}", "{{ refs('x') }}"])
def test_undefined_name_points_at_its_line(compile_files: CompileFiles, tag: str) -> None:
    err = error_of(compile_files, {"models/a.sql": f"select 1 as x,\n  {tag} as y\n"})

    name = tag.strip("{} ").split("(")[0]
    assert err.location == Location("models/a.sql", 2)
    assert err.render() == (
        f"models/a.sql:2: template error: '{name}' is undefined\n"
        "hint: check the spelling; functions available are ref, var, env_var, config, this, "
        "is_incremental and the project's macros"
    )


def test_python_error_in_template_points_at_its_line(compile_files: CompileFiles) -> None:
    err = error_of(compile_files, {"models/a.sql": "select 1 as x,\n\n  {{ 1 / 0 }} as y\n"})

    assert err.render() == "models/a.sql:3: template error: ZeroDivisionError: division by zero"


def test_error_inside_a_macro_points_at_the_macro_file(compile_files: CompileFiles) -> None:
    err = error_of(
        compile_files,
        {
            "models/a.sql": "select 1 as x,\n  {{ cents('amount') }} as y\n",
            "macros/money.sql": """\
                {% macro cents(column) %}
                  {{ column }} * 100
                  + {{ undefined_thing }}
                {% endmacro %}
            """,
        },
    )

    assert err.node == "a"
    assert err.location == Location("macros/money.sql", 3)
    assert err.render() == (
        "macros/money.sql:3: template error: 'undefined_thing' is undefined "
        "(called from models/a.sql:2)\n"
        "hint: check the spelling; functions available are ref, var, env_var, config, this, "
        "is_incremental and the project's macros"
    )


def test_error_in_a_nested_macro_names_the_model_line(compile_files: CompileFiles) -> None:
    err = error_of(
        compile_files,
        {
            "models/a.sql": "select 1 as x,\n  {{ outer() }} as y\n",
            "macros/outer.sql": "{% macro outer() %}\n{{ inner() }}\n{% endmacro %}\n",
            "macros/inner.sql": "{% macro inner() %}\n\n{{ nope }}\n{% endmacro %}\n",
        },
    )

    assert err.location == Location("macros/inner.sql", 3)
    assert err.message == "template error: 'nope' is undefined (called from models/a.sql:2)"


def test_syntax_error_in_a_macro_file_fails_the_models_that_use_macros(
    compile_files: CompileFiles,
) -> None:
    compiled = compile_files(
        {
            "models/a.sql": "select {{ cents('x') }} as y from (select 1 as x)",
            "models/plain.sql": "select 1 as x",
            "macros/m.sql": "{% macro cents(x) %}{{ x }} * 100{% endmacro %}\n{% if %}\n",
        }
    )

    err = compiled.nodes["a"].error
    assert err is not None
    assert err.node == "a"
    assert err.render() == (
        "macros/m.sql:2: template syntax error: Expected an expression, got 'end of statement "
        "block'\nhint: check the {{ }} and {% %} tags on that line"
    )
    assert compiled.nodes["plain"].error is None


@pytest.mark.parametrize(
    ("template", "location"),
    [
        ("select 1 as x,\n  {{ var('nope') }} as y", Location("models/a.sql", 2, 3)),
        ("{% if true %}\nselect {{ var('nope') }} as x\n{% endif %}", Location("models/a.sql", 2)),
    ],
    ids=["fast", "jinja"],
)
def test_undefined_var_has_message_and_hint(
    compile_files: CompileFiles, template: str, location: Location
) -> None:
    err = error_of(compile_files, {"models/a.sql": template})

    assert err.location == location
    assert err.render() == (
        f"{location}: var 'nope' is not defined\n"
        "hint: define it under `vars:` in project.yml, pass --vars '{nope: ...}', "
        "or give a default: var('nope', ...)"
    )


def test_unset_env_var_has_message_and_hint(
    compile_files: CompileFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(UNSET, raising=False)
    err = error_of(compile_files, {"models/a.sql": f"select '{{{{ env_var('{UNSET}') }}}}' as x"})

    assert err.render() == (
        f"models/a.sql:1:9: environment variable '{UNSET}' is not set\n"
        f"hint: export {UNSET}=... or give a default: env_var('{UNSET}', ...)"
    )


def test_env_var_value_is_rendered(
    compile_files: CompileFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(UNSET, "from-env")
    compiled = compile_files({"models/a.sql": f"select '{{{{ env_var('{UNSET}', 'x') }}}}' as x"})

    assert compiled.nodes["a"].sql == "select 'from-env' as x"


def test_ref_takes_one_name(compile_files: CompileFiles) -> None:
    err = error_of(
        compile_files,
        {"models/a.sql": "select *\nfrom {{ ref('pkg', 'b') }}", "models/b.sql": "select 1 as x"},
    )

    assert err.render() == (
        "models/a.sql:2:6: ref() takes one model name\nhint: write {{ ref('model_name') }}"
    )


def test_target_and_project_name_are_available(compile_files: CompileFiles) -> None:
    compiled = compile_files(
        {
            "models/a.sql": "select '{{ target.name }}' as t, '{{ target.schema }}' as s, "
            "'{{ target.type }}' as k, '{{ project_name }}' as p, {{ is_incremental() }} as i"
        }
    )

    assert compiled.nodes["a"].sql == (
        "select 'dev' as t, 'main' as s, 'duckdb' as k, 'demo' as p, False as i"
    )


def test_templates_are_sandboxed(compile_files: CompileFiles) -> None:
    err = error_of(
        compile_files, {"models/a.sql": "select '{{ ''.__class__.__mro__[1].__subclasses__() }}'"}
    )

    assert err.render() == (
        "models/a.sql:1: template error: SecurityError: access to attribute '__class__' of "
        "'str' object is unsafe."
    )
