"""Which rows a drift, prediction drift or quality monitor compares its window with.

``reference: training`` (the default) is the watched model version's training profile, written
when the version was trained (`sqlml.monitor.profile.profile_training`). ``reference:
first_window`` is the first window the monitor judged: profiled by that run (bins fitted on
the window itself) and stored under the monitor's name in the same ``reference_profiles``,
``reference_bins`` tables and reference samples (its ``version`` says which model version
was watched then), and never changed afterwards. A later window is then compared with
the model's first day in production rather than with training rows that may not be
distributed like a single scoring window (monthly snapshots over history against one snapshot
of today). It outlives retraining on purpose: the rows a model is fed do not depend on its
version, and a reference that moved with every new champion would call a shift normal on the
very day a model retrained on it was promoted. `reset_first_window` forgets it, so the next
run freezes a new one.
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

    ``training``: the watched model version's training profile. ``first_window``: the profile
    of the first window this monitor judged, stored under the monitor's name the first time
    (every column of ``columns``, binned on the window itself, with the watched version), then
    read back unchanged; None when that first window has no rows, so nothing can be frozen.
    """
    if monitor.reference == "training":
        return training
    frozen = profile_versions(engine, schema, monitor.name)
    if frozen:
        return read_profile(engine, schema, monitor.name, frozen[0])
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
            hint="the column was not in the window when the reference was frozen; freeze a new "
            f"one from the next window: `sqlml monitor -s {monitor.name} --reset-reference`",
        )
    return column


def reset_first_window(engine: Engine, schema: str, monitor: str) -> int:
    """Forget the first-window reference of ``monitor`` (so its next run freezes a new one);
    returns the number of columns it had."""
    from sqlml.monitor.profile import ensure_profile_tables
    from sqlml.monitor.sample import delete_samples
    from sqlml.monitor.sqltext import quote

    ensure_profile_tables(engine, schema)
    s = quote(schema)
    (columns,) = engine.execute(
        f"select count(*) from {s}.reference_profiles where profile = ?", [monitor]
    )[0]
    versions = profile_versions(engine, schema, monitor)
    engine.execute("begin transaction")
    try:
        for version in versions:
            delete_samples(engine, s, [monitor, version])
        for table in ("reference_profiles", "reference_bins"):
            engine.execute(f"delete from {s}.{table} where profile = ?", [monitor])
        engine.execute("commit")
    except BaseException:
        engine.execute("rollback")
        raise
    return int(columns)
