"""Linking rendered nodes: placeholders become relation names, and what each node reads is
checked against what it declares; ephemeral parents are inlined; fingerprints are computed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping, Sequence

from sqlml.compiler.rendercontext import PLACEHOLDER_RE, THIS
from sqlml.compiler.types import Parsed, Rendered
from sqlml.errors import CompileError, GraphError, Location, did_you_mean, underline
from sqlml.project.types import ModelSource, NodeConfig
from sqlml.relation import Relation

_TRAILING_SEMICOLONS = re.compile(r"[\s;]*;\s*$")
_LEADING_WITH = re.compile(
    r"^(\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*)with(\s+recursive)?\b", re.I | re.S
)


def check_refs(
    model: ModelSource,
    kind: str,
    rendered: Rendered,
    relations: Mapping[str, Relation],
    refable: set[str],
    disabled: set[str],
) -> None:
    for call in rendered.refs:
        target = call.node
        if target in relations:
            continue
        where = Location(model.path, call.line, call.column)
        if target in disabled:
            raise GraphError(
                f"{kind} '{model.name}' refers to disabled model '{target}'",
                node=model.name,
                location=where,
                hint=f"enable '{target}' or remove the ref",
            )
        if call.kind == "source":
            known = sorted(n for n in relations if "." in n)
            raise GraphError(
                f"unknown source {call} in {kind} '{model.name}'",
                node=model.name,
                location=where,
                hint=did_you_mean(target, known)
                or "declare it under `sources:` in a properties file",
            )
        raise GraphError(
            f"unknown ref '{target}' in {kind} '{model.name}'",
            node=model.name,
            location=where,
            hint=did_you_mean(target, refable) or "no model or seed of that name exists",
        )


def cte_name(name: str) -> str:
    return f"__ephemeral_{name}"


class Names:
    """How the SQL of this compile names each node, and the key a table read is matched on;
    each computed once."""

    def __init__(self, relations: Mapping[str, Relation], ephemeral: set[str]) -> None:
        self.relations = relations
        self.ephemeral = ephemeral
        self._texts: dict[str, str] = {}
        self._keys: dict[str, tuple[str, str, str]] = {}

    def text(self, name: str) -> str:
        """The node as SQL names it: its relation, or its CTE when ephemeral."""
        text = self._texts.get(name)
        if text is None:
            ephemeral = name in self.ephemeral
            text = self._texts[name] = cte_name(name) if ephemeral else str(self.relations[name])
        return text

    def key(self, name: str) -> tuple[str, str, str]:
        key = self._keys.get(name)
        if key is None:
            if name in self.ephemeral:
                key = ("", "", cte_name(name).lower())
            else:
                key = relation_key(self.relations[name])
            self._keys[name] = key
        return key


def resolve(text: str, names: Names, name: str) -> str:
    """Swap the placeholders left by rendering for relation names."""
    sql = PLACEHOLDER_RE.sub(lambda match: names.text(match.group(1)), text)
    if THIS in sql:
        if name not in names.relations:  # a singular test has no relation of its own
            raise CompileError(
                f"'{name}' uses {{{{ this }}}}, which only models have",
                node=name,
                hint="name the relation with ref() or source()",
            )
        sql = sql.replace(THIS, names.text(name))
    # A trailing semicolon is harmless alone but breaks the SQL a model is embedded in.
    return _TRAILING_SEMICOLONS.sub("", sql)


def cross_check(
    model: ModelSource,
    rendered: Rendered,
    parsed: Parsed,
    sql: str,
    names: Names,
    compiled_path: str,
) -> None:
    """Every table the SQL reads must come from a `ref()` (or be the node itself)."""
    if not parsed.tables:
        return
    relations = names.relations
    declared = {names.key(c.node) for c in rendered.refs}
    if model.name in relations:
        declared.add(relation_key(relations[model.name]))
    for table in parsed.tables:
        if (table.catalog.lower(), table.schema.lower(), table.name.lower()) in declared:
            continue
        shown = f"{table.schema}.{table.name}" if table.schema else table.name
        model_names = {r.name: n for n, r in relations.items()}
        if table.name in model_names:
            hint = f"write {{{{ ref('{model_names[table.name]}') }}}} instead of {shown}"
        else:
            hint = (
                "declare what a model reads with ref() or source(); read files with "
                "read_csv(), read_parquet() or read_json()"
            )
        raise CompileError(
            f"model '{model.name}' reads table '{shown}', which is not declared with ref() "
            "or source()",
            node=model.name,
            location=Location(compiled_path, table.line, table.column),
            excerpt=underline(sql, table.line, table.column, table.length)
            + f"\n(rendered from {model.path})",
            hint=hint,
        )


def predict_parents(
    node: str,
    kind: str,
    parses: Sequence[tuple[Parsed, str, str]],
    models: Mapping[str, str],
    source_path: str,
) -> tuple[str, ...]:
    """The ML models whose ``predict_<model>(...)`` the node's SQL calls: its training parents.

    Args:
        node: the node's name; kind: what it is, for the error.
        parses: each SQL variant of the node: its parse, text and compiled path.
        models: ``predict_<model>`` (lower case) -> model name, for every ML spec.
        source_path: the template the SQL was rendered from.

    Raises:
        CompileError: at the call, when no ML spec defines the model it names.
    """
    found: list[str] = []
    for parsed, sql, compiled_path in parses:
        for call in parsed.predicts:
            model = models.get(call.name.lower())
            if model is not None:
                found.append(model)
                continue
            named = call.name[len("predict_") :]
            close = difflib.get_close_matches(
                named.lower(), [f.removeprefix("predict_") for f in models], n=1
            )
            usage = "predict_<model>(...) scores with the champion of the model in ml/<model>.yml"
            raise CompileError(
                f"{kind} '{node}' calls {call.name}(), but no ML model '{named}' is defined",
                node=node,
                location=Location(compiled_path, call.line, call.column),
                excerpt=underline(sql, call.line, call.column, len(call.name))
                + f"\n(rendered from {source_path})",
                hint=f"did you mean predict_{close[0]}()? {usage}" if close else usage,
            )
    return tuple(dict.fromkeys(found))


def relation_key(relation: Relation) -> tuple[str, str, str]:
    return relation.database.lower(), relation.schema.lower(), relation.name.lower()


def inline_ephemerals(
    name: str,
    bodies: Mapping[str, str],
    depends: Mapping[str, tuple[str, ...]],
    ephemeral: set[str],
    parsed: Mapping[str, Parsed],
) -> str:
    """Prepend the ephemeral models ``name`` reads (transitively) as CTEs, parents first."""
    order: list[str] = []

    def visit(node: str) -> None:
        for parent in depends[node]:
            if parent in ephemeral and parent not in order:
                visit(parent)
                order.append(parent)

    visit(name)
    if not order:
        return bodies[name]
    ctes = ",\n".join(f"{cte_name(e)} as (\n{bodies[e]}\n)" for e in order)
    body = bodies[name]
    if parsed[name].starts_with_cte:
        match = _LEADING_WITH.match(body)
        if match:
            recursive = " recursive" if match.group(2) else ""
            return f"{match.group(1)}with{recursive} {ctes},{body[match.end() :]}"
    return f"with {ctes}\n{body}"


_JSON = json.JSONEncoder(default=str)  # what json.dumps(..., default=str) builds per call


def fingerprint(sql: str, config: NodeConfig, parents: list[str], incremental_sql: str = "") -> str:
    fields = [
        sql,
        config.materialized,
        config.schema,
        config.alias,
        sorted(config.tags),
        sorted(config.meta.items(), key=lambda kv: kv[0]) if config.meta else [],
        config.contract,
        parents,
    ]
    if config.incremental is not None:  # other nodes keep the fingerprints they had
        fields += [repr(config.incremental), incremental_sql]
    payload = _JSON.encode(fields)
    return hashlib.sha256(payload.encode()).hexdigest()
