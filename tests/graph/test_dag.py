"""The DAG: topological order, ancestors and descendants, and cycles printed in full."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlml.errors import GraphError
from sqlml.graph import DAG, build_dag
from tests.graph.strategies import random_dags

# raw -> stg_a, stg_b -> joined -> report, plus a lone node.
EDGES = {
    "report": ["joined"],
    "joined": ["stg_a", "stg_b"],
    "stg_a": ["raw"],
    "stg_b": ["raw"],
    "raw": [],
    "lone": [],
}


@pytest.fixture
def dag() -> DAG:
    return build_dag(EDGES)


def test_order_puts_parents_first_and_breaks_ties_by_name(dag: DAG) -> None:
    assert dag.order == ("lone", "raw", "stg_a", "stg_b", "joined", "report")


def test_parents_and_children(dag: DAG) -> None:
    assert dag.parents["joined"] == ("stg_a", "stg_b")
    assert dag.children["raw"] == ("stg_a", "stg_b")
    assert dag.children["report"] == ()
    assert len(dag) == 6
    assert "lone" in dag
    assert "nope" not in dag


def test_parents_outside_the_graph_are_ignored() -> None:
    dag = build_dag({"a": ["outside", "b", "b"], "b": []})

    assert dag.parents == {"a": ("b",), "b": ()}
    assert dag.order == ("b", "a")


def test_empty_graph() -> None:
    dag = build_dag({})

    assert dag.order == ()
    assert len(dag) == 0


def test_ancestors_and_descendants(dag: DAG) -> None:
    assert dag.ancestors("report") == {"joined", "stg_a", "stg_b", "raw"}
    assert dag.descendants("raw") == {"stg_a", "stg_b", "joined", "report"}
    assert dag.ancestors("raw") == set()
    assert dag.descendants("lone") == set()


@pytest.mark.parametrize(
    ("depth", "up", "down"),
    [
        (0, set(), set()),
        (1, {"joined"}, {"stg_a", "stg_b"}),
        (2, {"joined", "stg_a", "stg_b"}, {"stg_a", "stg_b", "joined"}),
        (3, {"joined", "stg_a", "stg_b", "raw"}, {"stg_a", "stg_b", "joined", "report"}),
        (9, {"joined", "stg_a", "stg_b", "raw"}, {"stg_a", "stg_b", "joined", "report"}),
    ],
)
def test_depth_bounds_the_walk(dag: DAG, depth: int, up: set[str], down: set[str]) -> None:
    assert dag.ancestors("report", depth) == up
    assert dag.descendants("raw", depth) == down


def cycle_error(edges: dict[str, list[str]]) -> GraphError:
    with pytest.raises(GraphError) as caught:
        build_dag(edges)
    return caught.value


HINT = (
    "hint: a model cannot depend on itself, directly or through others; "
    "remove one ref() in the cycle"
)


def test_two_node_cycle_is_printed_in_full() -> None:
    err = cycle_error({"a": ["b"], "b": ["a"]})

    assert err.render() == f"dependency cycle: b -> a -> b\n{HINT}"
    assert err.node == "b"


def test_self_reference_is_a_cycle() -> None:
    err = cycle_error({"a": ["a"], "b": []})

    assert err.render() == f"dependency cycle: a -> a\n{HINT}"


def test_only_the_cycle_is_printed_not_what_hangs_off_it() -> None:
    # ok -> x -> y -> z -> x, and w below the cycle: neither ok nor w is part of it.
    err = cycle_error({"ok": [], "x": ["ok", "z"], "y": ["x"], "z": ["y"], "w": ["z"]})

    assert err.render() == f"dependency cycle: x -> y -> z -> x\n{HINT}"


@settings(max_examples=200, deadline=None)
@given(random_dags())
def test_order_respects_every_edge(edges: dict[str, list[str]]) -> None:
    dag = build_dag(edges)

    position = {node: i for i, node in enumerate(dag.order)}
    assert sorted(dag.order) == sorted(edges)
    for node, parents in edges.items():
        for parent in parents:
            assert position[parent] < position[node]


@settings(max_examples=200, deadline=None)
@given(random_dags())
def test_ancestors_are_the_transitive_parents(edges: dict[str, list[str]]) -> None:
    dag = build_dag(edges)

    for node in edges:
        expected: set[str] = set()
        stack = list(edges[node])
        while stack:
            parent = stack.pop()
            if parent not in expected:
                expected.add(parent)
                stack.extend(edges[parent])
        assert dag.ancestors(node) == expected
        assert all(node in dag.descendants(a) for a in expected)
        assert dag.ancestors(node, 1) == set(edges[node])


@settings(max_examples=200, deadline=None)
@given(random_dags(), st.data())
def test_a_back_edge_is_reported_as_a_real_cycle(
    edges: dict[str, list[str]], data: st.DataObject
) -> None:
    dag = build_dag(edges)
    node = data.draw(st.sampled_from(dag.order))
    ancestor = data.draw(st.sampled_from(sorted(dag.ancestors(node) | {node})))
    # Make the ancestor depend on its descendant: a cycle through both.
    cyclic = {**edges, ancestor: [*edges[ancestor], node]}

    with pytest.raises(GraphError) as caught:
        build_dag(cyclic)

    message = caught.value.message
    assert message.startswith("dependency cycle: ")
    cycle = message.removeprefix("dependency cycle: ").split(" -> ")
    assert cycle[0] == cycle[-1]
    assert len(set(cycle[:-1])) == len(cycle) - 1
    for parent, child in itertools.pairwise(cycle):
        assert parent in cyclic[child], f"{parent} -> {child} is not an edge"
