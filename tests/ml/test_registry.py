"""The model registry on a real DuckDB file: immutable versions, aliases, history, integrity."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqlml.engine import Engine, connect
from sqlml.errors import ScoringError, SqlmlError
from sqlml.ml import registry
from sqlml.ml.promotion import decide_promotion
from sqlml.ml.registry import (
    RegistryError,
    list_models,
    load_onnx,
    promote,
    register_version,
    rollback,
    show_model,
)

S = "_sqlml"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = connect(tmp_path / "warehouse.duckdb")
    yield engine
    engine.close()


def register(engine: Engine, model: str = "churn", **overrides: Any) -> registry.ModelVersion:
    fields: dict[str, Any] = {
        "model": model,
        "owner": "ana@shop.example",
        "onnx": b"onnx-bytes",
        "spec_fingerprint": "spec1",
        "data_fingerprint": "data1",
        "params": {"C": 1.0, "penalty": "l2"},
        "metrics": {"roc_auc": 0.81, "accuracy": 0.9},
        "cv_metrics": {"roc_auc": {"mean": 0.8, "std": 0.01}},
        "importance": {"tenure": 0.2, "orders": 0.05},
        "parity": {"max_abs_diff": 1e-9, "flipped": 0.0},
        "run_id": "run-1",
    }
    return register_version(engine, S, **{**fields, **overrides})


def history(engine: Engine, model: str = "churn") -> list[tuple[Any, ...]]:
    return engine.execute(
        f"select alias, seq, action, version, previous_version, reason, run_id "
        f"from {S}.model_alias_history where model = ? order by alias, seq",
        [model],
    )


def test_versions_are_numbered_from_one_per_model_and_keep_everything(engine: Engine) -> None:
    first = register(engine, onnx=b"v1")
    second = register(engine, onnx=b"v2", metrics={"roc_auc": 0.83, "nan": float("nan")})
    other = register(engine, "spend")
    third = register(engine, onnx=b"v3", run_id=None)

    assert [first.version, second.version, third.version, other.version] == [1, 2, 3, 1]
    assert second.onnx_sha256 == hashlib.sha256(b"v2").hexdigest()
    assert second.onnx_bytes == 2
    assert second.metrics == {"roc_auc": 0.83, "nan": None}  # JSON has no NaN
    assert first.params == {"C": 1.0, "penalty": "l2"}
    assert first.cv_metrics == {"roc_auc": {"mean": 0.8, "std": 0.01}}
    assert first.importance == {"tenure": 0.2, "orders": 0.05}
    assert first.parity == {"max_abs_diff": 1e-9, "flipped": 0.0}
    assert (first.owner, first.spec_fingerprint, first.data_fingerprint) == (
        "ana@shop.example",
        "spec1",
        "data1",
    )
    assert (first.run_id, third.run_id) == ("run-1", None)
    assert first.created_at.tzinfo is not None
    assert first.created_at <= second.created_at <= third.created_at
    assert show_model(engine, S, "churn").versions == (first, second, third)


def test_registering_the_same_content_again_still_makes_a_new_version(engine: Engine) -> None:
    first = register(engine)
    again = register(engine)

    assert again.version == first.version + 1
    assert again.onnx_sha256 == first.onnx_sha256


def test_versions_never_change_whatever_happens_to_aliases_and_later_versions(
    engine: Engine,
) -> None:
    register(engine)
    # Every column; timestamptz read as UTC wall time (DuckDB needs pytz for timestamptz).
    row = f"select * replace (timezone('UTC', created_at) as created_at) from {S}.model_versions"
    before = engine.execute(f"{row} where version = 1")

    register(engine, onnx=b"other")
    promote(engine, S, "churn", 1, reason="first")
    promote(engine, S, "churn", 2, reason="better")
    rollback(engine, S, "churn")
    register(engine)

    assert engine.execute(f"{row} where version = 1") == before
    public = {name for name in vars(registry) if not name.startswith("_")}
    assert not {name for name in public if "update" in name or "delete" in name}


def test_register_refuses_a_version_without_owner(engine: Engine) -> None:
    with pytest.raises(RegistryError) as info:
        register(engine, owner="")

    assert "an owner" in info.value.message
    assert info.value.hint == "set `owner` in the model's spec"


def test_promote_and_rollback_move_the_alias_and_record_every_move(engine: Engine) -> None:
    for _ in range(3):
        register(engine)

    first = promote(engine, S, "churn", 1, reason="first model", run_id="r1")
    promote(engine, S, "churn", 2, reason="auc 0.83 >= 0.81", run_id="r2")
    third = promote(engine, S, "churn", 3, reason="auc 0.84 >= 0.83")
    back = rollback(engine, S, "churn", run_id="r4")
    back_again = rollback(engine, S, "churn")

    assert (first.version, first.previous_version, first.action) == (1, None, "promote")
    assert (third.version, third.previous_version) == (3, 2)
    assert (back.version, back.previous_version, back.action) == (2, 3, "rollback")
    assert (back_again.version, back_again.previous_version) == (1, 2)
    assert show_model(engine, S, "churn").aliases == {"champion": 1}
    assert history(engine) == [
        ("champion", 1, "promote", 1, None, "first model", "r1"),
        ("champion", 2, "promote", 2, 1, "auc 0.83 >= 0.81", "r2"),
        ("champion", 3, "promote", 3, 2, "auc 0.84 >= 0.83", None),
        ("champion", 4, "rollback", 2, 3, "rollback from version 3", "r4"),
        ("champion", 5, "rollback", 1, 2, "rollback from version 2", None),
    ]
    assert engine.execute(f"select model, alias, version, reason from {S}.model_aliases") == [
        ("churn", "champion", 1, "rollback from version 2")
    ]


def test_aliases_move_independently(engine: Engine) -> None:
    register(engine)
    register(engine)
    promote(engine, S, "churn", 1, reason="first")
    promote(engine, S, "churn", 2, alias="challenger", reason="shadow")

    assert show_model(engine, S, "churn").aliases == {"champion": 1, "challenger": 2}
    with pytest.raises(RegistryError, match="alias 'challenger' of model 'churn' has only ever"):
        rollback(engine, S, "churn", alias="challenger")


def test_promoting_the_current_version_again_changes_nothing(engine: Engine) -> None:
    register(engine)
    first = promote(engine, S, "churn", 1, reason="first")

    assert promote(engine, S, "churn", 1, reason="again") == first
    assert len(history(engine)) == 1


def test_promote_an_unknown_version_lists_the_versions(engine: Engine) -> None:
    register(engine)
    register(engine)

    with pytest.raises(RegistryError) as info:
        promote(engine, S, "churn", 7, reason="x")

    assert info.value.message == "model 'churn' has no version 7; its versions are 1, 2"
    assert history(engine) == []


def test_an_unknown_model_gets_a_did_you_mean(engine: Engine) -> None:
    register(engine)

    with pytest.raises(RegistryError) as info:
        promote(engine, S, "chrun", 1, reason="x")

    assert info.value.message == "no model 'chrun' in the registry"
    assert info.value.hint == "did you mean 'churn'?"
    with pytest.raises(RegistryError, match="registered models: churn"):
        show_model(engine, S, "spend")


def test_an_empty_registry_says_how_to_fill_it(engine: Engine) -> None:
    with pytest.raises(RegistryError) as info:
        rollback(engine, S, "churn")

    assert info.value.hint == "no model is registered yet: train one with `sqlml run`"
    assert list_models(engine, S) == []


def test_rollback_with_nothing_to_roll_back_is_a_clear_error(engine: Engine) -> None:
    register(engine)
    with pytest.raises(RegistryError) as never:
        rollback(engine, S, "churn")
    promote(engine, S, "churn", 1, reason="first")
    with pytest.raises(RegistryError) as once:
        rollback(engine, S, "churn")

    assert never.value.message == (
        "nothing to roll back: alias 'champion' of model 'churn' has never been set"
    )
    assert once.value.message == (
        "nothing to roll back: alias 'champion' of model 'churn' has only ever pointed to version 1"
    )
    assert once.value.hint == "promote a version instead: `sqlml models promote churn VERSION`"
    assert len(history(engine)) == 1


def test_load_onnx_by_number_or_alias(engine: Engine) -> None:
    register(engine, onnx=b"one")
    register(engine, onnx=b"two")
    promote(engine, S, "churn", 2, reason="best")

    assert load_onnx(engine, S, "churn", 1) == b"one"
    assert load_onnx(engine, S, "churn", "1") == b"one"
    assert load_onnx(engine, S, "churn", "champion") == b"two"


def test_load_onnx_of_something_missing_is_a_scoring_error(engine: Engine) -> None:
    register(engine)
    with pytest.raises(ScoringError) as no_alias:
        load_onnx(engine, S, "churn", "champion")
    promote(engine, S, "churn", 1, reason="first")

    with pytest.raises(ScoringError) as alias:
        load_onnx(engine, S, "churn", "champoin")
    with pytest.raises(ScoringError, match="has no version 4; its versions are 1"):
        load_onnx(engine, S, "churn", 4)

    assert no_alias.value.hint == (
        "none yet: promote a version with `sqlml models promote churn VERSION`"
    )
    assert alias.value.message == "model 'churn' has no alias 'champoin'"
    assert alias.value.hint == "did you mean 'champion'?"


def test_a_tampered_onnx_blob_is_refused(engine: Engine) -> None:
    register(engine, onnx=b"one")
    register(engine, onnx=b"two")
    promote(engine, S, "churn", 2, reason="best")
    engine.execute(f"update {S}.model_versions set onnx = 'evil'::blob where version = 2")

    for reference in (2, "champion"):
        with pytest.raises(ScoringError) as info:
            load_onnx(engine, S, "churn", reference)
        recorded = hashlib.sha256(b"two").hexdigest()[:12]
        found = hashlib.sha256(b"evil").hexdigest()[:12]
        assert info.value.message == (
            "model 'churn' version 2: ONNX bytes do not match their sha256 "
            f"(recorded {recorded}…, found {found}…)"
        )
        assert info.value.hint is not None
        assert "sqlml models promote churn VERSION" in info.value.hint
    assert load_onnx(engine, S, "churn", 1) == b"one"


def test_list_and_show_models(engine: Engine) -> None:
    register(engine, "spend", owner="bo")
    register(engine)
    v2 = register(engine, owner="cy")
    promote(engine, S, "churn", 1, reason="first")
    promote(engine, S, "churn", 2, reason="better")

    models = list_models(engine, S)
    detail = show_model(engine, S, "churn")

    assert [(m.model, m.owner, m.latest_version, m.versions, m.aliases) for m in models] == [
        ("churn", "cy", 2, 2, {"champion": 2}),
        ("spend", "bo", 1, 1, {}),
    ]
    assert models[0].latest_at == v2.created_at
    assert [v.version for v in detail.versions] == [1, 2]
    assert detail.aliases == {"champion": 2}
    assert [(c.action, c.version, c.previous_version, c.reason) for c in detail.history] == [
        ("promote", 1, None, "first"),
        ("promote", 2, 1, "better"),
    ]


def test_writes_from_many_threads_stay_consistent(engine: Engine) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                version = register(engine).version
                promote(engine, S, "churn", version, reason="latest")
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert [v.version for v in show_model(engine, S, "churn").versions] == list(range(1, 21))
    moves = history(engine)
    assert [seq for _, seq, *_ in moves] == list(range(1, len(moves) + 1))
    # Each move starts where the one before it ended.
    assert all(b[4] == a[3] for a, b in itertools.pairwise(moves))


def test_registry_errors_are_sqlml_errors() -> None:
    assert issubclass(RegistryError, SqlmlError)


@pytest.mark.parametrize(
    ("candidate", "champion", "higher", "gates", "expected"),
    [
        (0.83, 0.81, True, True, (True, "promoted: not worse than the champion on m (0.83 vs 0.81, higher is better)")),  # noqa: E501
        (0.79, 0.81, True, True, (False, "not promoted: worse than the champion on m (0.79 vs 0.81, higher is better)")),  # noqa: E501
        (0.81, 0.81, True, True, (True, "promoted: not worse than the champion on m (0.81 vs 0.81, higher is better)")),  # noqa: E501
        (0.83, None, True, True, (True, "promoted: no champion yet (m 0.83)")),
        (0.99, 0.81, True, False, (False, "not promoted: the candidate failed its gates")),
        (0.99, None, True, False, (False, "not promoted: the candidate failed its gates")),
        (12.0, 15.0, False, True, (True, "promoted: not worse than the champion on m (12 vs 15, lower is better)")),  # noqa: E501
        (17.5, 15.0, False, True, (False, "not promoted: worse than the champion on m (17.5 vs 15, lower is better)")),  # noqa: E501
        (15.0, 15.0, False, True, (True, "promoted: not worse than the champion on m (15 vs 15, lower is better)")),  # noqa: E501
    ],
)  # fmt: skip
def test_decide_promotion(
    candidate: float, champion: float | None, higher: bool, gates: bool, expected: tuple[bool, str]
) -> None:
    champion_metrics = None if champion is None else {"m": champion}
    decision = decide_promotion(
        {"m": candidate}, champion_metrics, metric="m", higher_is_better=higher, gates_passed=gates
    )

    assert decision == expected


def test_decide_promotion_when_a_metric_is_missing() -> None:
    missing = decide_promotion(
        {"auc": 0.9}, None, metric="m", higher_is_better=True, gates_passed=True
    )
    nan = decide_promotion(
        {"m": float("nan")}, None, metric="m", higher_is_better=True, gates_passed=True
    )
    uncomparable = decide_promotion(
        {"m": 0.7}, {"auc": 0.9}, metric="m", higher_is_better=True, gates_passed=True
    )

    assert missing == (False, "not promoted: the candidate has no value for holdout metric 'm'")
    assert nan == missing
    assert uncomparable == (True, "promoted: the champion has no 'm' to compare (m 0.7)")
