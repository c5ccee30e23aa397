"""The loaded project: validated configuration and the source text of every node."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlml.ml.spec import MLSpec


@dataclass(frozen=True)
class IncrementalConfig:
    """How an incremental model adds new rows to its table (see docs/incremental.md).

    ``strategy`` is "append", "merge" (update rows whose ``unique_key`` matches, insert the
    rest), "delete+insert" (replace every row whose key appears in the new rows) or
    "time_range" (rebuild whole batches of ``event_time``, tracked as intervals).
    """

    strategy: str = "append"
    unique_key: tuple[str, ...] = ()
    on_schema_change: str = "ignore"  # or "fail", "append_new_columns"
    event_time: str | None = None
    batch_size: str = "day"  # "hour", "day" or "month"
    begin: datetime | None = None  # naive UTC: the first batch starts here
    lookback: int = 0  # batches before the newest done one that every run redoes
    batches_per_query: int | None = None  # None: contiguous batches run as one query


@dataclass(frozen=True)
class NodeConfig:
    """A node's effective configuration after every level of defaults is applied."""

    materialized: str = "table"
    schema: str | None = None
    alias: str | None = None
    tags: tuple[str, ...] = ()
    enabled: bool = True
    meta: Mapping[str, Any] = field(default_factory=dict)
    contract: bool = False  # enforce the declared columns and types on every build
    incremental: IncrementalConfig | None = None  # set when materialized is "incremental"
    schedule: str | None = None  # cron expression or alias (UTC); None: built on every run


@dataclass(frozen=True)
class Target:
    """Where the project builds: a warehouse connection and its default schema."""

    name: str
    type: str
    path: Path
    schema: str
    threads: int | None = None
    database: str = ""  # the catalog name the engine gives the warehouse


@dataclass(frozen=True)
class Column:
    name: str
    description: str | None = None
    data_type: str | None = None


@dataclass(frozen=True)
class DataTest:
    """A data test as declared: a YAML entry on a node or one of its columns, or a SQL file.

    ``entry`` is the YAML entry as written (``"not_null"`` or ``{"accepted_values": {...}}``),
    validated by the compiler; ``key_path`` locates it in ``path`` for error messages.
    Singular tests (SQL files returning failing rows) have ``entry`` None and ``sql`` set.
    """

    attached_to: str  # the tested node; "" for singular tests (their SQL says what they read)
    column: str | None
    path: str
    entry: Any = None
    key_path: tuple[str | int, ...] = ()
    sql: str | None = None
    name: str | None = None  # singular tests: the file's stem


@dataclass(frozen=True)
class SeedSource:
    """A CSV file loaded as a table."""

    name: str
    path: str
    schema: str | None = None
    alias: str | None = None
    tags: tuple[str, ...] = ()
    enabled: bool = True
    column_types: Mapping[str, str] = field(default_factory=dict)
    delimiter: str | None = None
    description: str | None = None
    columns: tuple[Column, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Freshness:
    """How old the newest `loaded_at` value may be, in seconds, before a warning or an error."""

    warn_after_s: float | None = None
    error_after_s: float | None = None


@dataclass(frozen=True)
class SourceTable:
    """A table landed from outside (a file, a database, a Python function) or already there.

    ``loader`` is "file", "duckdb", "sqlite", "postgres", "python" or None (the table exists
    in the warehouse already); ``settings`` holds the loader's keys from YAML.
    """

    source: str
    name: str
    schema: str
    identifier: str
    loader: str | None
    settings: Mapping[str, Any]
    path: str  # the properties file declaring it
    line: int = 0
    columns: tuple[Column, ...] = ()
    loaded_at: str | None = None
    freshness: Freshness | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    schedule: str | None = None  # as for models: when to land it again; None: every run

    @property
    def node_name(self) -> str:
        return f"{self.source}.{self.name}"


@dataclass(frozen=True)
class UnitTest:
    """Given rows for a model's inputs, the rows the model must return."""

    name: str
    model: str
    given: tuple[tuple[str, tuple[Mapping[str, Any], ...]], ...]  # (input, rows)
    expect: tuple[Mapping[str, Any], ...]
    vars: Mapping[str, Any]
    path: str
    line: int = 0
    description: str | None = None


@dataclass(frozen=True)
class ModelSource:
    """One SQL model as found on disk, with configuration from YAML and folder defaults.

    ``config`` holds the raw keys gathered so far (folder defaults, then the properties file);
    the compiler adds the template's own ``config()`` call on top and validates the result.
    """

    name: str
    path: str  # project-relative, POSIX separators
    sql: str
    config: Mapping[str, Any]
    description: str | None = None
    columns: tuple[Column, ...] = ()
    properties_path: str | None = None


@dataclass(frozen=True)
class FeatureViewSource:
    """A feature view as found on disk: a SQL template (rendered like a model) and its YAML.

    Each row of the view says "from ``timestamp`` on, the entity with these ``keys`` had these
    feature values". ``features`` None means every column but the keys and the timestamp.
    """

    name: str
    path: str  # the SQL file, project-relative
    sql: str
    keys: tuple[str, ...]
    timestamp: str
    properties_path: str
    line: int = 0  # the YAML entry's line
    index: int = 0  # the entry's position under feature_views:
    ttl_s: float | None = None
    features: tuple[str, ...] | None = None
    schema: str | None = None
    tags: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    columns: tuple[Column, ...] = ()


@dataclass(frozen=True)
class MacroFile:
    path: str
    sql: str


@dataclass(frozen=True)
class Monitoring:
    """Project-wide monitor settings: the alert webhook, the monitor status that fails a run
    (``error``, ``warn``, ``never``), and when a requested retraining runs."""

    webhook: str | None = None
    fail_on: str = "error"
    retrain: str = "same_run"


@dataclass(frozen=True)
class Project:
    """Everything read from a project directory, validated, with no warehouse involved."""

    root: Path
    name: str
    target: Target
    vars: Mapping[str, Any]
    models: tuple[ModelSource, ...]
    macros: tuple[MacroFile, ...]
    target_dir: Path
    state_schema: str
    failures_schema: str
    # Hash of everything besides a model's own file that can change how it renders:
    # project.yml, properties files, macros, target and vars. Keys the render cache.
    environment_hash: str
    # Problems worth telling the user that do not stop anything (e.g. config for no folder).
    warnings: tuple[str, ...] = ()
    seeds: tuple[SeedSource, ...] = ()
    sources: tuple[SourceTable, ...] = ()
    data_tests: tuple[DataTest, ...] = ()
    unit_tests: tuple[UnitTest, ...] = ()
    lock_timeout: float = 60.0  # seconds a writing command waits for the warehouse
    # Snapshot templates: a select whose history is kept (config holds the snapshot keys).
    snapshots: tuple[ModelSource, ...] = ()
    feature_views: tuple[FeatureViewSource, ...] = ()
    ml_specs: tuple[MLSpec, ...] = ()  # one per ml/<name>.yml
    # ml/<name>.sql training queries, rendered like models (config is always empty).
    training_queries: tuple[ModelSource, ...] = ()
    monitoring: Monitoring = Monitoring()
    monitors: tuple[Any, ...] = ()  # MonitorSpec of every monitors/<name>.yml
