"""Node selection, dbt style.

Grammar of one selector (several selectors are a union; a comma inside one is an intersection)::

    [N]+ METHOD [+[N]]     upstream / downstream, optionally bounded to N edges
    @METHOD                the nodes, their descendants and every ancestor of those
    METHOD := name | name-with-*-wildcards | tag:TAG | path:FOLDER_OR_FILE | kind:KIND
            | state:modified | state:new

``state:`` compares each node's fingerprint with the one of its last successful build, which
the caller reads from the warehouse and passes in: selection itself stays pure. A node's
fingerprint covers its SQL, its config and its parents' fingerprints, so a node downstream of
an edit is modified too (its table was built from the old parent).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlml.errors import GraphError, did_you_mean
from sqlml.graph.dag import DAG

_SELECTOR = re.compile(r"^(?P<at>@)?(?:(?P<up>\d*)\+)?(?P<method>[^+]+?)(?:\+(?P<down>\d*))?$")
METHODS = ("tag", "path", "kind", "state")
STATES = ("modified", "new")


class Selectable(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def fingerprint(self) -> str: ...


@dataclass(frozen=True)
class Selector:
    """One parsed selector term."""

    method: str  # "name", "tag", "path", "kind" or "state"
    value: str
    upstream: int | None = None  # None: not selected; -1: unbounded
    downstream: int | None = None
    at: bool = False


def parse_selector(text: str) -> Selector:
    """Parse one term such as ``2+orders+``, ``tag:nightly`` or ``@path:models/staging``.

    >>> parse_selector("2+orders+")
    Selector(method='name', value='orders', upstream=2, downstream=-1, at=False)
    """
    match = _SELECTOR.match(text.strip())
    if not match or not match.group("method"):
        raise GraphError(
            f"invalid selector '{text}'",
            hint="use name, +name, name+, N+name, tag:TAG, path:PATH, kind:KIND, "
            "state:modified or @name",
        )
    method, value = "name", match.group("method")
    if ":" in value:
        method, value = value.split(":", 1)
        if method not in METHODS:
            raise GraphError(
                f"unknown selector method '{method}:' in '{text}'",
                hint=did_you_mean(method, METHODS) or "methods: " + ", ".join(METHODS),
            )
        if method == "state" and value not in STATES:
            raise GraphError(
                f"unknown state '{value}' in '{text}'",
                hint=did_you_mean(value, STATES) or "use state:modified or state:new",
            )
    up, down = match.group("up"), match.group("down")
    if match.group("at") and (up is not None or down is not None):
        raise GraphError(f"invalid selector '{text}'", hint="'@' cannot be combined with '+'")
    return Selector(
        method=method,
        value=value,
        upstream=None if up is None else int(up) if up else -1,
        downstream=None if down is None else int(down) if down else -1,
        at=bool(match.group("at")),
    )


def select_nodes(
    dag: DAG,
    nodes: Mapping[str, Selectable],
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    *,
    built: Mapping[str, str] | None = None,
) -> frozenset[str]:
    """The names of the nodes chosen by ``select`` minus those chosen by ``exclude``.

    An empty ``select`` means every node. Each argument may hold several space-separated
    selectors. A selector that matches nothing is an error (with a suggestion), since a typo
    would otherwise run nothing silently; in ``exclude`` it is ignored. ``state:`` selectors
    are the exception: nothing modified is a fine answer.

    Args:
        built: node name -> fingerprint of its last successful build, for ``state:``
            selectors (see `uses_state`); without it they are an error.
    """
    chosen = (
        set(nodes)
        if not _terms(select)
        else set().union(
            *(_evaluate(dag, nodes, term, built, strict=True) for term in _terms(select))
        )
    )
    for term in _terms(exclude):
        chosen -= _evaluate(dag, nodes, term, built, strict=False)
    return frozenset(chosen)


def uses_state(*arguments: Sequence[str]) -> bool:
    """Whether any selector in ``arguments`` needs the warehouse's state (``state:...``)."""
    return any(
        parse_selector(part).method == "state"
        for argument in arguments
        for term in _terms(argument)
        for part in term.split(",")
    )


def _terms(arguments: Iterable[str]) -> list[str]:
    return [term for argument in arguments for term in argument.split()]


def _evaluate(
    dag: DAG,
    nodes: Mapping[str, Selectable],
    term: str,
    built: Mapping[str, str] | None,
    *,
    strict: bool,
) -> set[str]:
    selectors = [parse_selector(p) for p in term.split(",")]
    parts = [_select_one(dag, nodes, s, built, strict) for s in selectors]
    chosen = set.intersection(*parts)
    if strict and not chosen and not any(s.method == "state" for s in selectors):
        raise GraphError(
            f"selector '{term}' matches no node: each part matches some, but none matches all",
            hint="an intersection (a comma) keeps only nodes matched by every part; "
            "use a space for a union",
        )
    return chosen


def _select_one(
    dag: DAG,
    nodes: Mapping[str, Selectable],
    selector: Selector,
    built: Mapping[str, str] | None,
    strict: bool,
) -> set[str]:
    base = _match(nodes, selector, built)
    if not base and strict and selector.method != "state":
        if selector.method != "name":
            message = f"selector '{selector.method}:{selector.value}' matches no node"
        elif _is_glob(selector.value):
            message = f"no node matches '{selector.value}'"
        else:
            message = f"no node named '{selector.value}'"
        raise GraphError(
            message, hint=_suggest(nodes, selector) or "run `sqlml ls` to see every node"
        )
    result = set(base)
    for name in base:
        if selector.at:
            downstream = dag.descendants(name)
            result |= downstream
            for node in (name, *downstream):
                result |= dag.ancestors(node)
            continue
        if selector.upstream is not None:
            result |= dag.ancestors(name, None if selector.upstream < 0 else selector.upstream)
        if selector.downstream is not None:
            result |= dag.descendants(
                name, None if selector.downstream < 0 else selector.downstream
            )
    return result


def _match(
    nodes: Mapping[str, Selectable], selector: Selector, built: Mapping[str, str] | None
) -> set[str]:
    value = selector.value
    if selector.method == "state":
        if built is None:
            raise GraphError(
                f"selector 'state:{value}' needs the fingerprints of the last build",
                hint="pass built= to select_nodes (sqlml reads them from the warehouse)",
            )
        if value == "new":
            return {n for n in nodes if n not in built}
        # A node that failed to compile has no fingerprint: it is modified until it builds.
        return {
            n
            for n, node in nodes.items()
            if not node.fingerprint or built.get(n) != node.fingerprint
        }
    if selector.method == "name":
        if _is_glob(value):
            return {n for n in nodes if fnmatch.fnmatchcase(n, value)}
        return {value} if value in nodes else set()
    if selector.method == "tag":
        return {n for n, node in nodes.items() if value in node.tags}
    if selector.method == "kind":
        return {n for n, node in nodes.items() if node.kind == value}
    # path: a folder (everything under it), a file, or a glob, relative to the project
    folder = value.rstrip("/") + "/"
    pattern = _path_glob(value) if _is_glob(value) else None
    return {
        n
        for n, node in nodes.items()
        if node.path == value
        or node.path.startswith(folder)
        or (pattern is not None and pattern.fullmatch(node.path) is not None)
    }


def _is_glob(value: str) -> bool:
    return any(c in value for c in "*?[")


def _path_glob(pattern: str) -> re.Pattern[str]:
    """A path glob as a regex: ``*`` and ``?`` stay within a folder, ``**`` crosses folders."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _suggest(nodes: Mapping[str, Selectable], selector: Selector) -> str | None:
    if selector.method == "name":
        return did_you_mean(selector.value, nodes)
    if selector.method == "tag":
        tags = {t for node in nodes.values() for t in node.tags}
        return did_you_mean(selector.value, tags) or (
            "tags in this project: " + ", ".join(sorted(tags)) if tags else "no node has a tag"
        )
    if selector.method == "kind":
        return "kinds in this project: " + ", ".join(sorted({n.kind for n in nodes.values()}))
    folders = {node.path.rsplit("/", 1)[0] for node in nodes.values()}
    return did_you_mean(selector.value.rstrip("/"), folders)
