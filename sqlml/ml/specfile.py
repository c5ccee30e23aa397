"""Pydantic models of an ML spec file, `ml/<name>.yml`.

They exist only to validate what users write; everything past `load_spec` works with the frozen
dataclasses in `sqlml.ml.spec`. Loaded lazily, so importing `sqlml.ml` stays cheap.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeaturesFile(_Strict):
    include: list[str] | None = None  # default: every column but the target and split column
    exclude: list[str] = []
    categorical: list[str] = []  # overrides of the type inferred from the column
    numeric: list[str] = []


class ImputationFile(_Strict):
    numeric: Literal["median", "mean", "most_frequent", "zero"] = "median"
    # constant: a missing category of its own; most_frequent: the commonest category
    categorical: Literal["constant", "most_frequent"] = "constant"


class PreprocessingFile(_Strict):
    imputation: ImputationFile = ImputationFile()
    scaling: bool = True
    one_hot: bool = True  # false: ordinal codes (unknown categories become -1)


class EstimatorFile(_Strict):
    class_: str = Field(alias="class")
    params: dict[str, Any] = {}


class SplitFile(_Strict):
    method: Literal["random", "time", "group"] = "random"
    test_size: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 0
    column: str | None = None


class CvFile(_Strict):
    folds: int = Field(ge=2)


class RangeFile(_Strict):
    """A range searched at random: uniform, or log-uniform with ``log: true``."""

    low: float
    high: float
    log: bool = False
    integer: bool = False


class SearchFile(_Strict):
    method: Literal["grid", "random"] = "grid"
    params: dict[str, list[Any] | RangeFile]
    budget: int | None = Field(default=None, ge=1)
    metric: str | None = None  # default: the first of `metrics`


class ScoringFile(_Strict):
    """Where and how the champion's scores are written (`sqlml.ml.scorestep`)."""

    output: str | None = None  # the scores table (a node); default <model>_scores
    keys: list[str] | None = None  # default: the spine's keys
    input: str | None = None  # "ref('...')"; default: the latest features, or the relation
    version: str | int = "champion"  # an alias or a version number
    incremental: bool = True
    schema_: str | None = Field(default=None, alias="schema")


class MLSpecFile(_Strict):
    description: str | None = None
    owner: str
    relation: str | None = None  # "ref('training_set')"; else a spine and feature views
    spine: str | None = None
    as_of: str | None = None  # the spine's as-of time column
    keys: list[str] | None = None  # the spine's entity keys (default: the feature views')
    feature_views: list[str] = []
    target: str
    task: Literal["classification", "regression"]
    features: FeaturesFile = FeaturesFile()
    preprocessing: PreprocessingFile = PreprocessingFile()
    estimator: EstimatorFile
    split: SplitFile = SplitFile()
    cv: CvFile | None = None
    search: SearchFile | None = None
    metrics: list[str] | None = None  # default: by task
    gates: list[str] = []
    tags: list[str] = []
    meta: dict[str, Any] = {}
    monitors: list[dict[str, Any]] = []  # validated by sqlml.monitor.spec.load_monitor
    scoring: ScoringFile | None = None
