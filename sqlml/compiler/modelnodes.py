"""Models and singular tests, rendered, become nodes: their refs are resolved, their SQL parsed
once per distinct text and cross-checked against what they declare, their ephemeral parents
inlined, and each is assembled into a `CompiledNode` with its fingerprint."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from sqlml.compiler.cache import CompileCache
from sqlml.compiler.configs import check_incremental
from sqlml.compiler.link import (
    Names,
    check_refs,
    cross_check,
    cte_name,
    fingerprint,
    inline_ephemerals,
    predict_parents,
    resolve,
)
from sqlml.compiler.parallel import COST_MS, Helper, parse
from sqlml.compiler.snapshot_config import check_snapshot_columns
from sqlml.compiler.snapshot_config import spec_digest_parts as spec_parts
from sqlml.compiler.testnodes import failures_relation, singular_spec
from sqlml.compiler.types import CompiledNode, Parsed, Rendered, incremental_path
from sqlml.errors import CompileError, Location, SqlmlError
from sqlml.project.types import ModelSource, NodeConfig, Project
from sqlml.relation import Relation
from sqlml.snapshotspec import SnapshotSpec

Write = Callable[[str, str, str], None]  # (path, sql, cache key)
_V = TypeVar("_V")


class Linker:
    """Resolves, parses and cross-checks rendered nodes, and assembles them into nodes."""

    def __init__(
        self,
        project: Project,
        sources: Mapping[str, ModelSource],
        kinds: Mapping[str, str],
        relations: Mapping[str, Relation],
        ephemeral: set[str],
        errors: dict[str, SqlmlError],
        write: Write,
    ) -> None:
        self.project = project
        self.compiled_root = str(project.target_dir / "compiled") + "/"
        self.compiled_prefix = _compiled_path(project, "")
        self.sources = sources
        self.kinds = kinds
        self.relations = relations
        self.names = Names(relations, ephemeral)
        self.refable = {name for name in relations if "." not in name}  # models and seeds
        self.disabled: set[str] = set()
        self.ephemeral = ephemeral
        self.errors = errors
        self.write = write
        self.specs: Mapping[str, SnapshotSpec] = {}  # of snapshots
        # Incremental models whose template asks is_incremental(): that variant and its parse.
        self.incremental: dict[str, tuple[str, Parsed]] = {}

    def link(
        self, rendered: Mapping[str, Rendered], cache: CompileCache, helper: Helper
    ) -> tuple[dict[str, str], dict[str, Parsed], int, set[str]]:
        """Resolve, write, parse and cross-check every rendered node; failures go to
        ``errors``. A node that reads an ephemeral model is written later, with it inlined.

        Returns each node's own SQL and parse, how many texts were parsed, and the digests of
        the parses in use.
        """
        errors = self.errors
        bodies: dict[str, str] = {}
        digests: dict[str, str] = {}
        for name, result in rendered.items():
            model = self.sources[name]
            try:
                check_refs(
                    model, self.kinds[name], result, self.relations, self.refable, self.disabled
                )
                sql = resolve(result.text, self.names, name)
            except SqlmlError as exc:
                place(exc, name)
                errors[name] = exc
                continue
            if not any(c.node in self.ephemeral for c in result.refs):
                self.write(self.compiled_root + model.path, sql, model.path)
            bodies[name] = sql
            digests[name] = hashlib.sha256(sql.encode()).hexdigest()
        # Parse each new text once (identical texts share a parse, not an error).
        first: dict[str, str] = {}
        for name, digest in digests.items():
            if digest not in cache.parses:
                first.setdefault(digest, name)
        items = [self._parse_item(name, bodies[name]) for name in first.values()]
        outcomes = dict(
            zip(
                first,
                helper.share("parse", items, parse, [COST_MS["parse"]] * len(items)),
                strict=True,
            )
        )
        parses = len(items)
        parsed: dict[str, Parsed] = {}
        for name, digest in digests.items():
            outcome = ("ok", cache.parses[digest]) if digest in cache.parses else outcomes[digest]
            if outcome[0] == "error" and first[digest] != name:
                parses += 1
                outcome = parse(self._parse_item(name, bodies[name]))
            try:
                if outcome[0] == "error":
                    raise outcome[1]
                if digest not in cache.parses:
                    cache.store_parse(digest, outcome[1])
                model = self.sources[name]
                cross_check(
                    model,
                    rendered[name],
                    outcome[1],
                    bodies[name],
                    self.names,
                    self.compiled_prefix + model.path,
                )
            except SqlmlError as exc:
                place(exc, name)
                errors[name] = exc
                continue
            parsed[name] = outcome[1]
        keep = set(digests.values())
        for name, result in rendered.items():
            if result.incremental_text is not None and name in parsed:
                keep.update(self._link_incremental(name, result, cache))
        return bodies, parsed, parses, keep

    def _link_incremental(self, name: str, result: Rendered, cache: CompileCache) -> set[str]:
        """Resolve, parse and cross-check the is_incremental() variant of a model; a failure
        is the model's. Returns the digest of the parse in use."""
        model = self.sources[name]
        path = incremental_path(self.compiled_prefix + model.path)
        try:
            assert result.incremental_text is not None
            sql = resolve(result.incremental_text, self.names, name)
            digest = hashlib.sha256(sql.encode()).hexdigest()
            found = cache.parses.get(digest)
            if found is None:
                outcome = parse((sql, name, path, model.path))
                if outcome[0] == "error":
                    raise outcome[1]
                found = outcome[1]
                cache.store_parse(digest, found)
            cross_check(model, result, found, sql, self.names, path)
        except SqlmlError as exc:
            place(exc, name)
            self.errors[name] = exc
            return set()
        self.incremental[name] = (sql, found)
        return {digest}

    def ml_parents(
        self,
        name: str,
        bodies: Mapping[str, str],
        parsed: Mapping[str, Parsed],
        scorers: Mapping[str, str],
    ) -> tuple[str, ...]:
        """The ML models whose ``predict_<model>(...)`` the node calls; calling a model no
        spec defines becomes the node's error."""
        path = self.compiled_prefix + self.sources[name].path
        parses = [(parsed[name], bodies[name], path)]
        if name in self.incremental:
            sql, found = self.incremental[name]
            parses.append((found, sql, incremental_path(path)))
        try:
            return predict_parents(name, self.kinds[name], parses, scorers, self.sources[name].path)
        except SqlmlError as exc:
            place(exc, name)
            self.errors[name] = exc
            return ()

    def _parse_item(self, name: str, sql: str) -> tuple[str, str, str, str]:
        path = self.sources[name].path
        return (sql, name, self.compiled_prefix + path, path)

    def node(
        self,
        name: str,
        config: NodeConfig,
        depends: Mapping[str, tuple[str, ...]],
        bodies: Mapping[str, str],
        parsed: Mapping[str, Parsed],
        nodes: Mapping[str, CompiledNode],
        parents: list[str],
    ) -> CompiledNode:
        """A model or singular test as a node, its ephemeral parents inlined into its SQL."""
        model, kind, ephemeral = self.sources[name], self.kinds[name], self.ephemeral
        error = self.errors.get(name)
        failed_ephemeral = next(
            (p for p in depends[name] if p in ephemeral and nodes[p].error is not None), None
        )
        if error is None and failed_ephemeral is not None:
            error = CompileError(
                f"model '{name}' inlines ephemeral model '{failed_ephemeral}', which failed",
                node=name,
                location=Location(model.path),
                hint=f"fix '{failed_ephemeral}' first",
            )
        sql = incremental_sql = ""
        spec = self.specs.get(name)
        if error is None and spec is not None and name in parsed:
            try:
                check_snapshot_columns(
                    name, spec, parsed[name].columns, self.compiled_prefix + model.path
                )
            except SqlmlError as exc:
                error = exc
        if error is None:
            sql = inline_ephemerals(name, bodies, depends, ephemeral, parsed)
            incremental_sql = sql
            if name in self.incremental:
                body, found = self.incremental[name]
                incremental_sql = inline_ephemerals(
                    name, _Over(bodies, name, body), depends, ephemeral, _Over(parsed, name, found)
                )
                path = incremental_path(model.path)
                self.write(self.compiled_root + path, incremental_sql, path)
            error = check_incremental(name, model.path, config, sql, incremental_sql, parsed)
            if error is not None:
                self.errors[name] = error
                sql = incremental_sql = ""
        if name in bodies and any(p in ephemeral for p in depends[name]):
            # Not written yet: the file holds what runs, or the node's own SQL if it failed.
            self.write(self.compiled_root + model.path, sql or bodies[name], model.path)
        return CompiledNode(
            name=name,
            kind=kind,
            path=model.path,
            config=config,
            relation=_own_relation(name, kind, self.relations, ephemeral, self.project),
            sql=sql,
            body_sql=bodies.get(name, ""),
            depends_on=depends[name],
            columns=parsed[name].columns if name in parsed else (),
            declared_columns=model.columns,
            description=model.description,
            fingerprint=""
            if error
            else fingerprint(sql, config, [*spec_parts(spec), *parents], incremental_sql),
            compiled_path=self.compiled_prefix + model.path,
            error=error,
            spec=singular_spec(name) if kind == "test" else spec,
            incremental_sql=incremental_sql if config.incremental else "",
        )


class _Over(Mapping[str, _V]):
    """``base`` with one key's value replaced, without copying ``base``."""

    def __init__(self, base: Mapping[str, _V], key: str, value: _V) -> None:
        self.base, self.key, self.value = base, key, value

    def __getitem__(self, key: str) -> _V:
        return self.value if key == self.key else self.base[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)


def _own_relation(
    name: str, kind: str, relations: Mapping[str, Relation], ephemeral: set[str], project: Project
) -> Relation:
    if kind in ("test", "training"):  # a training query's own relation is set by training_node
        return failures_relation(project, name)
    return relations[name] if name not in ephemeral else Relation("", cte_name(name))


def _compiled_path(project: Project, path: str) -> str:
    return f"{project.target_dir.name}/compiled/{path}"


def place(error: SqlmlError, node: str) -> None:
    """Name ``node`` as where ``error`` happened, unless it names one already."""
    if error.node is None:
        error.node = node
