"""Point-in-time training sets and latest feature values, executed in in-memory DuckDB."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlml.engine import Engine, connect
from sqlml.errors import ConfigError
from sqlml.ml.pointintime import FeatureView, latest_features_sql, training_set_sql

T0 = datetime(2024, 1, 1)


def at(seconds: int | None) -> datetime | None:
    return None if seconds is None else T0 + timedelta(seconds=seconds)


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = connect(":memory:")
    yield engine
    engine.close()


def table(engine: Engine, name: str, columns: str, rows: Sequence[Sequence[Any]]) -> None:
    """Create ``name`` with ``columns`` (SQL) holding ``rows``."""
    engine.execute(f'create or replace table "{name}" ({columns})')
    if rows:
        values = ", ".join("(" + ", ".join("?" * len(rows[0])) + ")" for _ in rows)
        engine.execute(f'insert into "{name}" values {values}', [v for r in rows for v in r])


def view(name: str = "orders", ttl_s: float | None = None, **kw: Any) -> FeatureView:
    fields: dict[str, Any] = {
        "relation": '"orders"',
        "keys": ("customer_id",),
        "timestamp": "ts",
        "features": ("n",),
    }
    return FeatureView(name=name, ttl_s=ttl_s, **{**fields, **kw})


def spine(engine: Engine, rows: Sequence[tuple[Any, ...]]) -> None:
    table(engine, "spine", "customer_id int, as_of timestamp, label varchar", rows)


def orders(engine: Engine, rows: Sequence[tuple[Any, ...]]) -> None:
    table(engine, "orders", "customer_id int, ts timestamp, n int", rows)


def training(engine: Engine, *views: FeatureView) -> list[tuple[Any, ...]]:
    return engine.execute(training_set_sql('"spine"', ["customer_id"], "as_of", views))


def test_a_row_stamped_exactly_at_the_as_of_time_is_known_and_later_ones_never(
    engine: Engine,
) -> None:
    orders(engine, [(1, at(5), 50), (1, at(10), 100), (1, at(11), 110)])
    spine(engine, [(1, at(10), "exact"), (1, at(9), "between"), (1, at(4), "before all")])

    assert training(engine, view()) == [
        (1, at(10), "exact", 100, at(10)),
        (1, at(9), "between", 50, at(5)),
        (1, at(4), "before all", None, None),
    ]


def test_an_entity_without_history_and_null_keys_or_times_get_null_features(
    engine: Engine,
) -> None:
    orders(engine, [(1, at(1), 10), (None, at(1), -1), (2, None, -2)])
    spine(engine, [(3, at(5), "new"), (None, at(5), "null key"), (1, None, "null time")])
    spine_rows = [(2, at(5), "null event time")]
    table(engine, "more", "customer_id int, as_of timestamp, label varchar", spine_rows)

    assert training(engine, view()) == [
        (3, at(5), "new", None, None),
        (None, at(5), "null key", None, None),
        (1, None, "null time", None, None),
    ]
    sql = training_set_sql('"more"', ["customer_id"], "as_of", [view()])
    assert engine.execute(sql) == [(2, at(5), "null event time", None, None)]


def test_a_row_older_than_the_ttl_gives_nulls(engine: Engine) -> None:
    orders(engine, [(1, at(0), 1), (2, at(0), 2), (3, at(0), 3)])
    spine(engine, [(1, at(9), "fresh"), (2, at(10), "exactly ttl"), (3, at(11), "stale")])

    assert training(engine, view(ttl_s=10)) == [
        (1, at(9), "fresh", 1, at(0)),
        (2, at(10), "exactly ttl", 2, at(0)),
        (3, at(11), "stale", None, None),
    ]


def test_fractional_ttl_and_date_timestamps(engine: Engine) -> None:
    table(engine, "orders", "customer_id int, ts date, n int", [(1, T0.date(), 1)])
    spine(engine, [(1, T0 + timedelta(seconds=1.5), "in"), (1, T0 + timedelta(seconds=2), "out")])

    rows = training(engine, view(ttl_s=1.5))

    assert [(label, n) for _, _, label, n, _ in rows] == [("in", 1), ("out", None)]


def test_two_views_each_bring_their_prefixed_features_and_event_time(engine: Engine) -> None:
    orders(engine, [(1, at(1), 10), (1, at(3), 30)])
    table(
        engine,
        "visits",
        "cid int, seen_at timestamp, n int, pages int",
        [(1, at(2), 7, 70), (1, at(6), 8, 80)],
    )
    spine(engine, [(1, at(5), "a"), (1, at(7), "b")])
    visits = FeatureView("visits", '"visits"', ("cid",), "seen_at", ("n", "pages"), ttl_s=2)

    sql = training_set_sql('"spine"', ["customer_id"], "as_of", [view(), visits])
    names = [row[0] for row in engine.execute(f"describe {sql}")]

    assert names == [
        "customer_id",
        "as_of",
        "label",
        "orders__n",
        "orders__event_time",
        "visits__n",
        "visits__pages",
        "visits__event_time",
    ]
    assert engine.execute(sql) == [
        (1, at(5), "a", 30, at(3), None, None, None),  # the visit at 2 is past its 2 s TTL
        (1, at(7), "b", 30, at(3), 8, 80, at(6)),
    ]


def test_composite_keys_match_by_position(engine: Engine) -> None:
    table(
        engine,
        "prices",
        "region varchar, sku int, ts timestamp, price double",
        [("eu", 1, at(1), 9.5), ("us", 1, at(1), 10.0), ("eu", 2, at(1), 3.0)],
    )
    table(
        engine,
        "sales",
        "sku int, market varchar, t timestamp",
        [(1, "eu", at(2)), (1, "us", at(2)), (2, "us", at(2))],
    )
    prices = FeatureView("prices", '"prices"', ("region", "sku"), "ts", ("price",), None)

    rows = engine.execute(training_set_sql('"sales"', ["market", "sku"], "t", [prices]))

    assert [row[3] for row in rows] == [9.5, 10.0, None]


def test_duplicate_event_times_keep_the_greatest_features_and_spine_rows_stay(
    engine: Engine,
) -> None:
    orders(engine, [(1, at(1), None), (1, at(1), 5), (1, at(1), 3), (2, at(1), None)])
    spine(engine, [(2, at(2), "b"), (1, at(2), "a"), (2, at(2), "b")])

    assert training(engine, view()) == [
        (2, at(2), "b", None, at(1)),
        (1, at(2), "a", 5, at(1)),
        (2, at(2), "b", None, at(1)),
    ]


def test_identifiers_are_quoted_and_relations_may_be_queries(engine: Engine) -> None:
    table(engine, "odd", '"customer id" int, "when" timestamp, "n""x" int', [(1, at(1), 4)])
    spine(engine, [(1, at(2), "a")])
    odd = FeatureView("o d", '(select * from "odd")', ("customer id",), "when", ('n"x',), 60)

    sql = training_set_sql("(select * from spine)", ["customer_id"], "as_of", [odd])

    assert engine.execute(sql) == [(1, at(2), "a", 4, at(1))]
    names = [row[0] for row in engine.execute(f"describe {sql}")]
    assert names[3:] == ['o d__n"x', "o d__event_time"]


def test_latest_features_give_one_row_per_entity_known_at_as_of(engine: Engine) -> None:
    orders(engine, [(1, at(1), 10), (1, at(5), 50), (1, at(9), 90), (2, at(0), 20), (3, at(1), 3)])
    table(engine, "visits", "customer_id int, ts timestamp, n int", [(3, at(2), 33), (4, at(8), 4)])
    visits = view("visits", relation='"visits"', ttl_s=10)
    as_of = f"timestamp '{at(6)}'"

    rows = engine.execute(latest_features_sql([view(ttl_s=5), visits], ["id"], as_of))

    assert rows == [
        (1, 50, at(5), None, None),
        (3, 3, at(1), 33, at(2)),  # entity 2: its only row is stale; 4: not known yet
    ]
    everything = engine.execute(latest_features_sql([view()], ["id"]))  # as of now()
    assert everything == [(1, 90, at(9)), (2, 20, at(0)), (3, 3, at(1))]


@pytest.mark.parametrize(
    ("views", "message"),
    [
        ([], "no feature views to join"),
        ([view(keys=("a", "b"))], "feature view 'orders' has 2 key column(s) (a, b) but the spine has 1"),  # noqa: E501
        ([view(ttl_s=-1)], "feature view 'orders' has ttl -1; it must be a number of seconds >= 0"),
        ([view(), view(relation='"x"')], "feature views 'orders' and 'orders' both produce column 'orders__n'"),  # noqa: E501
        ([view(timestamp="")], "feature view 'orders' needs a name, entity key(s) and an event timestamp"),  # noqa: E501
    ],
)  # fmt: skip
def test_invalid_views_are_config_errors(views: list[FeatureView], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        training_set_sql('"spine"', ["customer_id"], "as_of", views)

    assert info.value.message == message
    assert info.value.hint


# --- property: the SQL equals a brute-force point-in-time join -------------------------------

keys = st.tuples(st.sampled_from([0, 1, None]), st.sampled_from(["a", "b"]))
seconds = st.one_of(st.integers(0, 8), st.none())
value = st.one_of(st.integers(-3, 3), st.none())


@st.composite
def feature_rows(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Feature rows ``(key, seconds, x, y)``, with some (key, seconds) pairs repeated."""
    rows = draw(st.lists(st.tuples(keys, seconds, value, value), max_size=10))
    if rows:
        copies = st.tuples(st.integers(0, len(rows) - 1), value, value)
        for i, x, y in draw(st.lists(copies, max_size=4)):
            rows.append((rows[i][0], rows[i][1], x, y))
    return draw(st.permutations(rows))


ttls = st.one_of(st.none(), st.integers(0, 4), st.sampled_from([0.5, 2.5]))


def reference(
    rows: list[tuple[Any, ...]], key: tuple[Any, Any], time: int | None, ttl: float | None
) -> tuple[Any, ...]:
    """(x, y, event time) of the row a point-in-time join must pick, by brute force."""
    if time is None or None in key:
        return (None, None, None)
    known = [r for r in rows if r[0] == key and r[1] is not None and r[1] <= time]
    if not known:
        return (None, None, None)
    latest = max(r[1] for r in known)
    if ttl is not None and latest < time - ttl:
        return (None, None, None)
    # Tie rule: the greatest features in declared order, NULLs below every value.
    tied = [r for r in known if r[1] == latest]
    best = max(tied, key=lambda r: tuple((v is not None, v if v is not None else 0) for v in r[2:]))
    return (best[2], best[3], at(latest))


@pytest.fixture(scope="module")
def shared() -> Iterator[Engine]:
    """One in-memory database for every example: tables are replaced, not accumulated."""
    engine = connect(":memory:")
    yield engine
    engine.close()


def load_view(engine: Engine, name: str, rows: list[tuple[Any, ...]]) -> None:
    flat = [(k1, k2, at(t), x, y) for (k1, k2), t, x, y in rows]
    table(engine, name, "k1 int, k2 varchar, ts timestamp, x int, y int", flat)


def feature_view(name: str, ttl: float | None) -> FeatureView:
    return FeatureView(name, f'"{name}"', ("k1", "k2"), "ts", ("x", "y"), ttl)


@settings(max_examples=200, deadline=None)
@given(
    spine_rows=st.lists(st.tuples(keys, st.one_of(st.integers(0, 10), st.none())), max_size=10),
    first=feature_rows(),
    second=feature_rows(),
    ttl_first=ttls,
    ttl_second=ttls,
)
def test_training_set_equals_a_brute_force_point_in_time_join(
    shared: Engine,
    spine_rows: list[tuple[Any, ...]],
    first: list[tuple[Any, ...]],
    second: list[tuple[Any, ...]],
    ttl_first: float | None,
    ttl_second: float | None,
) -> None:
    rows = [(k1, k2, at(t), i) for i, ((k1, k2), t) in enumerate(spine_rows)]
    table(shared, "spine", "k1 int, k2 varchar, t timestamp, label int", rows)
    load_view(shared, "f", first)
    load_view(shared, "g", second)
    views = [feature_view("f", ttl_first), feature_view("g", ttl_second)]
    result = shared.execute(training_set_sql('"spine"', ["k1", "k2"], "t", views))

    expected = [
        (*row, *reference(first, key, t, ttl_first), *reference(second, key, t, ttl_second))
        for row, (key, t) in zip(rows, spine_rows, strict=True)
    ]
    assert result == expected
    for row in result:
        assert row[6] is None or row[6] <= row[2]
        assert row[9] is None or row[9] <= row[2]


@settings(max_examples=150, deadline=None)
@given(first=feature_rows(), second=feature_rows(), ttl=ttls, as_of=st.integers(0, 10))
def test_latest_features_equal_a_brute_force_lookup(
    shared: Engine,
    first: list[tuple[Any, ...]],
    second: list[tuple[Any, ...]],
    ttl: float | None,
    as_of: int,
) -> None:
    load_view(shared, "f", first)
    load_view(shared, "g", second)
    views = [feature_view("f", ttl), feature_view("g", None)]
    result = shared.execute(latest_features_sql(views, ["k1", "k2"], f"timestamp '{at(as_of)}'"))

    picks = {
        key: (reference(first, key, as_of, ttl), reference(second, key, as_of, None))
        for key in {k for k, *_ in first + second if None not in k}
    }
    expected = sorted(
        (*key, *f, *g) for key, (f, g) in picks.items() if f[2] is not None or g[2] is not None
    )
    assert result == expected
