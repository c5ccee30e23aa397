"""Pydantic models of the files a project is made of: `project.yml` and model property files.

These exist only to validate what users write; everything past the loader works with the frozen
dataclasses in `sqlml.project.types`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from sqlml.project.schedule import HINT as SCHEDULE_HINT
from sqlml.project.schedule import schedule_problem

Materialization = Literal["view", "table", "ephemeral", "incremental"]
IncrementalStrategy = Literal["append", "merge", "delete+insert", "time_range"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContractFile(_Strict):
    enforced: bool = False


def _check_schedule(value: str | None) -> str | None:
    """A valid schedule, stripped; else an error whose context carries the hint."""
    problem = None if value is None else schedule_problem(value.strip())
    if problem:
        raise PydanticCustomError(
            "schedule", "{problem}", {"problem": problem, "hint": SCHEDULE_HINT}
        )
    return None if value is None else value.strip()


class NodeConfigFile(_Strict):
    """Config a model may set in YAML, in `project.yml` (as `+key`) or with `{{ config() }}`."""

    materialized: Materialization | None = None
    schema_: str | None = Field(default=None, alias="schema")
    alias: str | None = None
    tags: list[str] | str | None = None
    enabled: bool | None = None
    description: str | None = None
    meta: dict[str, Any] | None = None
    contract: ContractFile | None = None
    # Incremental models (materialized: incremental); see docs/incremental.md.
    incremental_strategy: IncrementalStrategy | None = None
    unique_key: list[str] | str | None = None
    on_schema_change: Literal["ignore", "fail", "append_new_columns"] | None = None
    event_time: str | None = None
    batch_size: Literal["hour", "day", "month"] | None = None
    begin: datetime | date | None = None
    lookback: int | None = Field(default=None, ge=0)
    batches_per_query: int | None = Field(default=None, ge=1)
    schedule: str | None = None  # a cron expression or @hourly, @daily...; None: every run

    _valid_schedule = field_validator("schedule")(_check_schedule)


# A data test as written in YAML: `not_null`, or `{accepted_values: {values: [...], config: ...}}`.
DataTestEntry = str | dict[str, dict[str, Any] | None]


class SeedConfigFile(_Strict):
    schema_: str | None = Field(default=None, alias="schema")
    alias: str | None = None
    tags: list[str] | str | None = None
    enabled: bool | None = None
    column_types: dict[str, str] = {}
    delimiter: str | None = None
    meta: dict[str, Any] | None = None


class Period(_Strict):
    count: int = Field(ge=1)
    period: Literal["minute", "hour", "day"]


class FreshnessFile(_Strict):
    warn_after: Period | None = None
    error_after: Period | None = None


class DuckDBSourceFile(_Strict):
    path: str
    table: str | None = None
    query: str | None = None


class DatabaseSourceFile(_Strict):
    """A SQLite file (``path``) or a PostgreSQL server (``uri``), read through ADBC."""

    path: str | None = None
    uri: str | None = None
    table: str | None = None
    query: str | None = None


class PythonSourceFile(_Strict):
    function: str  # "package.module:function"
    args: dict[str, Any] = {}


class TargetFile(_Strict):
    type: Literal["duckdb"] = "duckdb"
    path: str = "warehouse.duckdb"
    schema_: str = Field(default="main", alias="schema")
    threads: int | None = Field(default=None, ge=1)


class PathsFile(_Strict):
    models: list[str] = ["models"]
    macros: list[str] = ["macros"]
    seeds: list[str] = ["seeds"]
    data_tests: list[str] = ["data_tests"]
    snapshots: list[str] = ["snapshots"]
    features: list[str] = ["features"]  # feature views: SQL files and their YAML
    ml: list[str] = ["ml"]  # ML specs: <name>.yml, with an optional <name>.sql training query
    monitors: list[str] = ["monitors"]
    target: str = "target"


class MonitoringFile(_Strict):
    """Project-wide monitor settings (see docs/monitoring.md)."""

    webhook: str | None = None  # where alerts are POSTed, unless a monitor names its own
    fail_on: Literal["error", "warn", "never"] = "error"  # what fails the run (exit code 1)
    retrain: Literal["same_run", "next_run"] = "same_run"  # when a requested retraining runs


class ProjectFile(_Strict):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    target: str = "dev"
    targets: dict[str, TargetFile] = {"dev": TargetFile()}
    vars: dict[str, Any] = {}
    paths: PathsFile = PathsFile()
    state_schema: str = "_sqlml"
    failures_schema: str = "_sqlml_failures"  # where data tests store their failing rows
    # Seconds a writing command waits for another to finish with the warehouse.
    lock_timeout: float = Field(default=60.0, ge=0)
    # Per-folder defaults: "+key" entries are config, other keys are sub-folders.
    models: dict[str, Any] = {}
    snapshots: dict[str, Any] = {}  # the same, for the snapshot folders
    monitoring: MonitoringFile = MonitoringFile()


class ColumnFile(_Strict):
    name: str
    description: str | None = None
    data_type: str | None = None
    data_tests: list[DataTestEntry] = []


class ModelPropertiesFile(_Strict):
    name: str
    description: str | None = None
    config: NodeConfigFile = NodeConfigFile()
    columns: list[ColumnFile] = []
    data_tests: list[DataTestEntry] = []


class SeedPropertiesFile(_Strict):
    name: str
    description: str | None = None
    config: SeedConfigFile = SeedConfigFile()
    columns: list[ColumnFile] = []
    data_tests: list[DataTestEntry] = []


class SourceTableFile(_Strict):
    """One landed table. At most one of file/duckdb/sqlite/postgres/python says where from;
    with none, the table is expected to exist in the warehouse already."""

    name: str
    description: str | None = None
    identifier: str | None = None  # the landed table's name (default: name)
    file: str | None = None  # a path or glob, relative to the project
    format: Literal["csv", "parquet", "json", "ndjson"] | None = None
    options: dict[str, Any] = {}
    hive_partitioning: bool | None = None
    duckdb: DuckDBSourceFile | None = None
    sqlite: DatabaseSourceFile | None = None
    postgres: DatabaseSourceFile | None = None
    python: PythonSourceFile | None = None
    columns: list[ColumnFile] = []
    data_tests: list[DataTestEntry] = []
    loaded_at: str | None = None
    freshness: FreshnessFile | None = None
    tags: list[str] = []
    schedule: str | None = None  # when to land it again (default: the source's, else every run)

    _valid_schedule = field_validator("schedule")(_check_schedule)


class SourceFile(_Strict):
    name: str
    description: str | None = None
    schema_: str | None = Field(default=None, alias="schema")  # default: the source's name
    loaded_at: str | None = None
    freshness: FreshnessFile | None = None
    tags: list[str] = []
    schedule: str | None = None
    tables: list[SourceTableFile] = []

    _valid_schedule = field_validator("schedule")(_check_schedule)


class UnitTestInputFile(_Strict):
    input: str  # "ref('name')" or "source('src', 'table')"
    rows: list[dict[str, Any]] = []


class UnitTestExpectFile(_Strict):
    rows: list[dict[str, Any]] = []


class UnitTestFile(_Strict):
    name: str
    model: str
    description: str | None = None
    given: list[UnitTestInputFile] = []
    expect: UnitTestExpectFile
    vars: dict[str, Any] = {}


class SnapshotConfigFile(_Strict):
    """Config of a snapshot (a type 2 slowly changing dimension), in YAML or `config()`."""

    unique_key: str | list[str] | None = None
    strategy: Literal["timestamp", "check"] | None = None
    updated_at: str | None = None  # timestamp strategy: the column that says a row changed
    check_cols: list[str] | Literal["all"] | None = None  # check strategy: columns compared
    hard_deletes: Literal["ignore", "invalidate"] | None = None
    schema_: str | None = Field(default=None, alias="schema")
    alias: str | None = None
    tags: list[str] | str | None = None
    enabled: bool | None = None
    description: str | None = None
    meta: dict[str, Any] | None = None


class SnapshotPropertiesFile(_Strict):
    name: str
    description: str | None = None
    config: SnapshotConfigFile = SnapshotConfigFile()
    columns: list[ColumnFile] = []
    data_tests: list[DataTestEntry] = []


class FeatureViewFile(_Strict):
    """A feature view's YAML entry: which columns identify the entity and date each row."""

    name: str
    description: str | None = None
    entities: list[str] | str  # entity key column(s)
    timestamp: str  # event timestamp: from this time on, the row's values hold
    ttl: str | float | None = None  # "90 days", "12 hours", or seconds; none: never stale
    features: list[str] | None = None  # default: every column but the keys and timestamp
    schema_: str | None = Field(default=None, alias="schema")
    tags: list[str] = []
    meta: dict[str, Any] = {}
    columns: list[ColumnFile] = []


class FeatureViewsFile(_Strict):
    feature_views: list[FeatureViewFile] = []


class PropertiesFile(_Strict):
    version: int | None = None
    models: list[ModelPropertiesFile] = []
    snapshots: list[SnapshotPropertiesFile] = []
    seeds: list[SeedPropertiesFile] = []
    sources: list[SourceFile] = []
    unit_tests: list[UnitTestFile] = []


CONFIG_KEYS = (
    "materialized",
    "schema",
    "alias",
    "tags",
    "enabled",
    "description",
    "meta",
    "contract",
    "incremental_strategy",
    "unique_key",
    "on_schema_change",
    "event_time",
    "batch_size",
    "begin",
    "lookback",
    "batches_per_query",
    "schedule",
)
