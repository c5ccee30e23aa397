"""Seeds: CSV files under seeds/ loaded by `sqlml seed` (and run/build), read with ref()."""

from __future__ import annotations

from pathlib import Path

from sqlml import Context
from tests.data.helpers import invoke, statuses, timeless
from tests.projectfactory import MINIMAL_PROJECT, write_project
from tests.runner.helpers import Recorder, query, relations

CODES = {
    "project.yml": MINIMAL_PROJECT,
    "seeds/codes.csv": "code,zip,rate\n1,01234,0.2\n2,02345,0.1\n",
    "models/rated.sql": "select code, rate * 100 as pct from {{ ref('codes') }}",
}


def test_seed_loads_the_csv_and_nothing_else(tmp_path: Path) -> None:
    root = write_project(tmp_path, CODES)

    result = invoke(root, "seed", "--threads", "1")

    assert result.exit_code == 0, result.output
    assert timeless(result.stdout) == (
        "Seeding 1 node of project 'demo' on target 'dev' (warehouse.duckdb)\n"
        "1/1 OK    codes (table main.codes, 2 rows) in 0.00s\n"
        "Done in 0.00s: 1 succeeded, 0 failed, 0 skipped.\n"
    )
    assert query(root, "select * from main.codes order by code") == [
        (1, "01234", 0.2),
        (2, "02345", 0.1),
    ]
    assert relations(root) == {("main", "codes"): "table"}


def test_column_types_override_detection(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            **CODES,
            "seeds/_seeds.yml": """\
                seeds:
                  - name: codes
                    config:
                      column_types: {code: varchar, rate: "decimal(4, 2)"}
            """,
        },
    )
    detected = write_project(tmp_path / "detected", CODES)

    assert Context(root).seed().success
    assert Context(detected).seed().success

    types = "select column_name, column_type from (describe main.codes)"
    assert query(detected, types) == [("code", "BIGINT"), ("zip", "VARCHAR"), ("rate", "DOUBLE")]
    assert query(root, types) == [("code", "VARCHAR"), ("zip", "VARCHAR"), ("rate", "DECIMAL(4,2)")]
    assert query(root, "select code, rate::varchar from main.codes order by code") == [
        ("1", "0.20"),
        ("2", "0.10"),
    ]


def test_schema_and_delimiter_from_the_seed_config(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "seeds/regions.csv": "region;label\neu;Europe\nna;North America\n",
            "seeds/_seeds.yml": """\
                seeds:
                  - name: regions
                    config: {schema: reference, delimiter: ";"}
            """,
            "models/labels.sql": "select label from {{ ref('regions') }} order by region",
        },
    )

    assert Context(root).run().success

    assert query(root, "select * from reference.regions order by region") == [
        ("eu", "Europe"),
        ("na", "North America"),
    ]
    assert query(root, "select * from main.labels") == [("Europe",), ("North America",)]


def test_models_reading_a_seed_run_after_it(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            **CODES,
            "models/report.sql": "select count(*) as n from {{ ref('rated') }}",
        },
    )
    recorder = Recorder()

    result = Context(root, listener=recorder).run(threads=4)

    assert statuses(result) == {"codes": "success", "rated": "success", "report": "success"}
    assert recorder.position("finish", "codes") < recorder.position("start", "rated")
    assert query(root, "select * from main.rated order by code") == [(1, 20.0), (2, 10.0)]
    assert query(root, "select n from main.report") == [(2,)]


SEED_TESTS = """\
    seeds:
      - name: codes
        columns:
          - name: code
            data_tests: [unique, not_null]
          - name: zip
            data_tests:
              - accepted_values: {values: ["01234", "02345"]}
"""


def test_a_seed_described_in_yaml_gets_its_data_tests(tmp_path: Path) -> None:
    root = write_project(tmp_path, {**CODES, "seeds/_seeds.yml": SEED_TESTS})

    built = Context(root).build(threads=1)

    assert statuses(built) == {
        "codes": "success",
        "accepted_values_codes_zip_373a5dc3": "success",
        "not_null_codes_code": "success",
        "unique_codes_code": "success",
        "rated": "success",
    }

    write_project(root, {"seeds/codes.csv": "code,zip,rate\n1,01234,0.2\n1,09999,0.1\n"})
    assert Context(root).seed().success
    tested = Context(root).test(threads=1)

    assert statuses(tested) == {
        "accepted_values_codes_zip_373a5dc3": "error",
        "not_null_codes_code": "success",
        "unique_codes_code": "error",
    }
    assert query(root, "select * from _sqlml_failures.unique_codes_code") == [(1, 2)]
    assert query(root, "select * from _sqlml_failures.accepted_values_codes_zip_373a5dc3") == [
        ("09999", 1)
    ]


def test_a_seed_named_like_a_model_is_an_error(tmp_path: Path) -> None:
    root = write_project(tmp_path, {**CODES, "models/codes.sql": "select 1 as code"})

    result = invoke(root, "seed")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "Error: seeds/codes.csv: a model and a seed are both named 'codes': "
        "models/codes.sql and seeds/codes.csv\n"
        "hint: ref() could not tell them apart; rename one\n"
    )
    assert not (root / "warehouse.duckdb").exists()
