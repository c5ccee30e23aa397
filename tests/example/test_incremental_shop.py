"""The example's incremental models: after `data/generate.py --append-day`, a run processes
only the new day, and ends with the tables a full refresh builds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from sqlml import Context
from tests.data.helpers import by_node
from tests.example.test_shop import PROJECT_FILES, ROOT
from tests.runner.helpers import query


def checksums(root: Path) -> dict[str, tuple[object, ...]]:
    return {
        name: query(root, f"select count(*), sum(hash(t)::hugeint) from {name} t")[0]
        for name in ("main.stg_events", "main.stg_orders", "marts.fct_orders")
    }


@pytest.mark.slow
def test_a_run_after_append_day_processes_only_the_new_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "shop"
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, root / name)
    # DuckDB tries a relative file path against the working directory before the project
    # folder: from the repository, data/raw/orders.csv would be the repository's own file.
    monkeypatch.chdir(root)
    assert Context(root).run().success
    (done,) = query(root, "select end_at from _sqlml.intervals where node = 'stg_events'")
    orders_before = query(root, "select count(*) from raw.orders")[0][0]

    generated = subprocess.run(
        [
            sys.executable,
            str(ROOT / "data/generate.py"),
            "--out",
            str(root / "data/raw"),
            "--append-day",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert generated.returncode == 0, generated.stderr
    result = Context(root).run()

    assert result.success
    day, next_day = done[0], done[0] + timedelta(days=1)  # the new day
    new_events = query(
        root,
        "select count(distinct event_id) from raw.events where occurred_at >= ? "
        "and occurred_at < ?",
        [f"{day:%Y-%m-%dT%H:%M:%SZ}", f"{next_day:%Y-%m-%dT%H:%M:%SZ}"],
    )[0][0]
    new_orders = query(root, "select count(*) from raw.orders")[0][0] - orders_before
    assert new_events > 0 and new_orders > 0
    assert by_node(result)["stg_events"].rows == new_events
    # The newest version already merged is merged again (updated_at >= the newest): +1 row.
    assert by_node(result)["stg_orders"].rows == new_orders + 1
    assert query(root, "select end_at from _sqlml.intervals where node = 'stg_events'") == [
        (next_day,)
    ]
    incremental = checksums(root)

    assert Context(root).run(full_refresh=True).success

    assert checksums(root) == incremental
