"""A small generic DAG: topological order, ancestors and descendants, cycles printed in full."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlml.errors import GraphError


@dataclass(frozen=True)
class DAG:
    """Nodes and their parents. Build one with `build_dag`, which rejects cycles."""

    parents: Mapping[str, tuple[str, ...]]
    children: Mapping[str, tuple[str, ...]]
    order: tuple[str, ...]  # topological: every node after all its parents

    def __contains__(self, node: object) -> bool:
        return node in self.parents

    def __len__(self) -> int:
        return len(self.parents)

    def ancestors(self, node: str, depth: int | None = None) -> set[str]:
        """Nodes upstream of ``node`` within ``depth`` edges (all when None)."""
        return _walk(self.parents, node, depth)

    def descendants(self, node: str, depth: int | None = None) -> set[str]:
        """Nodes downstream of ``node`` within ``depth`` edges (all when None)."""
        return _walk(self.children, node, depth)


def build_dag(edges: Mapping[str, Iterable[str]]) -> DAG:
    """Build a DAG from ``node -> parents``; parents missing from the keys are ignored.

    Raises GraphError naming the whole cycle (``a -> b -> a``) if there is one.

    >>> build_dag({"b": ["a"], "a": []}).order
    ('a', 'b')
    """
    parents = {node: tuple(sorted({p for p in ps if p in edges})) for node, ps in edges.items()}
    children: dict[str, list[str]] = {node: [] for node in parents}
    for node, ps in parents.items():
        for parent in ps:
            children[parent].append(node)
    indegree = {node: len(ps) for node, ps in parents.items()}
    ready = [node for node, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, child)
    if len(order) != len(parents):
        cycle = _find_cycle(parents, {n for n, d in indegree.items() if d > 0})
        raise GraphError(
            "dependency cycle: " + " -> ".join(cycle),
            node=cycle[0],
            hint="a model cannot depend on itself, directly or through others; "
            "remove one ref() in the cycle",
        )
    return DAG(parents, {n: tuple(sorted(c)) for n, c in children.items()}, tuple(order))


def _find_cycle(parents: Mapping[str, tuple[str, ...]], stuck: set[str]) -> list[str]:
    """One cycle among the nodes left over by Kahn's algorithm, first node repeated at the end."""
    start = min(stuck)
    path = [start]
    seen = {start: 0}
    node = start
    while True:
        node = min(p for p in parents[node] if p in stuck)
        if node in seen:
            cycle = path[seen[node] :]
            cycle.reverse()  # print in dependency direction: parent -> child
            return [*cycle, cycle[0]]
        seen[node] = len(path)
        path.append(node)


def _walk(edges: Mapping[str, tuple[str, ...]], node: str, depth: int | None) -> set[str]:
    found: set[str] = set()
    frontier = [node]
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        next_frontier = []
        for current in frontier:
            for neighbour in edges.get(current, ()):
                if neighbour not in found:
                    found.add(neighbour)
                    next_frontier.append(neighbour)
        frontier = next_frontier
    return found
