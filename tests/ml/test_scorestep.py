"""Scoring a registered model into a table: full, incremental, and rescoring on a new champion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sqlml.engine import Engine, connect
from sqlml.errors import ScoringError
from sqlml.ml.features import prepare_features
from sqlml.ml.onnx_convert import convert
from sqlml.ml.onnx_export import export_onnx
from sqlml.ml.registry import promote, register_version
from sqlml.ml.scorestep import score_model
from sqlml.ml.scoring import make_session, score_batch
from sqlml.ml.signature import read_signature
from sqlml.relation import Relation
from tests.ml.helpers import customers, trained

CUSTOMERS = "features:\n  exclude: [customer_id, signup_date, snapshot_month]\n"
SCHEMA = "_sqlml"
SCORES = Relation("main", "churn_scores")
INPUT = "select * from customers"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = connect(tmp_path / "warehouse.duckdb")
    with engine.arrow_view(customers()) as view:
        engine.execute(
            f"create table customers as select row_number() over () as id, * from {view}"
        )
    yield engine
    engine.close()


def register(engine: Engine, estimator: str, params: str, *, champion: bool = True) -> int:
    model = trained("customers", estimator, params, CUSTOMERS)
    return register_bytes(engine, export_onnx(model).onnx_bytes, champion=champion)


def register_bytes(engine: Engine, onnx_bytes: bytes, *, champion: bool = True) -> int:
    version = register_version(
        engine, SCHEMA, model="churn", owner="ml", onnx=onnx_bytes,
        spec_fingerprint="s", data_fingerprint="d", params={}, metrics={}, cv_metrics={},
        importance={}, parity={}, run_id="train",
    ).version  # fmt: skip
    if champion:
        promote(engine, SCHEMA, "churn", version, reason="test")
    return version


def run(engine: Engine, run_id: str, **kwargs: object) -> tuple[str, int, int]:
    existing = "table" if ("main", "churn_scores") in engine.relations() else None
    outcome = score_model(
        engine, model="churn", source_sql=INPUT, keys=["id"], relation=SCORES,
        existing=existing, state_schema=SCHEMA, run_id=run_id, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip
    return outcome.mode, outcome.rows, outcome.removed


def by_run(engine: Engine) -> list[tuple[str, int, int]]:
    return engine.execute(
        "select run_id, model_version, count(*) from churn_scores group by all order by all"
    )


RF = ("sklearn.ensemble.RandomForestClassifier", "{n_estimators: 5, random_state: 0}")
LOGISTIC = ("sklearn.linear_model.LogisticRegression", "{max_iter: 500}")


def test_first_run_scores_everything_and_scores_equal_onnxruntime(engine: Engine) -> None:
    register(engine, *RF)

    assert run(engine, "r1") == ("full", 800, 0)

    onnx_bytes = engine.execute(f"select onnx from {SCHEMA}.model_versions")[0][0]
    expected = score_batch(make_session(onnx_bytes), read_signature(onnx_bytes), customers(), ())
    got = [p for (p,) in engine.execute("select probability_1 from churn_scores order by id")]
    assert np.abs(np.array(got) - expected.column("probability_1").to_numpy()).max() < 1e-12
    assert by_run(engine) == [("r1", 1, 800)]


def test_a_version_exported_in_the_earlier_tree_layout_still_scores(engine: Engine) -> None:
    # registered before binary forests were exported once: its stored bytes copy every tree
    model = trained("customers", *RF, CUSTOMERS)
    register_bytes(engine, convert(model, compact_trees=False).SerializeToString())
    run(engine, "r1")
    earlier = engine.execute("select probability_0, probability_1 from churn_scores order by id")
    register_bytes(engine, export_onnx(model).onnx_bytes)

    assert run(engine, "r2") == ("full", 800, 0)
    now = engine.execute("select probability_0, probability_1 from churn_scores order by id")
    expected = model.pipeline.predict_proba(prepare_features(customers(), model.features))
    assert np.abs(np.array(earlier) - expected).max() < 1e-12
    assert np.abs(np.array(now) - expected).max() < 1e-12


def test_incremental_runs_touch_only_new_and_changed_rows(engine: Engine) -> None:
    register(engine, *RF)
    run(engine, "r1")

    assert run(engine, "r2") == ("incremental", 0, 0)
    engine.execute("update customers set tenure_months = tenure_months + 1 where id <= 3")
    engine.execute("insert into customers select id + 1000, * exclude (id) from customers "
                   "where id <= 2")  # fmt: skip
    engine.execute("delete from customers where id between 10 and 14")

    assert run(engine, "r3") == ("incremental", 5, 5)
    assert by_run(engine) == [("r1", 1, 792), ("r3", 1, 5)]
    changed = engine.execute("select id from churn_scores where run_id = 'r3' order by id")
    assert changed == [(1,), (2,), (3,), (1001,), (1002,)]


def test_a_new_champion_rescores_everything(engine: Engine) -> None:
    register(engine, *RF)
    run(engine, "r1")
    register(engine, *LOGISTIC)  # version 2 becomes champion

    assert run(engine, "r2") == ("full", 800, 0)
    assert by_run(engine) == [("r2", 2, 800)]


def test_incremental_false_always_rescores(engine: Engine) -> None:
    register(engine, *RF)
    run(engine, "r1")

    assert run(engine, "r2", incremental=False) == ("full", 800, 0)


def test_a_version_can_be_pinned(engine: Engine) -> None:
    register(engine, *RF)
    register(engine, *LOGISTIC)

    run(engine, "r1", alias="1")

    assert by_run(engine) == [("r1", 1, 800)]


def test_no_champion_says_how_to_get_one(engine: Engine) -> None:
    register(engine, *RF, champion=False)

    with pytest.raises(ScoringError) as caught:
        run(engine, "r1")

    assert caught.value.message == "model 'churn' has no champion to score with"
    assert "sqlml models promote churn" in (caught.value.hint or "")


def test_an_unknown_model_says_to_train_it(engine: Engine) -> None:
    with pytest.raises(ScoringError) as caught:
        run(engine, "r1")

    assert "no model 'churn' in the registry" in caught.value.message
    assert "sqlml run -s churn" in (caught.value.hint or "")


def test_duplicate_keys_are_refused_before_anything_is_written(engine: Engine) -> None:
    register(engine, *RF)

    with pytest.raises(ScoringError) as caught:
        score_model(
            engine, model="churn", source_sql=INPUT, keys=["customer_id"], relation=SCORES,
            existing=None, state_schema=SCHEMA, run_id="r1",
        )  # fmt: skip

    assert "keys (customer_id) must be unique" in caught.value.message
    assert ("main", "churn_scores") not in engine.relations()


def test_duplicate_keys_in_a_full_rescore_leave_the_previous_scores(engine: Engine) -> None:
    register(engine, *RF)
    run(engine, "r1")
    before = engine.execute("select * from churn_scores order by id")
    engine.execute("insert into customers select * from customers where id = 7")

    with pytest.raises(ScoringError) as caught:
        run(engine, "r2", incremental=False)

    assert "has 2 rows with key (7): keys (id) must be unique" in caught.value.message
    assert engine.execute("select * from churn_scores order by id") == before


@pytest.mark.parametrize("changed", [True, False])
def test_duplicate_keys_in_an_incremental_run_leave_the_previous_scores(
    engine: Engine, changed: bool
) -> None:
    register(engine, *RF)
    run(engine, "r1")
    before = engine.execute("select * from churn_scores order by id")
    # a second row for key 7: with other inputs (it is scored, the first is not) or the same
    # inputs (neither is scored: only the row count shows it)
    spend = "monthly_spend + 1" if changed else "monthly_spend"
    engine.execute(
        f"insert into customers select * replace ({spend} as monthly_spend) from customers "
        "where id = 7"
    )
    engine.execute("delete from customers where id = 9")  # a deletion that must not land

    with pytest.raises(ScoringError) as caught:
        run(engine, "r2")

    assert "has 2 rows with key (7): keys (id) must be unique" in caught.value.message
    assert engine.execute("select * from churn_scores order by id") == before


def test_only_the_keys_and_the_model_inputs_are_read(engine: Engine) -> None:
    register(engine, *RF)
    # a column the model does not read fails if it is ever computed
    source = "select *, error('this column is never read') as notes from customers"

    outcome = score_model(
        engine, model="churn", source_sql=source, keys=["id"], relation=SCORES, existing=None,
        state_schema=SCHEMA, run_id="r1",
    )  # fmt: skip

    assert outcome.rows == 800
    assert "notes" not in {name for name, _ in engine.columns(SCORES)}
