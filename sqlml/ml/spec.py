"""An ML spec, `ml/<name>.yml`: what to train on, how, and what a good model must score.

``load_spec`` reads and validates the file (unknown keys, types, gate syntax) and returns a
frozen `MLSpec`. Checks that need scikit-learn or the training data live in `sqlml.ml.validate`.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlml.errors import ConfigError, Location
from sqlml.project.yamlfile import key_location, read_yaml, validate

Task = Literal["classification", "regression"]

# A training relation or spine as written: ref('name'), or source('source', 'table').
_REFERENCE = re.compile(
    r"""^\s*(ref|source)\(\s*(['"])([^'"]+)\2\s*(?:,\s*(['"])([^'"]+)\4\s*)?\)\s*$"""
)
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]+")
_GATE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$")
COMPARISONS: Mapping[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
DEFAULT_METRICS: Mapping[str, tuple[str, ...]] = {
    "classification": ("roc_auc", "accuracy", "f1"),
    "regression": ("r2", "root_mean_squared_error", "mean_absolute_error"),
}


@dataclass(frozen=True)
class Reference:
    """A relation named in a spec: ``ref('name')`` or ``source('source', 'table')``."""

    function: Literal["ref", "source"]
    name: str  # the model name, or "source.table"

    def __str__(self) -> str:
        if self.function == "ref":
            return f"ref('{self.name}')"
        source, table = self.name.split(".", 1)
        return f"source('{source}', '{table}')"


@dataclass(frozen=True)
class Preprocessing:
    numeric_imputation: str = "median"  # median | mean | most_frequent | zero
    categorical_imputation: str = "constant"  # constant (own category) | most_frequent
    scaling: bool = True
    one_hot: bool = True


@dataclass(frozen=True)
class Split:
    method: Literal["random", "time", "group"] = "random"
    test_size: float = 0.2
    seed: int = 0
    column: str | None = None


@dataclass(frozen=True)
class SearchRange:
    low: float
    high: float
    log: bool = False
    integer: bool = False


@dataclass(frozen=True)
class Search:
    method: Literal["grid", "random"]
    params: Mapping[str, tuple[Any, ...] | SearchRange]
    budget: int | None
    metric: str


@dataclass(frozen=True)
class Gate:
    """A condition a model must meet on the holdout, e.g. ``roc_auc >= 0.75``."""

    text: str
    metric: str
    op: str
    threshold: float

    def passes(self, value: float) -> bool:
        return not math.isnan(value) and COMPARISONS[self.op](value, self.threshold)


@dataclass(frozen=True)
class Scoring:
    """A spec's ``scoring`` section: score the champion into table ``output``.

    ``input`` None means the feature views' latest values (with a spine) or the training
    relation; ``keys`` None means the spine's keys.
    """

    output: str
    keys: tuple[str, ...] | None = None
    input: Reference | None = None
    version: str = "champion"
    incremental: bool = True
    schema: str | None = None


@dataclass(frozen=True)
class MLSpec:
    """A validated ML spec. ``path`` is the file on disk, ``display`` how errors name it."""

    name: str
    path: Path
    display: str
    owner: str
    task: Task
    target: str
    estimator_class: str
    estimator_params: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    relation: Reference | None = None
    spine: Reference | None = None
    as_of: str | None = None  # the spine's as-of time column
    spine_keys: tuple[str, ...] | None = None  # None: the keys of the feature views
    feature_views: tuple[str, ...] = ()
    sql_path: Path | None = None  # ml/<name>.sql, when the training query is written there
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    preprocessing: Preprocessing = Preprocessing()
    split: Split = Split()
    cv_folds: int | None = None
    search: Search | None = None
    metrics: tuple[str, ...] = ()
    gates: tuple[Gate, ...] = ()
    tags: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    # Columns of the training relation that are never features: set by the compiler for a
    # spine (its keys and as-of time, and each feature view's event time).
    not_features: tuple[str, ...] = ()
    monitors: tuple[Any, ...] = ()  # MonitorSpec of each entry under monitors:
    scoring: Scoring | None = None

    def location(self, *key_path: str | int) -> Location:
        """Where ``key_path`` (e.g. ``"features", "include", 2``) is written in the spec file."""
        return key_location(self.path, self.display, key_path)

    @property
    def primary_metric(self) -> str:
        return self.metrics[0]


def function_name(model: str) -> str:
    """The SQL function of a model: ``predict_<model>`` (non-identifier characters as ``_``)."""
    return "predict_" + _NOT_IDENTIFIER.sub("_", model)


def load_spec(path: Path, display: str) -> MLSpec:
    """Read and validate an ML spec file.

    Args:
        path: the YAML file, ``ml/<name>.yml``; its stem is the model's name.
        display: how errors name the file (relative to the project root).

    Returns:
        The spec. Raises ConfigError at the offending line for unknown keys, wrong types, a
        missing or doubled training relation, a split without its column, or a malformed gate.
    """
    from sqlml.ml.specfile import MLSpecFile

    raw = read_yaml(path, display)
    file = validate(MLSpecFile, raw, path, display)

    def fail(message: str, *key_path: str | int, hint: str | None = None) -> ConfigError:
        return ConfigError(
            message, node=path.stem, location=key_location(path, display, key_path), hint=hint
        )

    sql_path = path.with_suffix(".sql")
    relation = _reference(file.relation, "relation", fail) if file.relation else None
    spine = _reference(file.spine, "spine", fail) if file.spine else None
    sources = [relation is not None, spine is not None, sql_path.exists()]
    if sum(sources) == 0 and file.feature_views:
        raise fail("feature_views need a spine", "feature_views", hint="add spine: ref('...')")
    if sum(sources) != 1:
        raise fail(
            "say what to train on with exactly one of: relation, spine (with feature_views), "
            f"or a SQL file {Path(display).with_suffix('.sql').name}",
            *(("relation",) if file.relation else ()),
            hint="e.g. relation: ref('churn_training_set')",
        )
    if spine is not None and not file.feature_views:
        raise fail("a spine needs feature_views to join", "spine", hint="add feature_views: [...]")
    if spine is not None and file.as_of is None:
        raise fail(
            "a spine needs its as-of time column",
            "spine",
            hint="add as_of: (the spine's column saying when each row's features are read)",
        )
    for key in ("as_of", "keys"):
        if spine is None and getattr(file, key) is not None:
            raise fail(f"{key} belongs with a spine", key, hint=f"remove {key}, or add spine:")
    if file.split.method != "random" and file.split.column is None:
        raise fail(
            f"split method '{file.split.method}' needs a column",
            "split",
            hint="add column: (the "
            + ("timestamp column to split on)" if file.split.method == "time" else "group column)"),
        )

    metrics = tuple(file.metrics) if file.metrics is not None else DEFAULT_METRICS[file.task]
    if not metrics:
        example = DEFAULT_METRICS[file.task][0]
        raise fail("metrics must list at least one metric", "metrics", hint=f"e.g. [{example}]")
    gates = tuple(_gate(text, i, metrics, fail) for i, text in enumerate(file.gates))
    search = None
    if file.search is not None:
        search = Search(
            method=file.search.method,
            params={
                k: tuple(v) if isinstance(v, list) else SearchRange(**v.model_dump())
                for k, v in file.search.params.items()
            },
            budget=file.search.budget,
            metric=file.search.metric or metrics[0],
        )
    pre = file.preprocessing
    scoring = _scoring(file, path.stem, relation, spine, fail)
    return MLSpec(
        name=path.stem,
        path=path,
        display=display,
        owner=file.owner,
        task=file.task,
        target=file.target,
        estimator_class=file.estimator.class_,
        estimator_params=dict(file.estimator.params),
        description=file.description,
        relation=relation,
        spine=spine,
        as_of=file.as_of,
        spine_keys=tuple(file.keys) if file.keys is not None else None,
        feature_views=tuple(file.feature_views),
        sql_path=sql_path if sql_path.exists() else None,
        include=tuple(file.features.include) if file.features.include is not None else None,
        exclude=tuple(file.features.exclude),
        categorical=tuple(file.features.categorical),
        numeric=tuple(file.features.numeric),
        preprocessing=Preprocessing(
            pre.imputation.numeric, pre.imputation.categorical, pre.scaling, pre.one_hot
        ),
        split=Split(file.split.method, file.split.test_size, file.split.seed, file.split.column),
        cv_folds=file.cv.folds if file.cv else None,
        search=search,
        metrics=metrics,
        gates=gates,
        tags=tuple(file.tags),
        meta=dict(file.meta),
        monitors=_monitors(file.monitors, path, display, file.owner, scoring),
        scoring=scoring,
    )


def _monitors(
    entries: list[dict[str, Any]], path: Path, display: str, owner: str, scoring: Scoring | None
) -> tuple[Any, ...]:
    """The spec's monitors, attached to its model and owner; names default to
    ``<model>_<type>``. Drift and quality monitors without a relation watch the rows the
    scoring section scores."""
    from sqlml.monitor.spec import load_monitor

    return tuple(
        load_monitor(
            entry,
            path=path,
            display=display,
            key_path=("monitors", i),
            model=path.stem,
            owner=owner,
            default_name=f"{path.stem}_{entry.get('type', 'monitor')}",
            scoring=scoring.output if scoring is not None else None,
        )
        for i, entry in enumerate(entries)
    )


def _reference(text: str, key: str, fail: Callable[..., ConfigError]) -> Reference:
    match = _REFERENCE.match(text)
    if match is None or (match.group(1) == "source") != (match.group(5) is not None):
        raise fail(
            f"cannot read {key} '{text}'",
            key,
            hint="write ref('model_name') or source('source_name', 'table_name')",
        )
    if match.group(1) == "source":
        return Reference("source", f"{match.group(3)}.{match.group(5)}")
    return Reference("ref", match.group(3))


def _gate(
    text: str, index: int, metrics: tuple[str, ...], fail: Callable[..., ConfigError]
) -> Gate:
    match = _GATE.match(text)
    threshold = _number(match.group(3)) if match else None
    if match is None or threshold is None:
        raise fail(
            f"cannot read gate '{text}'",
            "gates",
            index,
            hint="write a metric, a comparison and a number, e.g. 'roc_auc >= 0.75'",
        )
    metric = match.group(1)
    if metric not in metrics:
        raise fail(
            f"gate '{text}' checks metric '{metric}', which is not in metrics",
            "gates",
            index,
            hint=f"add '{metric}' to metrics (now: {', '.join(metrics)})",
        )
    return Gate(text.strip(), metric, match.group(2), threshold)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _scoring(
    file: Any,
    name: str,
    relation: Reference | None,
    spine: Reference | None,
    fail: Callable[..., ConfigError],
) -> Scoring | None:
    section = file.scoring
    if section is None:
        return None
    scored = _reference(section.input, "scoring", fail) if section.input else None
    if scored is None and spine is None and relation is None:
        raise fail(
            "scoring needs an input: this model trains on a SQL file",
            "scoring",
            hint="add input: ref('...') (the rows to score) under scoring",
        )
    if section.keys is None and spine is None:
        raise fail(
            "scoring needs keys: the columns that identify a scored row",
            "scoring",
            hint="add keys: [customer_id] (for example) under scoring",
        )
    version = str(section.version)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*|[0-9]+", version):
        raise fail(
            f"scoring version '{version}' is neither an alias nor a version number",
            "scoring",
            "version",
            hint="e.g. champion, challenger or 3",
        )
    return Scoring(
        output=section.output or f"{name}_scores",
        keys=tuple(section.keys) if section.keys is not None else None,
        input=scored,
        version=version,
        incremental=section.incremental,
        schema=section.schema_,
    )
