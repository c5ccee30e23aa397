"""Point-in-time-correct training sets and latest feature values, as SQL text (DuckDB dialect).

A feature view is a relation with entity key column(s), an event timestamp and feature columns;
a row says "from this time on, these were the entity's values". A spine is a relation with the
same entity key(s), an as-of time and a label.

Rules shared by `training_set_sql` and `latest_features_sql`, so training and scoring read one
definition:

- **Never a later row.** A spine row gets, per view, the latest row with the same keys whose event
  timestamp is ``<=`` its as-of time (a row stamped exactly at the as-of time counts as known).
  Rows with a NULL key or NULL event timestamp never match; neither does a spine row with a NULL
  key or as-of time: its features are NULL.
- **TTL.** With ``ttl_s``, a row is stale when ``event_time < as_of - ttl_s`` (an age of exactly
  ``ttl_s`` is still fresh); a stale match gives NULL features and a NULL event time. Needs
  timestamp or date columns; without a TTL any ordered type works.
- **Ties.** Rows of one view with the same keys and the same event timestamp are reduced to one:
  the greatest by the feature columns in their declared order, each descending with NULLs last.
  Deduplicate upstream when the data has a better rule (a load time, a sequence number).
- **Output columns.** Each view contributes ``<view>__<feature>`` per feature and
  ``<view>__event_time`` (the matched row's event timestamp, for auditing). The training set keeps
  every spine column first, in spine order; spine columns are not checked against these names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlml.errors import ConfigError

_SPINE = "__sqlml_spine"
_ROW = "__sqlml_row"
_ENTITIES = "__sqlml_entities"


@dataclass(frozen=True)
class FeatureView:
    """A feature view as the SQL generators need it.

    Attributes:
        name: the view's name; prefixes its output columns.
        relation: where its rows are, as SQL (a quoted relation name or a parenthesised query).
        keys: entity key columns, matched by position with the spine's keys.
        timestamp: the event timestamp column.
        features: the feature columns to bring along.
        ttl_s: how long, in seconds, a row stays valid after its event time; None for ever.
    """

    name: str
    relation: str
    keys: tuple[str, ...]
    timestamp: str
    features: tuple[str, ...]
    ttl_s: float | None = None


def feature_column(view: FeatureView, feature: str) -> str:
    """The output column name of ``feature`` of ``view``: ``<view>__<feature>``."""
    return f"{view.name}__{feature}"


def event_time_column(view: FeatureView) -> str:
    """The output column holding the matched row's event timestamp: ``<view>__event_time``."""
    return f"{view.name}__event_time"


def training_set_sql(
    spine_relation: str, spine_keys: Sequence[str], spine_time: str, views: Sequence[FeatureView]
) -> str:
    """A query joining to each spine row the latest values of every view known at its time.

    Args:
        spine_relation: the spine, as SQL (a quoted relation name or a parenthesised query).
        spine_keys: the spine's entity key columns, matched by position with each view's keys.
        spine_time: the spine's as-of time column.
        views: the feature views to join.

    Returns:
        A SELECT with every spine column, then each view's feature and event-time columns, one
        row per spine row (duplicates kept), in spine order.
    """
    _validate(views, len(spine_keys), "the spine")
    as_of = f"{_SPINE}.{_q(spine_time)}"
    ctes = [f"{_SPINE} as (select *, row_number() over () as {_ROW} from {spine_relation})"]
    columns = [f"{_SPINE}.* exclude ({_ROW})"]
    joins = []
    for i, view in enumerate(views):
        alias = f"__sqlml_v{i}"
        ctes.append(f"{alias} as ({_rows(view, by_time=True)})")
        on = [
            f"{_SPINE}.{_q(s)} = {alias}.{_q(k)}"
            for s, k in zip(spine_keys, view.keys, strict=True)
        ]
        on.append(f"{as_of} >= {alias}.{_q(view.timestamp)}")
        joins.append(f"asof left join {alias} on " + " and ".join(on))
        fresh = _fresh(view, alias, as_of)
        columns.extend(_outputs(view, alias, fresh))
    return (
        "with " + ",\n".join(ctes) + "\nselect\n    " + ",\n    ".join(columns)
        + f"\nfrom {_SPINE}\n" + "\n".join(joins) + f"\norder by {_SPINE}.{_ROW}"
    )  # fmt: skip


def latest_features_sql(
    views: Sequence[FeatureView], keys: Sequence[str], as_of: str | None = None
) -> str:
    """A query giving, per entity, the latest values of every view known at ``as_of``.

    Entities are the key values with at least one fresh row (known at ``as_of`` and within the
    TTL) in some view; rows with a NULL key are left out.

    Args:
        views: the feature views.
        keys: names of the output key columns, matched by position with each view's keys.
        as_of: a SQL expression for the as-of time (``TIMESTAMP '2024-05-01'``), evaluated by the
            warehouse; None means ``now()``.

    Returns:
        A SELECT with the key columns, then each view's feature and event-time columns, one row
        per entity, ordered by the keys.
    """
    _validate(views, len(keys), "the key list")
    when = f"({as_of})" if as_of is not None else "now()"
    ctes = []
    entities = []
    columns = [f"{_ENTITIES}.{_q(k)}" for k in keys]
    joins = []
    for i, view in enumerate(views):
        alias = f"__sqlml_v{i}"
        fresh = _fresh(view, None, when)
        known = [f"{_q(view.timestamp)} <= {when}", *([fresh] if fresh else [])]
        ctes.append(f"{alias} as ({_rows(view, by_time=False, where=known)})")
        names = ", ".join(f"{_q(k)} as {_q(out)}" for k, out in zip(view.keys, keys, strict=True))
        entities.append(f"select {names} from {alias}")
        on = " and ".join(
            f"{_ENTITIES}.{_q(out)} = {alias}.{_q(k)}"
            for k, out in zip(view.keys, keys, strict=True)
        )
        joins.append(f"left join {alias} on {on}")
        columns.extend(_outputs(view, alias, None))
    not_null = " and ".join(f"{_q(k)} is not null" for k in keys)
    ctes.append(
        f"{_ENTITIES} as (select * from ({' union '.join(entities)}) as e where {not_null})"
    )
    order = ", ".join(f"{_ENTITIES}.{_q(k)}" for k in keys)
    return (
        "with " + ",\n".join(ctes) + "\nselect\n    " + ",\n    ".join(columns)
        + f"\nfrom {_ENTITIES}\n" + "\n".join(joins) + f"\norder by {order}"
    )  # fmt: skip


def _rows(view: FeatureView, *, by_time: bool, where: Sequence[str] = ()) -> str:
    """The view's needed columns, one row per (keys, timestamp) — or per keys, the latest."""
    needed = list(dict.fromkeys((*view.keys, view.timestamp, *view.features)))
    ties = [f"{_q(f)} desc nulls last" for f in view.features]
    partition = [_q(k) for k in view.keys]
    if by_time:
        partition.append(_q(view.timestamp))
    else:
        ties.insert(0, f"{_q(view.timestamp)} desc")
    filters = [f"{_q(view.timestamp)} is not null", *where]
    order = f" order by {', '.join(ties)}" if ties else ""
    return (
        f"select {', '.join(_q(c) for c in needed)} from {view.relation} "
        f"where {' and '.join(filters)} "
        f"qualify row_number() over (partition by {', '.join(partition)}{order}) = 1"
    )


def _fresh(view: FeatureView, alias: str | None, as_of: str) -> str | None:
    """SQL that is true when the (matched) row is within the view's TTL; None without a TTL."""
    if view.ttl_s is None:
        return None
    column = f"{alias}.{_q(view.timestamp)}" if alias else _q(view.timestamp)
    return f"{column} >= {as_of} - to_microseconds({round(view.ttl_s * 1_000_000)})"


def _outputs(view: FeatureView, alias: str, fresh: str | None) -> list[str]:
    values = [(f, feature_column(view, f)) for f in view.features]
    values.append((view.timestamp, event_time_column(view)))
    if fresh is None:
        return [f"{alias}.{_q(c)} as {_q(name)}" for c, name in values]
    return [f"case when {fresh} then {alias}.{_q(c)} end as {_q(name)}" for c, name in values]


def _validate(views: Sequence[FeatureView], n_keys: int, other: str) -> None:
    if not views:
        raise ConfigError("no feature views to join", hint="list at least one feature view")
    outputs: dict[str, str] = {}
    for view in views:
        if not view.name or not view.keys or not view.timestamp:
            raise ConfigError(
                f"feature view {view.name!r} needs a name, entity key(s) and an event timestamp",
                node=view.name or None,
                hint="set them in the feature view's YAML",
            )
        if len(view.keys) != n_keys:
            raise ConfigError(
                f"feature view '{view.name}' has {len(view.keys)} key column(s) "
                f"({', '.join(view.keys)}) but {other} has {n_keys}",
                node=view.name,
                hint="keys are matched by position: list the same number, in the same order",
            )
        if view.ttl_s is not None and not (math.isfinite(view.ttl_s) and view.ttl_s >= 0):
            raise ConfigError(
                f"feature view '{view.name}' has ttl {view.ttl_s}; it must be a number of "
                "seconds >= 0",
                node=view.name,
                hint="leave the ttl out for features that never expire",
            )
        names = [feature_column(view, f) for f in view.features] + [event_time_column(view)]
        for name in names:
            if name in outputs:
                raise ConfigError(
                    f"feature views '{outputs[name]}' and '{view.name}' both produce column "
                    f"'{name}'",
                    node=view.name,
                    hint="output columns are named <view>__<feature>: rename a view or feature",
                )
            outputs[name] = view.name


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
