"""Exports written to CSV and Parquet files, whole or only changed rows; their config errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as csv
import pyarrow.parquet as parquet
import pytest

from sqlml import Context
from sqlml.errors import ConfigError, GraphError
from tests.export.helpers import ROWS, scores_csv, shop


def test_a_full_export_writes_the_filtered_table_to_csv(tmp_path: Path) -> None:
    root = shop(
        tmp_path,
        """\
        relation: ref('scores')
        columns: [customer_id, risk]
        where: risk >= 0.5
        to: {file: {path: out/risky.csv}}
        """,
    )

    result = Context(root).run()

    assert result.success
    table = csv.read_csv(root / "out" / "risky.csv")
    assert table.to_pylist() == [{"customer_id": i, "risk": r} for i, r, _ in ROWS if r >= 0.5]
    assert sorted(p.name for p in (root / "out").iterdir()) == ["risky.csv"]  # no temporary left
    assert next(r for r in result.results if r.node == "risky").message == (
        "6 rows to out/risky.csv"
    )


def test_changed_rows_go_to_a_new_parquet_file_each_time(tmp_path: Path) -> None:
    root = shop(
        tmp_path,
        """\
        relation: ref('scores')
        mode: changed
        key: [customer_id]
        to: {file: {path: "out/scores_{timestamp}.parquet"}}
        """,
    )
    assert Context(root).run().success
    assert Context(root).run().success  # nothing changed: no file
    (root / "data" / "scores.csv").write_text(scores_csv([*ROWS[:9], (10, 0.0, "c10 calm")]))
    assert Context(root).run().success

    files = sorted((root / "out").iterdir())
    assert len(files) == 2
    assert parquet.read_table(files[0]).num_rows == 10
    assert parquet.read_table(files[1]).to_pylist() == [
        {"customer_id": 10, "risk": 0.0, "name": "c10 calm"}
    ]


def test_an_export_runs_after_its_parent_and_selects_like_any_node(tmp_path: Path) -> None:
    root = shop(tmp_path, "relation: ref('scores')\nto: {file: {path: out/all.csv}}\n")

    nodes = Context(root).ls(["scores+"])

    assert [(n.name, n.kind) for n in nodes] == [("scores", "model"), ("risky", "export")]


def test_a_changed_export_needs_a_unique_key(tmp_path: Path) -> None:
    root = shop(
        tmp_path,
        "relation: ref('scores')\nmode: changed\nkey: risk\nto: {file: {path: out/x.csv}}\n",
        rows=[(1, 0.5, "a"), (2, 0.5, "b")],
    )

    risky = next(r for r in Context(root).run().results if r.node == "risky")

    assert risky.status == "error"
    assert "key (risk) is not unique: [0.5] appears more than once" in (risky.message or "")


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (
            "relation: ref('scores')\nmode: changed\nto: {file: {path: a.csv}}\n",
            ConfigError,
            "exports/risky.yml:2:1: mode: changed needs a key to tell rows apart",
        ),
        (
            "relation: ref('scores')\nto: {}\n",
            ConfigError,
            "exports/risky.yml:2:1: say where to export with exactly one of to.file or to.http",
        ),
        (
            "relation: ref('scores')\nto: {file: {path: a.txt}}\n",
            ConfigError,
            "exports/risky.yml:2:13: cannot tell the format of 'a.txt'",
        ),
        (
            "relation: ref('socres')\nto: {file: {path: a.csv}}\n",
            GraphError,
            "exports/risky.yml: export 'risky' reads 'socres', which is not a model, seed or "
            "source of this project\nhint: did you mean 'scores'?",
        ),
    ],
)
def test_a_wrong_export_file_is_an_error_at_its_line(
    tmp_path: Path, text: str, error: type[Exception], message: str
) -> None:
    root = shop(tmp_path, text)

    with pytest.raises(error) as caught:
        Context(root).run()

    assert str(caught.value).startswith(message)
