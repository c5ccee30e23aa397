"""Which rows a drift, prediction drift or quality monitor compares its window with.

``reference: training`` (the default) is the model version's training profile, written when
the version was trained (`sqlml.monitor.profile.profile_training`). ``reference:
first_window`` is the first window the monitor judged for the watched version: profiled then
(bins fitted on that window), stored under the monitor's name and the version in the same
``reference_profiles``/``reference_bins`` tables and reference samples, and never changed
afterwards, so a later window is compared with the model's first day in production rather
than with training rows that may not be distributed like a single scoring window (monthly
snapshots over history against one snapshot of today). A new model version freezes its own
first window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlml.engine.base import Engine
from sqlml.errors import ExecutionError
from sqlml.monitor.history import MetricResult
from sqlml.monitor.profile import (
    ColumnProfile,
    Profile,
    ProfileColumn,
    profile_versions,
    read_profile,
    write_profile,
)
from sqlml.monitor.spec import MonitorSpec, Threshold


def reference_profile(
    engine: Engine,
    schema: str,
    run_id: str | None,
    monitor: MonitorSpec,
    training: Profile,
    rows: str,
    columns: Sequence[ColumnProfile],
) -> Profile | None:
    """The profile ``monitor`` compares its window with (``reference:``).

    ``training``: the model version's training profile. ``first_window``: the profile of the
    first window this monitor judged for that version, stored under the monitor's name and
    the version the first time (every column of ``columns``, binned on the window itself), then
    read back unchanged; None when that first window has no rows, so nothing can be frozen.
    """
    if monitor.reference == "training":
        return training
    if training.version in profile_versions(engine, schema, monitor.name):
        return read_profile(engine, schema, monitor.name, training.version)
    (count,) = engine.execute(f"select count(*) from ({rows})")[0]
    if not count:
        return None
    return write_profile(
        engine, schema, profile=monitor.name, version=training.version, source_sql=rows,
        columns=[ProfileColumn(c.name, c.kind, c.role) for c in columns], run_id=run_id,
    )  # fmt: skip


def empty_window(start: datetime | None, end: datetime | None) -> MetricResult:
    """The figure of a first window without rows: skipped, nothing frozen."""
    return MetricResult(
        "rows", 0.0, "skipped", Threshold(), None, start, end, 0,
        "no rows in the window: the first window with rows becomes the reference",
    )  # fmt: skip


def frozen_column(monitor: MonitorSpec, profile: Profile, name: str) -> ColumnProfile:
    """Column ``name`` of the reference ``profile``; a clear error when it was not frozen."""
    column = profile.columns.get(name)
    if column is None:
        raise ExecutionError(
            f"monitor '{monitor.name}': its reference (profile '{profile.profile}' version "
            f"{profile.version}, frozen from its first window) has no column {name}",
            node=monitor.name,
            location=monitor.location,
            hint="the column was not in the window when the reference was frozen; a new model "
            "version freezes a new reference from its first window (`sqlml train <model>`)",
        )
    return column
