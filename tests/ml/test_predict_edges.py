"""predict_<model>(...) in a model's SQL makes the model a child of that model's training node:
it runs after training (with the champion training just made), `-s toy+` selects it, and a
call of a model no ML spec defines is a compile error."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlml.context import Context
from sqlml.engine import connect
from sqlml.errors import CompileError
from tests.projectfactory import write_project

ROWS = "select range::double as x, range % 2 as target from range(40)"
TOY = (
    "owner: ml-team\n"
    "relation: ref('rows')\n"
    "target: target\n"
    "task: classification\n"
    "estimator:\n  class: sklearn.linear_model.LogisticRegression\n"
)
SCORED = "select x,\n       predict_toy(x).probability_1 as p\nfrom {{ ref('rows') }}\n"


def _project(tmp_path: Path, scored: str = SCORED) -> Path:
    return write_project(
        tmp_path / "toy",
        {
            "project.yml": "name: toy\n",
            "models/rows.sql": ROWS,
            "models/scored.sql": scored,
            "ml/toy.yml": TOY,
        },
    )


def test_a_call_of_predict_makes_the_training_node_a_parent(tmp_path: Path) -> None:
    context = Context(_project(tmp_path))
    compiled = context.compile()
    plan = context.plan(["toy+"])

    assert compiled.nodes["scored"].depends_on == ("rows", "toy")
    assert [s.node for s in plan.steps] == ["toy", "scored"]
    assert plan.steps[1].depends_on == ("toy",)


@pytest.mark.slow
def test_the_first_run_trains_then_builds_the_model_calling_predict(tmp_path: Path) -> None:
    root = _project(tmp_path)

    result = Context(root).run(threads=4)

    assert result.success, [r.message for r in result.results]
    engine = connect(root / "warehouse.duckdb", read_only=True)
    try:
        rows = engine.execute("select count(*), min(p), max(p) from main.scored")
    finally:
        engine.close()
    count, low, high = rows[0]
    assert count == 40 and 0.0 <= low < 0.5 < high <= 1.0


def test_a_call_of_an_unknown_model_is_a_compile_error_with_its_position(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path, SCORED.replace("predict_toy", "predict_tooy"))

    compiled = Context(root).compile()
    error = compiled.nodes["scored"].error

    assert isinstance(error, CompileError)
    assert error.render() == (
        "target/compiled/models/scored.sql:2:8: model 'scored' calls predict_tooy(), but no ML "
        "model 'tooy' is defined\n"
        "1 | select x,\n"
        "2 |        predict_tooy(x).probability_1 as p\n"
        "  |        ^^^^^^^^^^^^\n"
        "(rendered from models/scored.sql)\n"
        "hint: did you mean predict_toy()? predict_<model>(...) scores with the champion of the "
        "model in ml/<model>.yml"
    )


@pytest.mark.slow
def test_a_model_without_a_champion_fails_the_node_calling_it_with_the_fix(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path)
    write_project(root, {"ml/toy.yml": TOY + "gates: ['roc_auc >= 1.01']\n"})

    result = Context(root).run()

    statuses = {r.node: (r.status, r.message) for r in result.results}
    assert statuses["toy"][0] == "warn", statuses["toy"]  # trained, not promoted
    assert statuses["scored"] == (
        "error",
        "target/compiled/models/scored.sql: model 'scored' failed: predict_toy() has nothing to "
        "score with: model 'toy' has no champion yet\n"
        "hint: train it (`sqlml run -s +toy`; a version that passes its gates becomes the "
        "champion), or promote a version (`sqlml models promote toy VERSION`)",
    )
