"""Match a unit test to its model and its `given:` entries to the inputs the model reads.

Pure: no database. Every problem is a ConfigError pointing at the test in its properties file.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from sqlml.compiler.types import CompiledNode
from sqlml.errors import ConfigError, Location, did_you_mean
from sqlml.project.types import UnitTest
from sqlml.unit.types import Fixture

_REFERENCE = re.compile(
    r"""^\s*(ref|source)\(\s*(['"])([^'"]+)\2\s*(?:,\s*(['"])([^'"]+)\4\s*)?\)\s*$"""
)
_REF_KINDS = ("model", "seed", "feature_view")


def find_model(
    test: UnitTest, nodes: Mapping[str, CompiledNode], disabled: Collection[str] = ()
) -> CompiledNode:
    """The compiled model a unit test is about.

    Raises ConfigError when no enabled model has that name.
    """
    node = nodes.get(test.model)
    if node is not None and node.kind == "model":
        return node
    if test.model in disabled:
        raise ConfigError(
            f"unit test '{test.name}' is about model '{test.model}', which is disabled",
            location=_where(test),
            hint=f"enable '{test.model}' or remove the test",
        )
    models = sorted(n for n, node in nodes.items() if node.kind == "model")
    raise ConfigError(
        f"unit test '{test.name}' is about model '{test.model}', which does not exist",
        location=_where(test),
        hint=did_you_mean(test.model, models) or "set `model:` to the name of a model",
    )


def resolve_fixtures(
    test: UnitTest, model: CompiledNode, nodes: Mapping[str, CompiledNode]
) -> tuple[Fixture, ...]:
    """The test's `given:` entries, each matched to an input node of the model.

    Every table the model's SQL reads needs one: ephemeral parents are inlined into that SQL,
    so what they read counts and they themselves cannot be given.

    Raises ConfigError for an input that names no node, is given twice, is ephemeral, or is
    not read by the model, and for inputs the model reads that are not given.
    """
    reads, inlined = _walk(model, nodes)
    listed = ", ".join(label_of(nodes[n]) for n in reads) or "nothing"
    fixtures: dict[str, Fixture] = {}
    for text, rows in test.given:
        node = _input_node(test, text, nodes, f"'{model.name}' reads {listed}")
        label = label_of(node)
        if node.name in fixtures:
            raise ConfigError(
                f"unit test '{test.name}' gives rows for {label} twice",
                location=_where(test),
                hint="merge the two entries of `given:`",
            )
        if node.name in inlined:
            parents = [label_of(nodes[n]) for n in model_inputs(node, nodes)]
            raise ConfigError(
                f"unit test '{test.name}' gives rows for {label}, an ephemeral model inlined "
                f"into '{model.name}'",
                location=_where(test),
                hint="give rows for what it reads instead: " + ", ".join(parents)
                if parents
                else "remove this input",
            )
        if node.name not in reads:
            raise ConfigError(
                f"unit test '{test.name}' gives rows for {label}, which model "
                f"'{model.name}' does not read",
                location=_where(test),
                hint=f"remove this input; '{model.name}' reads {listed}",
            )
        fixtures[node.name] = Fixture(node, label, rows)
    missing = [name for name in reads if name not in fixtures]
    if missing:
        described = [
            label_of(nodes[n]) + (f" (read through ephemeral '{reads[n]}')" if reads[n] else "")
            for n in missing
        ]
        plural = "s" if len(missing) > 1 else ""
        raise ConfigError(
            f"unit test '{test.name}': missing fixture{plural} for " + ", ".join(described),
            location=_where(test),
            hint="give rows for every input under `given:` (`rows: []` for an empty table)",
        )
    return tuple(fixtures.values())


def model_inputs(model: CompiledNode, nodes: Mapping[str, CompiledNode]) -> dict[str, str | None]:
    """The tables a model's SQL reads: its parents, and through ephemeral parents theirs.

    Maps each input node, in the order of the ref() calls, to the ephemeral model it is read
    through (None when read directly).
    """
    return _walk(model, nodes)[0]


def _walk(
    model: CompiledNode, nodes: Mapping[str, CompiledNode]
) -> tuple[dict[str, str | None], set[str]]:
    """The model's inputs (see `model_inputs`) and the ephemeral models inlined into it."""
    found: dict[str, str | None] = {}
    inlined: set[str] = set()

    def visit(node: CompiledNode, via: str | None, seen: set[str]) -> None:
        for name in node.depends_on:
            parent = nodes.get(name)
            if parent is None or name in seen:
                continue
            if parent.config.materialized == "ephemeral":
                seen.add(name)
                visit(parent, via or name, seen)
            elif name not in found:
                found[name] = via

    visit(model, None, inlined)
    return found, inlined


def label_of(node: CompiledNode) -> str:
    """How a user writes a reference to ``node``: ``ref('x')`` or ``source('a', 'b')``."""
    if node.kind == "source":
        source, _, table = node.name.partition(".")
        spec = node.spec
        if spec is not None:
            source, table = spec.source, spec.name
        return f"source('{source}', '{table}')"
    return f"ref('{node.name}')"


def _input_node(
    test: UnitTest, text: str, nodes: Mapping[str, CompiledNode], reads: str
) -> CompiledNode:
    match = _REFERENCE.match(text)
    if match is None:
        raise ConfigError(
            f"unit test '{test.name}': cannot read input '{text}'",
            location=_where(test),
            hint="write ref('model_name') or source('source_name', 'table_name'); " + reads,
        )
    function, first, second = match.group(1), match.group(3), match.group(5)
    if (function == "source") != (second is not None):
        raise ConfigError(
            f"unit test '{test.name}': input '{text}': ref() takes one name, source() two",
            location=_where(test),
            hint="write ref('model_name') or source('source_name', 'table_name')",
        )
    if function == "source":
        name = f"{first}.{second}"
        node = nodes.get(name)
        if node is not None and node.kind == "source":
            return node
        known = [n for n, node in nodes.items() if node.kind == "source"]
        raise ConfigError(
            f"unit test '{test.name}': input {text.strip()} names no declared source table",
            location=_where(test),
            hint=did_you_mean(name, known) or reads,
        )
    node = nodes.get(first)
    if node is not None and node.kind in _REF_KINDS:
        return node
    known = [n for n, node in nodes.items() if node.kind in _REF_KINDS]
    raise ConfigError(
        f"unit test '{test.name}': input {text.strip()} names no model or seed",
        location=_where(test),
        hint=did_you_mean(first, known) or reads,
    )


def _where(test: UnitTest) -> Location:
    return Location(test.path, test.line)
