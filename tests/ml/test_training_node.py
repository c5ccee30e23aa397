"""Training nodes on scikit-learn's real data sets, loaded into DuckDB as seeds of a project;
the registry commands; errors caught before any training."""

from __future__ import annotations

import functools
import hashlib
import io
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sqlml.cli.main import cli
from sqlml.context import Context
from sqlml.engine import connect
from sqlml.errors import ScoringError
from tests.ml.helpers import breast_cancer, diabetes
from tests.projectfactory import write_project


@functools.cache
def _csv(name: str) -> str:
    """The data set as CSV text, to be a seed of the project."""
    import pyarrow.csv as pacsv

    table = {"breast_cancer": breast_cancer, "diabetes": diabetes}[name]()
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    return buffer.getvalue().decode()


def spec(relation: str, task: str, estimator: str, extra: str = "", target: str = "target") -> str:
    return (
        "owner: ml-team\n"
        f"relation: ref('{relation}')\n"
        f"target: {target}\n"
        f"task: {task}\n"
        f"estimator:\n  class: {estimator}\n" + extra
    )


CANCER = spec(
    "breast_cancer",
    "classification",
    "sklearn.linear_model.LogisticRegression\n  params: {max_iter: 1000}",
    "cv: {folds: 3}\nmetrics: [roc_auc, accuracy]\ngates: ['roc_auc >= 0.95']\n",
)
DIABETES = spec(
    "diabetes",
    "regression",
    "sklearn.ensemble.GradientBoostingRegressor\n  params: {n_estimators: 50, random_state: 0}",
    "metrics: [r2, mean_absolute_error]\ngates: ['r2 >= 0.2']\n",
)


ROWS = "select range::double as x, range % 2 as target from range(20)"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(
        tmp_path / "real",
        {
            "project.yml": "name: real\n",
            "seeds/breast_cancer.csv": _csv("breast_cancer"),
            "seeds/diabetes.csv": _csv("diabetes"),
            "ml/cancer.yml": CANCER,
            "ml/progression.yml": DIABETES,
        },
    )


def invoke(project: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--project-dir", str(project)])


@pytest.mark.slow
def test_real_data_trains_with_sensible_metrics_and_onnx_parity(project: Path) -> None:
    result = Context(project).run()
    cancer = Context(project).model("cancer").versions[0]
    diabetes_version = Context(project).model("progression").versions[0]

    assert result.success, [r.message for r in result.results]
    assert cancer.metrics["roc_auc"] > 0.97 and cancer.metrics["accuracy"] > 0.9
    assert 0.9 < cancer.cv_metrics["roc_auc"]["mean"] <= 1.0
    assert cancer.parity["max_abs_diff"] < 1e-9 and cancer.parity["flipped_rows"] == 0
    assert cancer.parity["rows"] == 114  # 20% of 569, stratified
    assert cancer.signature["classes"] == [0, 1]
    assert len(cancer.signature["features"]) == 30
    assert 0.2 < diabetes_version.metrics["r2"] < 0.7
    assert 30 < diabetes_version.metrics["mean_absolute_error"] < 60
    assert diabetes_version.parity["max_abs_diff"] < 1e-9
    assert Context(project).models()[0].aliases == {"champion": 1}


@pytest.mark.slow
def test_registry_commands_and_a_tampered_model(project: Path) -> None:
    ran = invoke(project, "run", "-s", "+cancer")
    retrained = invoke(project, "run", "-s", "cancer", "--retrain")
    listed = invoke(project, "models", "list")
    shown = invoke(project, "models", "show", "cancer")
    promoted = invoke(project, "models", "promote", "cancer", "1", "--reason", "review")
    rolled = invoke(project, "models", "rollback", "cancer")
    missing = invoke(project, "models", "promote", "cancer", "7")
    unknown = invoke(project, "models", "show", "cancr")
    as_json = invoke(project, "models", "list", "-o", "json")

    assert ran.exit_code == 0, ran.stdout + ran.stderr
    assert "cancer (training: version 1: roc_auc " in ran.stdout
    assert "cancer (training: version 2: roc_auc " in retrained.stdout
    assert "promoted: not worse than the champion on roc_auc" in retrained.stdout
    assert listed.exit_code == 0
    assert listed.stdout.startswith("cancer  owner ml-team  2 version(s), latest v2 at ")
    assert listed.stdout.endswith("UTC  (champion: v2)\n")
    assert "  v2 [champion]" in shown.stdout and "Alias history:" in shown.stdout
    assert promoted.stdout == "cancer: champion is version 1 (was version 2).\n"
    assert rolled.stdout == "cancer: champion rolled back from version 1 to version 2.\n"
    assert (missing.exit_code, missing.stderr) == (
        2,
        "Error: model 'cancer' has no version 7; its versions are 1, 2\n"
        "hint: see them with `sqlml models show cancer`\n",
    )
    assert (unknown.exit_code, unknown.stderr) == (
        2,
        "Error: no model 'cancr' in the registry\nhint: did you mean 'cancer'?\n",
    )
    assert '"model": "cancer"' in as_json.stdout

    loaded = Context(project).load_model("cancer")
    scores = loaded.scorer().run(breast_cancer())
    assert loaded.version.version == 2
    assert hashlib.sha256(loaded.onnx).hexdigest() == loaded.version.onnx_sha256
    assert scores["probabilities"].shape == (569, 2)
    assert (scores["label"].ravel() == breast_cancer().column("target").to_numpy()).mean() > 0.9
    engine = connect(project / "warehouse.duckdb")
    try:
        engine.execute(
            "update _sqlml.model_versions set onnx = onnx || '\\x00'::blob where version = 2"
        )
    finally:
        engine.close()
    with pytest.raises(ScoringError) as caught:
        Context(project).load_model("cancer", "champion")
    assert caught.value.message.startswith(
        "model 'cancer' version 2: ONNX bytes do not match their sha256"
    )
    assert Context(project).load_model("cancer", 1).version.version == 1


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"models/rows.sql": ROWS, "ml/m.yml": spec("rows", "regression", "x.Y")},
            "ml/m.yml:6:3: cannot import module 'x' for estimator 'x.Y': No module named 'x'\n"
            "hint: check the spelling, or install the package that provides it",
        ),
        (
            {
                "models/empty.sql": "select 1.0 as x, 2.0 as target where false",
                "ml/m.yml": spec("empty", "regression", "sklearn.linear_model.Ridge"),
            },
            "ml/m.yml:1:1: the training data has no rows\n"
            "hint: check the training relation and its filters; there is nothing to train on",
        ),
        (
            {
                "models/flat.sql": "select range::double as x, 1 as target from range(20)",
                "ml/m.yml": spec("flat", "classification", "sklearn.tree.DecisionTreeClassifier"),
            },
            "ml/m.yml:3:1: target column 'target' has the same value (1) in all 20 rows; there "
            "is nothing to learn\nhint: check how the training relation computes the target",
        ),
        (
            {
                "models/rows.sql": ROWS,
                "ml/m.yml": spec(
                    "rows",
                    "classification",
                    "sklearn.tree.DecisionTreeClassifier",
                    "features:\n  include: [x, y]\n",
                ),
            },
            "ml/m.yml:8:16: column 'y' in features.include is not in the training data\n"
            "hint: its columns: x, target",
        ),
        (
            {
                "models/rows.sql": ROWS,
                "ml/m.yml": spec(
                    "rows", "classification", "sklearn.semi_supervised.LabelSpreading"
                ),
            },
            "ml/m.yml:6:3: sklearn.semi_supervised.LabelSpreading cannot be exported to ONNX: "
            "skl2onnx has no converter for it",
        ),
    ],
)
def test_mistakes_fail_the_training_node_before_training(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    project = write_project(tmp_path, {"project.yml": "name: bad\n", **files})

    result = Context(project).run()
    (training,) = [r for r in result.results if r.kind == "training"]

    assert training.status == "error"
    assert training.message is not None and training.message.startswith(expected)
    assert Context(project).models() == []
