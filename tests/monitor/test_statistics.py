"""Each SQL statistic against its reference implementation on random data, to within 1e-9."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import chisquare, ks_2samp, wasserstein_distance

from sqlml.engine.duckdb import DuckDBEngine
from sqlml.monitor.drift import EPSILON, column_drift
from sqlml.monitor.profile import ProfileColumn, write_profile_from_arrow

TOLERANCE = 1e-9
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Values on a coarse grid give ties; the occasional None gives NULL bins.
numbers = st.one_of(
    st.floats(-1000, 1000, allow_nan=False),
    st.integers(-20, 20).map(float),
    st.none(),
)
samples = st.lists(numbers, min_size=2, max_size=80)
categories = st.lists(st.one_of(st.sampled_from("abcdefg"), st.none()), min_size=1, max_size=80)


@pytest.fixture(scope="module")
def engine() -> DuckDBEngine:
    return DuckDBEngine(":memory:")


def _profile(engine: DuckDBEngine, values: list, kind: str):
    data = pa.table({"x": pa.array(values, pa.float64() if kind == "numeric" else pa.string())})
    profile = write_profile_from_arrow(
        engine, "_sqlml", profile="p", version=1, data=data,
        columns=[ProfileColumn("x", kind)], bins=5,
    )  # fmt: skip
    return profile.columns["x"]


def _current(engine: DuckDBEngine, values: list, kind: str) -> str:
    engine.execute(
        "create or replace table cur (x " + ("double" if kind == "numeric" else "varchar") + ")"
    )
    if values:
        engine.execute("insert into cur values " + ", ".join(["(?)"] * len(values)), list(values))
    return "select * from cur"


def _bins_numpy(values: list, edges: tuple[float, ...]) -> np.ndarray:
    """Bin numbers as documented in `sqltext.bin_case`, the NumPy way."""
    x = np.array([np.nan if v is None else v for v in values], dtype=float)
    last = len(edges) - 1
    interior = max(last, 1)
    out = np.empty(len(x), dtype=int)
    out[np.isnan(x)] = 0
    ok = ~np.isnan(x)
    inner = np.searchsorted(np.array(edges[1:last]), x[ok], side="right") + 2
    inner[x[ok] < edges[0]] = 1
    inner[x[ok] > edges[last]] = interior + 2
    out[ok] = inner
    return out


def _shares(bins: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(bins, minlength=size) / len(bins)


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    pe, qe = np.maximum(p, EPSILON), np.maximum(q, EPSILON)
    return float(np.sum((qe - pe) * np.log(qe / pe)))


@SETTINGS
@given(reference=samples, current=samples)
def test_numeric_statistics_match_numpy_and_scipy(engine, reference, current):
    column = _profile(engine, reference, "numeric")
    drift = column_drift(engine, "_sqlml", "p", 1, column, _current(engine, current, "numeric"))
    size = len(column.bins)
    p = np.array([b[3] for b in column.bins])
    q = _shares(_bins_numpy(current, column.edges), size) if column.edges else None
    ref = np.array([v for v in reference if v is not None])
    cur = np.array([v for v in current if v is not None])
    if q is not None:
        assert [b.cur_share for b in drift.bins] == pytest.approx(q, abs=TOLERANCE)
        assert drift.metrics["psi"] == pytest.approx(_psi(p, q), abs=TOLERANCE)
        assert drift.metrics["js_distance"] == pytest.approx(
            jensenshannon(p, q, base=2), abs=TOLERANCE
        )
    if len(ref) and len(cur):
        assert drift.metrics["ks"] == pytest.approx(ks_2samp(ref, cur).statistic, abs=TOLERANCE)
        std = np.std(ref)
        expected = wasserstein_distance(ref, cur) / (std if std > 0 else 1.0)
        assert drift.metrics["wasserstein"] == pytest.approx(expected, abs=TOLERANCE, rel=1e-12)
    nulls = sum(v is None for v in current) / len(current)
    assert drift.metrics["null_rate"] == pytest.approx(nulls, abs=TOLERANCE)
    if len(ref) and len(cur):
        outside = np.mean((cur < ref.min()) | (cur > ref.max()))
        assert drift.metrics["out_of_range"] == pytest.approx(outside, abs=TOLERANCE)


@SETTINGS
@given(reference=categories, current=categories)
def test_categorical_statistics_match_numpy_and_scipy(engine, reference, current):
    column = _profile(engine, reference, "categorical")
    drift = column_drift(engine, "_sqlml", "p", 1, column, _current(engine, current, "categorical"))
    index = {b[2]: b[0] for b in column.bins if b[2] is not None}
    bins = np.array([0 if v is None else index.get(v, 1) for v in current])
    p = np.array([b[3] for b in column.bins])
    q = _shares(bins, len(p))
    assert drift.metrics["psi"] == pytest.approx(_psi(p, q), abs=TOLERANCE)
    assert drift.metrics["js_distance"] == pytest.approx(jensenshannon(p, q, base=2), abs=TOLERANCE)
    assert drift.metrics["linf"] == pytest.approx(np.max(np.abs(p - q)), abs=TOLERANCE)
    smoothed = np.maximum(p, EPSILON) / np.maximum(p, EPSILON).sum()
    observed = q * len(current)
    expected = chisquare(observed, smoothed * len(current)).statistic
    assert drift.metrics["chi2"] == pytest.approx(expected, rel=1e-9, abs=TOLERANCE)
    present = [v for v in current if v is not None]
    unseen = sum(v not in index for v in present) / len(present) if present else 0.0
    assert drift.metrics["unseen"] == pytest.approx(unseen, abs=TOLERANCE)


def test_identical_data_has_no_drift(engine):
    values = [float(v) for v in range(100)]
    column = _profile(engine, values, "numeric")
    drift = column_drift(engine, "_sqlml", "p", 1, column, _current(engine, values, "numeric"))
    assert drift.metrics["psi"] == pytest.approx(0.0, abs=1e-12)
    assert drift.metrics["ks"] == 0.0
    assert drift.metrics["wasserstein"] == 0.0
    assert drift.metrics["js_distance"] == pytest.approx(0.0, abs=1e-6)


def test_a_shifted_sample_drifts(engine):
    column = _profile(engine, [float(v) for v in range(100)], "numeric")
    shifted = [float(v) + 50 for v in range(100)]
    drift = column_drift(engine, "_sqlml", "p", 1, column, _current(engine, shifted, "numeric"))
    assert drift.metrics["ks"] == pytest.approx(0.5)
    assert drift.metrics["psi"] > 0.25
    assert drift.metrics["out_of_range"] == pytest.approx(0.5)


def test_empty_window_has_no_metrics(engine):
    column = _profile(engine, [1.0, 2.0], "numeric")
    drift = column_drift(engine, "_sqlml", "p", 1, column, _current(engine, [], "numeric"))
    assert drift.n_current == 0
    assert drift.metrics == {}


def test_profile_training_stores_features_and_the_prediction(engine):
    from sqlml.monitor.profile import profile_training

    table = pa.table(
        {"age": [20.0, 30.0, None, 50.0], "plan": ["a", "b", "a", None], "y": [0, 1, 0, 1]}
    )
    profile = profile_training(
        engine, "_sqlml", model="m", version=3, table=table,
        features=[("age", "numeric"), ("plan", "categorical")],
        predictions=np.array([0.1, 0.8, 0.3, 0.6]),
    )  # fmt: skip
    assert {c.name: c.role for c in profile.columns.values()} == {
        "age": "feature", "plan": "feature", "prediction": "prediction"
    }  # fmt: skip
    age = profile.columns["age"]
    assert (age.n, age.nulls, age.min, age.max) == (4, 1, 20.0, 50.0)
    assert age.std == pytest.approx(np.std([20.0, 30.0, 50.0]))
    plan = profile.columns["plan"]
    assert [(b[1], b[3]) for b in plan.bins] == [
        ("NULL", 0.25),
        ("(other)", 0.0),
        ("a", 0.5),
        ("b", 0.25),
    ]
    values = engine.execute(
        "select value, count from _sqlml.reference_sample_values join _sqlml.reference_samples "
        "using (sample) where profile = 'm' and column_name = 'age' order by value"
    )
    assert values == [(20.0, 1), (30.0, 1), (50.0, 1)]


wide = st.lists(
    st.tuples(
        st.one_of(st.floats(-100, 100, allow_nan=False), st.none()),
        st.one_of(st.integers(-3, 3).map(float), st.none()),
        st.one_of(st.sampled_from("abc"), st.none()),
    ),
    min_size=1,
    max_size=60,
)


@pytest.mark.filterwarnings("ignore:ks_2samp")
@SETTINGS
@given(reference=wide, current=wide)
def test_all_columns_at_once_match_one_at_a_time_and_scipy(engine, reference, current):
    """The suite computes every column in a few shared queries (repeated values counted
    before sorting, the others sorted raw): the figures are those of one column at a time."""
    from sqlml.monitor.drift import columns_drift

    names = ["Spread Out", "few", "kind"]
    types = [pa.float64(), pa.float64(), pa.string()]

    def table(rows: list) -> pa.Table:
        return pa.table({n: pa.array([r[j] for r in rows], t) for j, (n, t) in
                         enumerate(zip(names, types, strict=True))})  # fmt: skip

    profile = write_profile_from_arrow(
        engine, "_sqlml", profile="w", version=1, data=table(reference), bins=4,
        columns=[ProfileColumn(names[0], "numeric"), ProfileColumn(names[1], "numeric"),
                 ProfileColumn(names[2], "categorical")],
    )  # fmt: skip
    with engine.arrow_view(table(current)) as view:
        rows = f"select * from {view}"
        columns = [profile.columns[n] for n in names]
        together = columns_drift(engine, "_sqlml", "w", 1, columns, rows)
        alone = [column_drift(engine, "_sqlml", "w", 1, c, rows) for c in columns]
    for one, other in zip(together, alone, strict=True):
        assert (one.column, one.n_current, one.bins) == (other.column, other.n_current, other.bins)
        assert one.metrics == pytest.approx(other.metrics, abs=1e-12)
    for j in (0, 1):
        ref = np.array([r[j] for r in reference if r[j] is not None])
        cur = np.array([r[j] for r in current if r[j] is not None])
        if len(ref) and len(cur):
            metrics = together[j].metrics
            ks = ks_2samp(ref, cur).statistic
            assert metrics["ks"] == pytest.approx(ks, abs=TOLERANCE)
            std = np.std(ref)
            expected = wasserstein_distance(ref, cur) / (std if std > 0 else 1.0)
            assert metrics["wasserstein"] == pytest.approx(expected, abs=TOLERANCE, rel=1e-12)


def test_a_sample_stored_in_the_old_layout_is_moved_and_used(tmp_path):
    """Profiles written before the sample tables kept their values in ``reference_values``,
    keyed by name: the first monitor run moves them, with the same figures."""
    engine = DuckDBEngine(tmp_path / "w.duckdb")
    column = _profile(engine, [float(v % 7) for v in range(50)], "numeric")
    rows = _current(engine, [float(v % 5) for v in range(40)], "numeric")
    before = column_drift(engine, "_sqlml", "p", 1, column, rows)
    engine.execute(
        "create table _sqlml.reference_values as select profile, version, column_name, value, "
        "count from _sqlml.reference_sample_values join _sqlml.reference_samples using (sample)"
    )
    engine.execute("delete from _sqlml.reference_sample_values")
    engine.execute("delete from _sqlml.reference_samples")
    after = column_drift(engine, "_sqlml", "p", 1, column, rows)
    assert after == before
    assert ("_sqlml", "reference_values") not in engine.relations()
    (moved,) = engine.execute("select count(*) from _sqlml.reference_sample_values")[0]
    assert moved == 7
    engine.close()
