"""Data tests as DAG nodes: built-in and custom generic tests from YAML, and singular tests."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlml.compiler import datatests
from sqlml.compiler.render import JinjaRenderer
from sqlml.compiler.rendercontext import PLACEHOLDER_RE, RenderContext
from sqlml.compiler.types import CompiledNode
from sqlml.errors import CompileError, GraphError, SqlmlError, did_you_mean
from sqlml.project.properties import entry_location
from sqlml.project.types import DataTest, NodeConfig, Project
from sqlml.relation import Relation

TEST_CONFIG = NodeConfig(materialized="test")
_REFERENCE = re.compile(
    r"""^\s*(ref|source)\(\s*(['"])([^'"]+)\2\s*(?:,\s*(['"])([^'"]+)\4\s*)?\)\s*$"""
)


@dataclass(frozen=True)
class TestSpec:
    """What the runner needs to judge a data test's failing rows."""

    test: str
    attached_to: str  # the tested node; "" for singular tests
    column: str | None
    config: datatests.TestConfig


def failures_relation(project: Project, name: str) -> Relation:
    """Where a data test's failing rows are stored for inspection."""
    return Relation(project.failures_schema, name, project.target.database)


def singular_spec(name: str) -> TestSpec:
    return TestSpec("singular", "", None, datatests.TestConfig())


def build_test_nodes(
    project: Project,
    relations: Mapping[str, Relation],
    renderer: Callable[[], JinjaRenderer],
    *,
    taken: set[str],
) -> list[CompiledNode]:
    """One node per generic data test declared in YAML on an enabled node."""
    nodes = []
    for test in project.data_tests:
        if test.sql is not None or test.attached_to not in relations:
            continue  # singular tests render like models; tests of disabled nodes are dropped
        nodes.append(_test_node(project, test, relations, renderer, taken))
    return nodes


def _test_node(
    project: Project,
    test: DataTest,
    relations: Mapping[str, Relation],
    renderer: Callable[[], JinjaRenderer],
    taken: set[str],
) -> CompiledNode:
    location = entry_location(project.root, test)
    depends = [test.attached_to]
    error: SqlmlError | None = None
    sql = ""
    name = f"test_{test.attached_to}"
    spec = TestSpec("?", test.attached_to, test.column, datatests.TestConfig())
    try:
        kind, args, config = datatests.parse_test_entry(test.entry, location=location)
        name = _unique_name(
            datatests.test_node_name(kind, test.attached_to, test.column, args), taken
        )
        spec = TestSpec(kind, test.attached_to, test.column, config)

        def resolve(reference: str) -> str:
            node = _referenced_node(reference, relations, location)
            depends.append(node)
            return str(relations[node])

        relation = str(relations[test.attached_to])
        if kind in datatests.BUILTIN_TESTS:
            sql = datatests.builtin_test_sql(
                kind,
                relation,
                test.column,
                args,
                where=config.where,
                resolve=resolve,
                location=location,
            )
        else:
            sql = _custom_test_sql(
                kind, relation, test, args, config, renderer, location, relations, depends
            )
    except SqlmlError as exc:
        if exc.node is None:
            exc.node = name
        error = exc
    taken.add(name)
    return CompiledNode(
        name=name,
        kind="test",
        path=test.path,
        config=TEST_CONFIG,
        relation=failures_relation(project, name),
        sql=sql,
        body_sql=sql,
        depends_on=tuple(dict.fromkeys(depends)),
        columns=(),
        declared_columns=(),
        description=None,
        fingerprint="",
        compiled_path=f"{project.target_dir.name}/compiled/data_tests/{name}.sql",
        error=error,
        spec=spec,
    )


def _custom_test_sql(
    kind: str,
    relation: str,
    test: DataTest,
    args: Mapping[str, Any],
    config: datatests.TestConfig,
    renderer: Callable[[], JinjaRenderer],
    location: Any,
    relations: Mapping[str, Relation],
    depends: list[str],
) -> str:
    """Render a `{% test name(model, column_name, ...) %}` macro from the project's macros."""
    jinja = renderer()
    macro = f"test_{kind}"
    if macro not in jinja.macro_names:
        custom = sorted(m[5:] for m in jinja.macro_names if m.startswith("test_"))
        raise CompileError(
            f"unknown data test '{kind}'",
            location=location,
            hint=did_you_mean(kind, [*datatests.BUILTIN_TESTS, *custom])
            or "built-in tests: "
            + ", ".join(sorted(datatests.BUILTIN_TESTS))
            + "; custom tests are `{% test name(model, column_name) %}` blocks in macros/",
        )
    model = f"(select * from {relation} where {config.where})" if config.where else relation
    ctx = RenderContext(f"test {kind}", test.path, {})
    column_arg = ", column_name=__column" if test.column is not None else ""
    template = "{{ " + macro + "(model=__model" + column_arg + ", **__args) }}"
    rendered = jinja.render(
        ctx, template, extra={"__model": model, "__column": test.column, "__args": dict(args)}
    )
    for call in rendered.refs:
        depends.append(_referenced_node(str(call), relations, location))
    return PLACEHOLDER_RE.sub(lambda m: str(relations[m.group(1)]), rendered.text).strip()


def _referenced_node(reference: str, relations: Mapping[str, Relation], location: Any) -> str:
    """The node named by a "ref('x')" or "source('a', 'b')" string in a test's arguments."""
    match = _REFERENCE.match(reference)
    if match is None:
        raise CompileError(
            f"cannot read '{reference}' as a relation",
            location=location,
            hint="write ref('model_name') or source('source_name', 'table_name')",
        )
    function, first, second = match.group(1), match.group(3), match.group(5)
    if (function == "source") != (second is not None):
        raise CompileError(
            f"'{reference}': ref() takes one name, source() two",
            location=location,
        )
    node = f"{first}.{second}" if function == "source" else first
    if node not in relations:
        raise GraphError(
            f"unknown {function} '{node}' in a data test",
            location=location,
            hint=did_you_mean(node, relations) or "check the name",
        )
    return node


def _unique_name(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name}_{n}"
        n += 1
    return candidate
