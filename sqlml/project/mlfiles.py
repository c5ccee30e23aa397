"""Reading the ML parts of a project: feature views (`features/`) and ML specs (`ml/`).

A feature view is a SQL template plus a YAML entry under ``feature_views:`` in any ``.yml``
file of the features folder::

    feature_views:
      - name: customer_orders        # features/customer_orders.sql
        entities: [customer_id]      # entity key column(s)
        timestamp: feature_at        # from this time on, the row's values hold
        ttl: 90 days                 # optional: older rows are stale (NULL features)
        features: [orders_90d, ...]  # optional: default every other column

An ML spec is ``ml/<name>.yml`` (see `sqlml.ml.spec`), with an optional ``ml/<name>.sql``
training query rendered like a model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlml.errors import ConfigError, Location, did_you_mean
from sqlml.project.types import Column, FeatureViewSource, ModelSource
from sqlml.project.yamlfile import key_location, read_yaml, validate

if TYPE_CHECKING:
    from sqlml.ml.spec import MLSpec

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$")
_UNITS = {
    "s": 1,
    "second": 1,
    "m": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 604800,
    "week": 604800,
}


def parse_duration(value: str | float) -> float | None:
    """Seconds in ``value``: a number of seconds, or ``"<n> <unit>"`` (second, minute, hour,
    day, week; plural or initial). None when it cannot be read.

    >>> parse_duration("90 days"), parse_duration("12h"), parse_duration(30), parse_duration("x")
    (7776000.0, 43200.0, 30.0, None)
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) and number >= 0 else None
    match = _DURATION.match(str(value).lower())
    if match is None:
        return None
    unit = match.group(2)
    factor = _UNITS.get(unit) or _UNITS.get(unit.removesuffix("s"))
    return float(match.group(1)) * factor if factor else None


def load_feature_views(
    root: Path, sql_files: Mapping[str, str], yml_files: list[str]
) -> tuple[FeatureViewSource, ...]:
    """Join each feature view's SQL file (``rel path -> text``) with its YAML entry.

    Raises ConfigError for an entry without a SQL file, a SQL file without an entry, an entry
    given twice, or a TTL that cannot be read.
    """
    from sqlml.project.schema import FeatureViewsFile

    by_name: dict[str, tuple[str, str]] = {}
    for rel, text in sql_files.items():
        name = rel.rpartition("/")[2].removesuffix(".sql")
        if name in by_name:
            raise ConfigError(
                f"two feature views are named '{name}': {by_name[name][0]} and {rel}",
                location=Location(rel),
                hint="feature view names must be unique; rename one file",
            )
        by_name[name] = (rel, text)
    found: dict[str, FeatureViewSource] = {}
    for display in yml_files:
        path = root / display
        data = validate(FeatureViewsFile, read_yaml(path, display), path, display)
        for index, entry in enumerate(data.feature_views):

            def where(
                *key: str | int, _index: int = index, _path: Path = path, _display: str = display
            ) -> Location:
                return key_location(_path, _display, ["feature_views", _index, *key])

            if entry.name not in by_name:
                raise ConfigError(
                    f"feature view '{entry.name}' has no SQL file",
                    location=where("name"),
                    hint=did_you_mean(entry.name, by_name)
                    or f"create {Path(display).parent.as_posix()}/{entry.name}.sql",
                )
            if entry.name in found:
                raise ConfigError(
                    f"feature view '{entry.name}' is described twice (also in "
                    f"{found[entry.name].properties_path})",
                    location=where("name"),
                    hint="keep one entry",
                )
            ttl = None
            if entry.ttl is not None:
                ttl = parse_duration(entry.ttl)
                if ttl is None:
                    raise ConfigError(
                        f"cannot read ttl '{entry.ttl}' of feature view '{entry.name}'",
                        location=where("ttl"),
                        hint="write e.g. '90 days', '12 hours', or a number of seconds",
                    )
            keys = [entry.entities] if isinstance(entry.entities, str) else entry.entities
            if not keys:
                raise ConfigError(
                    f"feature view '{entry.name}' lists no entity key",
                    location=where("entities"),
                    hint="e.g. entities: [customer_id]",
                )
            rel, text = by_name[entry.name]
            found[entry.name] = FeatureViewSource(
                name=entry.name,
                path=rel,
                sql=text,
                keys=tuple(keys),
                timestamp=entry.timestamp,
                properties_path=display,
                line=where("name").line,
                index=index,
                ttl_s=ttl,
                features=tuple(entry.features) if entry.features is not None else None,
                schema=entry.schema_,
                tags=tuple(entry.tags),
                meta=dict(entry.meta),
                description=entry.description,
                columns=tuple(Column(c.name, c.description, c.data_type) for c in entry.columns),
            )
    missing = sorted(set(by_name) - set(found))
    if missing:
        rel = by_name[missing[0]][0]
        raise ConfigError(
            f"feature view '{missing[0]}' ({rel}) has no YAML entry naming its entity keys and "
            "event timestamp",
            location=Location(rel),
            hint="add it under feature_views: in a .yml file of the features folder, with "
            "name, entities and timestamp",
        )
    return tuple(found[name] for name in sorted(found))


def load_ml_specs(
    root: Path, yml_files: list[str], read_sql: Callable[[str], str]
) -> tuple[tuple[MLSpec, ...], tuple[ModelSource, ...]]:
    """Every ``ml/<name>.yml`` as a spec, and the ``ml/<name>.sql`` training queries.

    ``read_sql`` reads a project-relative SQL file (and notes it for the project cache).
    """
    from sqlml.ml.spec import load_spec

    specs: dict[str, MLSpec] = {}
    queries = []
    for display in yml_files:
        spec = load_spec(root / display, display)
        if spec.name in specs:
            raise ConfigError(
                f"two ML specs are named '{spec.name}': {specs[spec.name].display} and {display}",
                location=Location(display),
                hint="ML model names must be unique across the project; rename one file",
            )
        specs[spec.name] = spec
        if spec.sql_path is not None:
            rel = str(Path(display).with_suffix(".sql").as_posix())
            queries.append(ModelSource(name=spec.name, path=rel, sql=read_sql(rel), config={}))
    return tuple(specs[n] for n in sorted(specs)), tuple(queries)


def check_ml_names(
    models: Mapping[str, Any], seeds: Any, views: Any, specs: Any, root: Path
) -> None:
    """Models, seeds, feature views and ML models share one namespace (ref() and -s)."""
    taken: dict[str, str] = {name: model.path for name, model in models.items()}
    taken.update({seed.name: seed.path for seed in seeds})
    for view in views:
        if view.name in taken:
            raise ConfigError(
                f"feature view '{view.name}' ({view.path}) has the name of {taken[view.name]}",
                location=Location(view.path),
                hint="names are shared by models, seeds, feature views and ML models; rename one",
            )
        taken[view.name] = view.path
    for spec in specs:
        if spec.name in taken:
            raise ConfigError(
                f"ML model '{spec.name}' ({spec.display}) has the name of {taken[spec.name]}",
                location=Location(spec.display),
                hint="names are shared by models, seeds, feature views and ML models; rename one",
            )
