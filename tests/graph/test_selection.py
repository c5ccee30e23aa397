"""Selecting nodes: the grammar, unions, intersections, exclusion, and errors for typos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlml.compiler import compile_project
from sqlml.errors import GraphError
from sqlml.graph import DAG, Selector, build_dag, parse_selector, select_nodes
from sqlml.project import load_project
from tests.graph.strategies import random_dags
from tests.projectfactory import write_project


@dataclass(frozen=True)
class Node:
    """The least a node needs to be selectable."""

    name: str
    path: str
    kind: str = "model"
    tags: tuple[str, ...] = ()
    fingerprint: str = ""


#   stg_orders ──┐
#                ├─ int_orders ── fct_orders ── rpt_daily
#   stg_customers┘                    │
#   stg_events ───────────────────────┘        churn_model (kind: training) <- fct_orders
NODES = {
    n.name: n
    for n in [
        Node("stg_orders", "models/staging/stg_orders.sql", tags=("staging", "daily")),
        Node("stg_customers", "models/staging/stg_customers.sql", tags=("staging", "pii")),
        Node("stg_events", "models/staging/web/stg_events.sql", tags=("staging",)),
        Node("int_orders", "models/intermediate/int_orders.sql"),
        Node("fct_orders", "models/marts/fct_orders.sql", tags=("marts", "daily")),
        Node("rpt_daily", "models/marts/reports/rpt_daily.sql", tags=("marts",)),
        Node("churn_model", "ml/churn_model.yml", kind="training"),
    ]
}
EDGES = {
    "stg_orders": [],
    "stg_customers": [],
    "stg_events": [],
    "int_orders": ["stg_orders", "stg_customers"],
    "fct_orders": ["int_orders", "stg_events"],
    "rpt_daily": ["fct_orders"],
    "churn_model": ["fct_orders"],
}
DAG_ = build_dag(EDGES)


def select(*terms: str, exclude: tuple[str, ...] = ()) -> set[str]:
    return set(select_nodes(DAG_, NODES, terms, exclude))


def select_error(*terms: str, exclude: tuple[str, ...] = ()) -> GraphError:
    with pytest.raises(GraphError) as caught:
        select_nodes(DAG_, NODES, terms, exclude)
    return caught.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("orders", Selector("name", "orders")),
        ("+orders", Selector("name", "orders", upstream=-1)),
        ("orders+", Selector("name", "orders", downstream=-1)),
        ("2+orders", Selector("name", "orders", upstream=2)),
        ("orders+1", Selector("name", "orders", downstream=1)),
        ("+orders+", Selector("name", "orders", upstream=-1, downstream=-1)),
        ("3+orders+2", Selector("name", "orders", upstream=3, downstream=2)),
        ("@orders", Selector("name", "orders", at=True)),
        ("tag:daily", Selector("tag", "daily")),
        ("+tag:daily+", Selector("tag", "daily", upstream=-1, downstream=-1)),
        ("path:models/staging", Selector("path", "models/staging")),
        ("@path:models/x.sql", Selector("path", "models/x.sql", at=True)),
        ("kind:model", Selector("kind", "model")),
        ("stg_*", Selector("name", "stg_*")),
        ("  orders  ", Selector("name", "orders")),
    ],
)
def test_parse_selector(text: str, expected: Selector) -> None:
    assert parse_selector(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "orders++",
            "invalid selector 'orders++'\n"
            "hint: use name, +name, name+, N+name, tag:TAG, path:PATH, kind:KIND, "
            "state:modified or @name",
        ),
        (
            "+",
            "invalid selector '+'\n"
            "hint: use name, +name, name+, N+name, tag:TAG, path:PATH, kind:KIND, "
            "state:modified or @name",
        ),
        ("@+orders", "invalid selector '@+orders'\nhint: '@' cannot be combined with '+'"),
        ("@orders+", "invalid selector '@orders+'\nhint: '@' cannot be combined with '+'"),
        ("tga:daily", "unknown selector method 'tga:' in 'tga:daily'\nhint: did you mean 'tag'?"),
        (
            "fqn:x",
            "unknown selector method 'fqn:' in 'fqn:x'\nhint: methods: tag, path, kind, state",
        ),
    ],
)
def test_invalid_selectors(text: str, expected: str) -> None:
    with pytest.raises(GraphError) as caught:
        parse_selector(text)

    assert caught.value.render() == expected


SELECTIONS = [
    (("fct_orders",), {"fct_orders"}),
    (
        ("+fct_orders",),
        {"fct_orders", "int_orders", "stg_orders", "stg_customers", "stg_events"},
    ),
    (("fct_orders+",), {"fct_orders", "rpt_daily", "churn_model"}),
    (("1+fct_orders",), {"fct_orders", "int_orders", "stg_events"}),
    (
        ("2+fct_orders",),
        {"fct_orders", "int_orders", "stg_events", "stg_orders", "stg_customers"},
    ),
    (("stg_orders+1",), {"stg_orders", "int_orders"}),
    (("stg_orders+2",), {"stg_orders", "int_orders", "fct_orders"}),
    (("1+int_orders+1",), {"int_orders", "stg_orders", "stg_customers", "fct_orders"}),
    (("+int_orders+",), set(NODES) - {"stg_events"}),
    # @: the node, its descendants, and everything those need.
    (("@stg_orders",), set(NODES)),
    (("@int_orders",), set(NODES)),
    (("@rpt_daily",), set(NODES) - {"churn_model"}),
    (("tag:staging",), {"stg_orders", "stg_customers", "stg_events"}),
    (("tag:pii+",), {"stg_customers", "int_orders", "fct_orders", "rpt_daily", "churn_model"}),
    (("path:models/staging",), {"stg_orders", "stg_customers", "stg_events"}),
    (("path:models/staging/",), {"stg_orders", "stg_customers", "stg_events"}),
    (("path:models/staging/web",), {"stg_events"}),
    (("path:models/marts/fct_orders.sql",), {"fct_orders"}),
    # As in a shell, '*' stays within one folder and '**' crosses folders.
    (("path:models/*/stg_*.sql",), {"stg_orders", "stg_customers"}),
    (("path:models/**/*.sql",), set(NODES) - {"churn_model"}),
    (("path:ml",), {"churn_model"}),
    (("kind:model",), set(NODES) - {"churn_model"}),
    (("kind:training",), {"churn_model"}),
    (("stg_*",), {"stg_orders", "stg_customers", "stg_events"}),
    (("*_orders",), {"stg_orders", "int_orders", "fct_orders"}),
    (("stg_?rders",), {"stg_orders"}),
    # Several selectors are a union, whether separate arguments or space-separated.
    (("stg_orders", "rpt_daily"), {"stg_orders", "rpt_daily"}),
    (("stg_orders rpt_daily",), {"stg_orders", "rpt_daily"}),
    (("tag:pii", "kind:training"), {"stg_customers", "churn_model"}),
    # A comma is an intersection.
    (("tag:daily,path:models/marts",), {"fct_orders"}),
    (("tag:staging,tag:daily",), {"stg_orders"}),
    (("+fct_orders,tag:staging",), {"stg_orders", "stg_customers", "stg_events"}),
    (("+rpt_daily,kind:model,tag:marts",), {"fct_orders", "rpt_daily"}),
    # Nothing selected means everything.
    ((), set(NODES)),
    (("",), set(NODES)),
]


@pytest.mark.parametrize(
    ("terms", "expected"),
    [pytest.param(t, e, id=" ".join(t) or "nothing") for t, e in SELECTIONS],
)
def test_selection(terms: tuple[str, ...], expected: set[str]) -> None:
    assert select(*terms) == expected


def test_path_prefix_must_be_a_whole_folder() -> None:
    err = select_error("path:models/stag")

    assert err.message == "selector 'path:models/stag' matches no node"


EXCLUSIONS = [
    (("+fct_orders",), ("tag:staging",), {"fct_orders", "int_orders"}),
    ((), ("kind:training",), set(NODES) - {"churn_model"}),
    ((), ("fct_orders+",), set(NODES) - {"fct_orders", "rpt_daily", "churn_model"}),
    (("tag:staging",), ("tag:staging,tag:pii",), {"stg_orders", "stg_events"}),
    (("tag:staging",), ("stg_orders stg_events",), {"stg_customers"}),
    # Excluding something that matches nothing is fine.
    (("tag:marts",), ("no_such_node", "tag:nope", "path:nowhere"), {"fct_orders", "rpt_daily"}),
    ((), ("nothing_*",), set(NODES)),
]


@pytest.mark.parametrize(
    ("terms", "exclude", "expected"),
    [pytest.param(t, x, e, id=f"{' '.join(t)} --exclude {' '.join(x)}") for t, x, e in EXCLUSIONS],
)
def test_exclude(terms: tuple[str, ...], exclude: tuple[str, ...], expected: set[str]) -> None:
    assert select(*terms, exclude=exclude) == expected


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        (
            "fct_order",
            "no node named 'fct_order'\n"
            "hint: did you mean 'fct_orders', 'stg_orders' or 'int_orders'?",
        ),
        (
            "+rpt_dayly+",
            "no node named 'rpt_dayly'\nhint: did you mean 'rpt_daily'?",
        ),
        ("zzz", "no node named 'zzz'\nhint: run `sqlml ls` to see every node"),
        ("tag:dayly", "selector 'tag:dayly' matches no node\nhint: did you mean 'daily'?"),
        (
            "tag:nightly",
            "selector 'tag:nightly' matches no node\n"
            "hint: tags in this project: daily, marts, pii, staging",
        ),
        (
            "kind:seed",
            "selector 'kind:seed' matches no node\nhint: kinds in this project: model, training",
        ),
        (
            "path:models/stagin",
            "selector 'path:models/stagin' matches no node\n"
            "hint: did you mean 'models/staging', 'models/staging/web' or 'models/marts'?",
        ),
        (
            "path:zzz",
            "selector 'path:zzz' matches no node\nhint: run `sqlml ls` to see every node",
        ),
    ],
)
def test_selector_matching_nothing_is_an_error(term: str, expected: str) -> None:
    assert select_error(term).render() == expected


def test_one_bad_selector_among_good_ones_is_an_error() -> None:
    err = select_error("fct_orders", "tag:dayly")

    assert err.message == "selector 'tag:dayly' matches no node"


def test_an_unknown_method_in_exclude_is_still_an_error() -> None:
    err = select_error(exclude=("tga:x",))

    assert err.render() == "unknown selector method 'tga:' in 'tga:x'\nhint: did you mean 'tag'?"


def test_selection_on_a_compiled_project(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "project.yml": """\
                name: demo
                models:
                  staging:
                    +tags: [staging]
            """,
            "models/staging/stg_a.sql": "select 1 as x",
            "models/staging/stg_b.sql": "select 2 as x",
            "models/marts/fct.sql": "{{ config(tags=['daily']) }}\n"
            "select * from {{ ref('stg_a') }} union all select * from {{ ref('stg_b') }}",
            "models/marts/other.sql": "select 3 as x",
        },
    )
    compiled = compile_project(load_project(tmp_path))
    dag = build_dag({name: node.depends_on for name, node in compiled.nodes.items()})

    assert select_nodes(dag, compiled.nodes, ["+fct"]) == {"fct", "stg_a", "stg_b"}
    assert select_nodes(dag, compiled.nodes, ["tag:staging"]) == {"stg_a", "stg_b"}
    assert select_nodes(dag, compiled.nodes, ["tag:daily"]) == {"fct"}
    assert select_nodes(dag, compiled.nodes, ["path:models/marts"], ["fct"]) == {"other"}
    assert select_nodes(dag, compiled.nodes, ["stg_a+"]) == {"stg_a", "fct"}
    assert select_nodes(dag, compiled.nodes, ["kind:model"]) == set(compiled.nodes)


def as_nodes(edges: dict[str, list[str]]) -> dict[str, Node]:
    return {name: Node(name, f"models/{name}.sql") for name in edges}


@settings(max_examples=150, deadline=None)
@given(random_dags(), st.data())
def test_plus_prefix_is_the_node_and_its_ancestors(
    edges: dict[str, list[str]], data: st.DataObject
) -> None:
    dag: DAG = build_dag(edges)
    nodes = as_nodes(edges)
    name = data.draw(st.sampled_from(sorted(edges)))

    assert select_nodes(dag, nodes, [f"+{name}"]) == {name} | dag.ancestors(name)
    assert select_nodes(dag, nodes, [f"{name}+"]) == {name} | dag.descendants(name)
    assert select_nodes(dag, nodes, [f"1+{name}"]) == {name, *edges[name]}
    assert select_nodes(dag, nodes, [name], [f"+{name}"]) == set()
