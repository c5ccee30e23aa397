"""make_plan: steps, reasons and dependencies, computed without a warehouse."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlml.compiler import CompiledProject, compile_project
from sqlml.graph import build_dag, select_nodes
from sqlml.plan import Plan, WarehouseState, make_plan
from sqlml.project import load_project
from sqlml.relation import Relation
from tests.projectfactory import MINIMAL_PROJECT, write_project

# a -> e (ephemeral) -> c, and b -> c; d reads a directly.
DIAMOND = {
    "project.yml": MINIMAL_PROJECT,
    "models/a.sql": "select 1 as id",
    "models/b.sql": "{{ config(materialized='view') }}\nselect 2 as id",
    "models/e.sql": "{{ config(materialized='ephemeral') }}\nselect id from {{ ref('a') }}",
    "models/c.sql": "select * from {{ ref('e') }} union all select * from {{ ref('b') }}",
    "models/d.sql": "select id + 1 as id from {{ ref('a') }}",
}


def compile_files(tmp_path: Path, files: dict[str, str]) -> CompiledProject:
    return compile_project(load_project(write_project(tmp_path, files)))


def plan_of(
    compiled: CompiledProject,
    select: Sequence[str] = (),
    state: WarehouseState | None = None,
) -> Plan:
    dag = build_dag({name: node.depends_on for name, node in compiled.nodes.items()})
    selected = select_nodes(dag, compiled.nodes, select)
    return make_plan(compiled, dag, selected, state or WarehouseState())


def test_steps_follow_topological_order_and_carry_the_compiled_node(tmp_path: Path) -> None:
    compiled = compile_files(tmp_path, DIAMOND)

    plan = plan_of(compiled)

    assert [s.node for s in plan.steps] == ["a", "b", "d", "c"]  # ties broken by name
    b = plan.steps[1]
    assert b.materialization == "view"
    assert b.relation == Relation("main", "b", database="warehouse")
    assert b.sql == compiled.nodes["b"].sql
    assert b.path == "models/b.sql"
    assert b.compiled_path == "target/compiled/models/b.sql"
    assert b.fingerprint == compiled.nodes["b"].fingerprint
    assert b.existing is None


def test_reasons_come_from_the_warehouse_state(tmp_path: Path) -> None:
    compiled = compile_files(tmp_path, DIAMOND)
    state = WarehouseState(
        relations={("main", "b"): "view", ("main", "c"): "table", ("main", "d"): "table"},
        fingerprints={
            "a": compiled.nodes["a"].fingerprint,  # built before, then dropped by hand
            "b": compiled.nodes["b"].fingerprint,
            "c": "an older fingerprint",
            # d exists but sqlml never built it: no fingerprint
        },
    )

    plan = plan_of(compiled, state=state)

    assert {s.node: s.reason for s in plan.steps} == {
        "a": "new",
        "b": "unchanged",
        "c": "modified",
        "d": "modified",
    }
    assert {s.node: s.existing for s in plan.steps} == {
        "a": None,
        "b": "view",
        "c": "table",
        "d": "table",
    }


def test_existing_relation_is_looked_up_by_schema_and_alias(tmp_path: Path) -> None:
    compiled = compile_files(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/m.sql": "{{ config(schema='marts', alias='facts') }}\nselect 1 as id",
        },
    )
    state = WarehouseState(relations={("main", "m"): "table", ("marts", "facts"): "view"})

    (step,) = plan_of(compiled, state=state).steps

    assert step.relation == Relation("marts", "facts", database="warehouse")
    assert step.existing == "view"


def test_ephemeral_nodes_are_inlined_not_steps(tmp_path: Path) -> None:
    compiled = compile_files(tmp_path, DIAMOND)

    plan = plan_of(compiled)

    assert "e" not in [s.node for s in plan.steps]
    assert plan.inlined == ("e",)
    c = next(s for s in plan.steps if s.node == "c")
    assert "__ephemeral_e as (" in c.sql


def test_a_step_waits_for_what_it_reads_through_an_ephemeral(tmp_path: Path) -> None:
    compiled = compile_files(tmp_path, DIAMOND)

    plan = plan_of(compiled)

    assert {s.node: s.depends_on for s in plan.steps} == {
        "a": (),
        "b": (),
        "c": ("a", "b"),
        "d": ("a",),
    }


def test_a_chain_of_ephemerals_is_looked_through(tmp_path: Path) -> None:
    ephemeral = "{{ config(materialized='ephemeral') }}\n"
    compiled = compile_files(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/root.sql": "select 1 as id",
            "models/e1.sql": ephemeral + "select id from {{ ref('root') }}",
            "models/e2.sql": ephemeral + "select id from {{ ref('e1') }}",
            "models/leaf.sql": "select id from {{ ref('e2') }}",
        },
    )

    plan = plan_of(compiled)

    assert [(s.node, s.depends_on) for s in plan.steps] == [("root", ()), ("leaf", ("root",))]
    assert plan.inlined == ("e1", "e2")


def test_unselected_parents_are_not_dependencies(tmp_path: Path) -> None:
    compiled = compile_files(tmp_path, DIAMOND)

    plan = plan_of(compiled, select=["c", "d"])

    assert [(s.node, s.depends_on) for s in plan.steps] == [("d", ()), ("c", ())]
    assert plan.inlined == ()  # e is not selected, though c still inlines it
    assert "__ephemeral_e as (" in plan.steps[1].sql


def test_a_selected_parent_behind_an_unselected_ephemeral_is_waited_for(tmp_path: Path) -> None:
    compiled = compile_files(tmp_path, DIAMOND)

    plan = plan_of(compiled, select=["a", "c"])

    assert [(s.node, s.depends_on) for s in plan.steps] == [("a", ()), ("c", ("a",))]


def test_downstream_selection_keeps_dependencies_inside_the_selection(tmp_path: Path) -> None:
    compiled = compile_files(tmp_path, DIAMOND)

    plan = plan_of(compiled, select=["a+"])

    assert [(s.node, s.depends_on) for s in plan.steps] == [
        ("a", ()),
        ("d", ("a",)),
        ("c", ("a",)),
    ]
    assert plan.inlined == ("e",)


def test_schemas_are_those_of_the_steps(tmp_path: Path) -> None:
    compiled = compile_files(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/x.sql": "{{ config(schema='marts') }}\nselect 1 as id",
            "models/y.sql": "{{ config(schema='analytics') }}\nselect 1 as id",
            "models/z.sql": "select 1 as id",
            "models/e.sql": "{{ config(materialized='ephemeral', schema='ghost') }}\nselect 1",
        },
    )

    assert plan_of(compiled).schemas == ("analytics", "main", "marts")


def test_an_empty_selection_is_an_empty_plan(tmp_path: Path) -> None:
    compiled = compile_files(tmp_path, DIAMOND)
    dag = build_dag({name: node.depends_on for name, node in compiled.nodes.items()})

    plan = make_plan(compiled, dag, frozenset(), WarehouseState())

    assert plan == Plan(steps=(), inlined=())
    assert plan.schemas == ()


def test_planning_touches_no_warehouse(tmp_path: Path) -> None:
    compiled = compile_files(tmp_path, DIAMOND)

    plan_of(compiled)

    assert not (tmp_path / "warehouse.duckdb").exists()


ML_SPEC = """
    owner: growth
    relation: ref('rows')
    target: target
    task: classification
    estimator: {class: sklearn.linear_model.LogisticRegression}
    scoring: {output: scores, keys: [id]}
    monitors:
      - {type: quality, relation: ref('rows'), columns: [x]}
"""
ML_FILES = {
    "project.yml": MINIMAL_PROJECT,
    "models/rows.sql": "select range as id, range::double as x, range % 2 as target from range(9)",
    "ml/toy.yml": ML_SPEC,
}


def test_training_scoring_and_monitor_steps_say_what_running_them_does(tmp_path: Path) -> None:
    compiled = compile_files(tmp_path, ML_FILES)
    nodes = compiled.nodes
    dag = build_dag({name: node.depends_on for name, node in nodes.items()})
    kinds = frozenset({"model", "training", "scoring", "monitor"})

    def plan(state: WarehouseState, retrain: frozenset[str] = frozenset()) -> Plan:
        return make_plan(compiled, dag, set(nodes), state, kinds=kinds, retrain=retrain)

    relations = {(s.relation.schema.lower(), s.relation.name.lower()): "table"
                 for s in plan(WarehouseState()).steps}  # fmt: skip
    built = WarehouseState(relations, {n: node.fingerprint for n, node in nodes.items()})
    first = {s.node: (s.reason, s.action) for s in plan(WarehouseState()).steps}
    again = {s.node: (s.reason, s.action) for s in plan(built).steps}
    forced = {s.node: (s.reason, s.action) for s in plan(built, frozenset({"toy"})).steps}

    assert first == {
        "rows": ("new", None),
        "toy": ("new", "train"),
        "scores": ("new", "score every row"),
        "toy_quality": ("new", "run the checks"),
    }
    assert again == {
        "rows": ("unchanged", None),
        "toy": ("unchanged", "train only if the training data changed"),
        "scores": (
            "unchanged",
            "score new and changed rows; every row if the model version changed",
        ),
        "toy_quality": ("unchanged", "run the checks"),
    }
    assert forced["toy"] == ("retrain", "train (forced)")
