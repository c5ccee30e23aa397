"""`state:modified` and `state:new`: nodes whose fingerprint differs from their last build."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlml.cli.main import cli
from sqlml.errors import GraphError
from sqlml.graph import DAG, build_dag, select_nodes
from sqlml.graph.selection import uses_state
from tests.graph.strategies import random_dags
from tests.projectfactory import MINIMAL_PROJECT, write_project


@dataclass(frozen=True)
class Node:
    name: str
    fingerprint: str
    path: str = "models/x.sql"
    kind: str = "model"
    tags: tuple[str, ...] = ()


#   a ── b ── c        d (new)      e (failed to compile: no fingerprint)
EDGES: dict[str, list[str]] = {"a": [], "b": ["a"], "c": ["b"], "d": [], "e": []}
DAG_ = build_dag(EDGES)
NODES = {n: Node(n, "" if n == "e" else f"fp-{n}") for n in EDGES}
BUILT = {"a": "fp-a", "b": "old-b", "c": "fp-c", "e": "fp-e"}


def select(*terms: str, exclude: tuple[str, ...] = ()) -> set[str]:
    return set(select_nodes(DAG_, NODES, terms, exclude, built=BUILT))


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        (("state:modified",), {"b", "d", "e"}),
        (("state:new",), {"d"}),
        (("state:modified+",), {"b", "c", "d", "e"}),
        (("+state:modified",), {"a", "b", "d", "e"}),
        (("state:modified,c+",), set()),  # an empty intersection is no error with state:
        (("c", "state:new"), {"c", "d"}),
    ],
)
def test_state_selectors(terms: tuple[str, ...], expected: set[str]) -> None:
    assert select(*terms) == expected


def test_excluding_what_is_modified() -> None:
    assert select(exclude=("state:modified",)) == {"a", "c"}


def test_nothing_modified_is_an_empty_selection_not_an_error() -> None:
    built = {n: node.fingerprint for n, node in NODES.items() if node.fingerprint}

    assert select_nodes(DAG_, {n: NODES[n] for n in "abcd"}, ["state:modified+"], built=built) == (
        frozenset()
    )


def test_an_unknown_state_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(GraphError) as caught:
        select("state:modifed")

    assert caught.value.render() == (
        "unknown state 'modifed' in 'state:modifed'\nhint: did you mean 'modified'?"
    )


def test_state_selectors_need_the_fingerprints_of_the_last_build() -> None:
    with pytest.raises(GraphError) as caught:
        select_nodes(DAG_, NODES, ["state:modified"])

    assert (
        caught.value.message == "selector 'state:modified' needs the fingerprints of the last build"
    )


def test_uses_state_looks_into_unions_and_intersections() -> None:
    assert uses_state(["a b+"], ["tag:x,state:new"])
    assert uses_state(["a +state:modified"])
    assert not uses_state(["a b+", "tag:x"], [])


@settings(max_examples=150, deadline=None)
@given(random_dags(), st.data())
def test_modified_is_exactly_the_nodes_whose_fingerprint_changed(
    edges: dict[str, list[str]], data: st.DataObject
) -> None:
    dag: DAG = build_dag(edges)
    nodes = {n: Node(n, f"fp-{n}") for n in edges}
    # Each node was built with its current fingerprint, another one, or never.
    built = {
        n: fp
        for n in edges
        if (fp := data.draw(st.sampled_from([f"fp-{n}", "stale", None]), label=n)) is not None
    }
    modified = {n for n in edges if built.get(n) != f"fp-{n}"}

    assert select_nodes(dag, nodes, ["state:modified"], built=built) == modified
    assert select_nodes(dag, nodes, ["state:new"], built=built) == set(edges) - set(built)
    downstream = set().union(modified, *(dag.descendants(n) for n in modified))
    assert select_nodes(dag, nodes, ["state:modified+"], built=built) == downstream
    upstream = set().union(modified, *(dag.ancestors(n) for n in modified))
    assert select_nodes(dag, nodes, ["+state:modified"], built=built) == upstream
    assert select_nodes(dag, nodes, [], ["state:modified"], built=built) == set(edges) - modified


PROJECT = {
    "project.yml": MINIMAL_PROJECT,
    "models/orders.sql": "select range as id, range * 10 as amount from range(4)",
    "models/big_orders.sql": "select * from {{ ref('orders') }} where amount > 10",
    "models/big_order_count.sql": "select count(*) as n from {{ ref('big_orders') }}",
    "models/all_order_count.sql": "select count(*) as n from {{ ref('orders') }}",
    "models/customers.sql": "select 1 as id",
}


def run(root: Path, *args: str) -> list[str]:
    result = CliRunner().invoke(cli, ["run", "--project-dir", str(root), *args])
    assert result.exit_code == 0, result.output
    done = [line for line in result.output.splitlines() if " OK " in line]
    return sorted(line.split(" OK ")[1].split()[0] for line in done)


def test_run_state_modified_plus_builds_the_edited_model_and_its_children_only(
    tmp_path: Path,
) -> None:
    root = write_project(tmp_path, PROJECT)
    assert run(root) == sorted(n.split("/")[1][:-4] for n in PROJECT if n.startswith("models/"))
    assert run(root, "-s", "state:modified+") == []  # nothing changed since

    write_project(root, {"models/big_orders.sql": "select * from {{ ref('orders') }} where id > 1"})

    listed = CliRunner().invoke(cli, ["ls", "--project-dir", str(root), "-s", "state:modified"])
    assert [line.split()[0] for line in listed.output.splitlines()] == [
        "big_orders",
        "big_order_count",  # its parent's fingerprint is part of its own
    ]
    assert run(root, "-s", "state:modified+") == ["big_order_count", "big_orders"]
    assert run(root, "-s", "state:modified+") == []
