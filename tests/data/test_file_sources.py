"""File sources: CSV, Parquet and NDJSON read by DuckDB and landed in the source's schema."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sqlml import Context
from tests.data.helpers import by_node, invoke, message, statuses, timeless
from tests.projectfactory import write_project
from tests.runner.helpers import Recorder, query, relations

SOURCES = """\
    sources:
      - name: raw
        tables:
          - name: people
            file: "{{ var('raw') }}/people.csv"
            columns:
              - {name: id, data_type: bigint}
              - {name: name, data_type: varchar}
          - name: scores
            file: data/scores.parquet
          - name: events
            file: data/events/*/*.ndjson
            hive_partitioning: true
            columns:
              - {name: e, data_type: bigint}
              - {name: k, data_type: varchar}
      - name: crm
        schema: landing
        tables:
          - name: accounts
            identifier: crm_accounts
            file: data/accounts.csv
"""


def write_parquet(path: Path, sql: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as connection:
        connection.execute(f"copy ({sql}) to '{path}' (format parquet)")


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """A project landing one file of each format, with a model on each source."""
    root = write_project(
        tmp_path,
        {
            "project.yml": "name: demo\nvars:\n  raw: data\n",
            "models/_sources.yml": SOURCES,
            "data/people.csv": "id,name\n1,ann\n2,bob\n",
            "data/other/people.csv": "id,name\n7,zoe\n",
            "data/events/day=1/part.ndjson": '{"e": 1, "k": "x"}\n{"e": 2, "k": "y"}\n',
            "data/events/day=2/part.ndjson": '{"e": 3, "k": "z"}\n',
            "data/accounts.csv": "account,plan\nacme,pro\n",
            "models/people_count.sql": "select count(*) as n from {{ source('raw', 'people') }}",
            "models/score_total.sql": "select sum(s) as total from {{ source('raw', 'scores') }}",
            "models/events_per_day.sql": """\
                select day, count(*) as n
                from {{ source('raw', 'events') }}
                group by day
            """,
            "models/plans.sql": "select plan from {{ source('crm', 'accounts') }}",
        },
    )
    write_parquet(
        root / "data" / "scores.parquet",
        "select range::integer as s, 'v' || range as label from range(3)",
    )
    return root


def test_csv_parquet_and_ndjson_land_in_the_source_schema(raw: Path) -> None:
    result = Context(raw).run()

    assert result.success, [r.message for r in result.results if r.message]
    assert query(raw, "select * from raw.people order by id") == [(1, "ann"), (2, "bob")]
    assert query(raw, "select * from raw.scores order by s") == [(0, "v0"), (1, "v1"), (2, "v2")]
    assert query(raw, "select e, k, day from raw.events order by e") == [
        (1, "x", 1),
        (2, "y", 1),
        (3, "z", 2),
    ]
    assert query(raw, "select * from landing.crm_accounts") == [("acme", "pro")]
    assert query(raw, "select column_name, column_type from (describe raw.scores)") == [
        ("s", "INTEGER"),
        ("label", "VARCHAR"),
    ]
    assert relations(raw) == {
        ("raw", "people"): "table",
        ("raw", "scores"): "table",
        ("raw", "events"): "table",
        ("landing", "crm_accounts"): "table",
        ("main", "people_count"): "table",
        ("main", "score_total"): "table",
        ("main", "events_per_day"): "table",
        ("main", "plans"): "table",
    }


def test_models_read_sources_after_they_land(raw: Path) -> None:
    recorder = Recorder()

    assert Context(raw, listener=recorder).run(threads=4).success

    for source, model in [
        ("raw.people", "people_count"),
        ("raw.scores", "score_total"),
        ("raw.events", "events_per_day"),
        ("crm.accounts", "plans"),
    ]:
        assert recorder.position("finish", source) < recorder.position("start", model)
    assert query(raw, "select n from main.people_count") == [(2,)]
    assert query(raw, "select total from main.score_total") == [(3,)]
    assert query(raw, "select day, n from main.events_per_day order by day") == [(1, 2), (2, 1)]
    assert query(raw, "select plan from main.plans") == [("pro",)]


def test_the_file_path_may_use_a_var(raw: Path) -> None:
    result = invoke(raw, "run", "-s", "raw.people+", "--vars", "{raw: data/other}")

    assert result.exit_code == 0, result.output
    assert query(raw, "select * from raw.people") == [(7, "zoe")]
    assert query(raw, "select n from main.people_count") == [(1,)]
    compiled = raw / "target" / "compiled" / "sources" / "raw" / "people.sql"
    assert "'data/other/people.csv'" in compiled.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "corrupt", "where"),
    [
        ("data/people.csv", "id,name\n1,ann\n2,bob\nthree,carl\n", "CSV Error on Line: 4"),
        (
            "data/events/day=2/part.ndjson",
            '{"e": 3, "k": "z"}\n{"e": "four", "k": "w"}\n',
            "in line 2",
        ),
    ],
    ids=["csv", "ndjson"],
)
def test_a_malformed_row_fails_the_source_and_keeps_the_previous_table(
    raw: Path, file: str, corrupt: str, where: str
) -> None:
    assert Context(raw).run().success
    source = "raw.people" if file.endswith(".csv") else "raw.events"
    before = query(raw, f"select * from {source} order by all")
    write_project(raw, {file: corrupt})

    result = Context(raw).run()

    child = "people_count" if source == "raw.people" else "events_per_day"
    assert statuses(result) == {
        **dict.fromkeys(statuses(result), "success"),
        source: "error",
        child: "skipped",
    }
    assert by_node(result)[child].message == f"upstream '{source}' failed"
    error = message(result, source)
    assert f"source '{source}'" in error
    assert f"model '{source}'" not in error  # a source is not a model
    assert where in error
    assert query(raw, f"select * from {source} order by all") == before


def test_a_missing_file_fails_with_the_pattern_and_keeps_the_previous_table(raw: Path) -> None:
    assert Context(raw).run().success
    (raw / "data" / "people.csv").unlink()

    result = invoke(raw, "run", "-s", "raw.people+", "--threads", "1")

    assert result.exit_code == 1
    assert timeless(result.stdout) == (
        "Running 2 nodes of project 'demo' on target 'dev' (warehouse.duckdb)\n"
        "1/2 ERROR raw.people (table raw.people) in 0.00s\n"
        "2/2 SKIP  people_count (upstream 'raw.people' failed)\n"
        "Done in 0.00s: 0 succeeded, 1 failed, 1 skipped.\n"
    )
    # The declaration is what to fix: the error points at its line in the YAML file.
    assert result.stderr == (
        "Error: models/_sources.yml:4: source 'raw.people' failed: "
        'IO Error: No files found that match the pattern "data/people.csv"\n'
        "hint: check the declaration of 'raw.people' in models/_sources.yml\n"
    )
    assert query(raw, "select * from raw.people order by id") == [(1, "ann"), (2, "bob")]


def test_a_declared_type_the_data_does_not_have_keeps_the_previous_table(raw: Path) -> None:
    assert Context(raw).run().success
    write_project(
        raw,
        {
            "models/_sources.yml": SOURCES.replace(
                "            file: data/scores.parquet\n",
                "            file: data/scores.parquet\n"
                "            columns:\n"
                "              - {name: s, data_type: varchar}\n"
                "              - {name: label, data_type: varchar}\n"
                "              - {name: weight, data_type: double}\n",
            )
        },
    )
    write_parquet(
        raw / "data" / "scores.parquet", "select 5::integer as s, 'new' as label from range(4)"
    )

    result = Context(raw).run()

    assert statuses(result)["raw.scores"] == "error"
    assert statuses(result)["score_total"] == "skipped"
    assert statuses(result)["people_count"] == "success"
    error = message(result, "raw.scores")
    assert (
        "'raw.scores' does not match its declared columns: "
        "column 's' is INTEGER, declared VARCHAR; missing column 'weight'"
    ) in error
    assert "model 'raw.scores'" not in error
    assert query(raw, "select * from raw.scores order by s") == [(0, "v0"), (1, "v1"), (2, "v2")]
    assert query(raw, "select column_name from (describe raw.scores)") == [("s",), ("label",)]


def test_an_unknown_source_in_a_template_suggests_the_close_one(raw: Path) -> None:
    write_project(raw, {"models/score_total.sql": "select * from {{ source('raw', 'score') }}"})

    result = invoke(raw, "run", "--threads", "1")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: models/score_total.sql:1:15: unknown source source('raw', 'score') "
        "in model 'score_total'\n"
        "hint: did you mean 'raw.scores'?\n"
    )
    assert "raw.scores (table raw.scores, 3 rows)" in result.stdout
    assert ("main", "score_total") not in relations(raw)
    assert ("main", "people_count") in relations(raw)


def test_an_unknown_source_name_suggests_the_close_one(raw: Path) -> None:
    write_project(raw, {"models/plans.sql": "select * from {{ source('crn', 'accounts') }}"})

    result = Context(raw).run()

    assert statuses(result)["plans"] == "error"
    assert message(result, "plans") == (
        "models/plans.sql:1:15: unknown source source('crn', 'accounts') in model 'plans'\n"
        "hint: did you mean 'crm.accounts'?"
    )


def test_files_are_read_from_the_project_even_when_run_from_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB looks in the working directory first; sqlml must read the project's own files."""
    files = {
        "seeds/codes.csv": "code\n1\n",
        "data/people.csv": "id,name\n1,project\n",
    }
    root = write_project(
        tmp_path / "project",
        {
            "project.yml": "name: demo\n",
            "models/_sources.yml": "sources:\n  - name: raw\n    tables:\n"
            "      - name: people\n        file: data/people.csv\n",
            # The models' own file reads, as a function and as a replacement scan.
            "models/read.sql": "select id, name from read_csv(['data/people.csv'])",
            "models/scan.sql": "select id, name, 'data/people.csv' as file from 'data/people.csv'",
            **files,
        },
    )
    # A decoy folder with the same relative paths but other contents, as the working directory.
    decoy = write_project(
        tmp_path / "decoy",
        {"seeds/codes.csv": "code\n99\n", "data/people.csv": "id,name\n99,decoy\n"},
    )
    monkeypatch.chdir(decoy)

    result = invoke(root, "run", "--threads", "1")

    assert result.exit_code == 0, result.output
    assert query(root, "select * from main.codes") == [(1,)]
    assert query(root, "select id, name from raw.people") == [(1, "project")]
    assert query(root, "select * from main.read") == [(1, "project")]
    assert query(root, "select * from main.scan") == [(1, "project", "data/people.csv")]
