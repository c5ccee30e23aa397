"""Every ConfigError a project file can raise, with the exact text a user sees."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from sqlml.errors import ConfigError, Location
from sqlml.project import load_project
from tests.projectfactory import MINIMAL_PROJECT, write_project


def load_error(root: Path, files: Mapping[str, str], **kwargs: Any) -> ConfigError:
    write_project(root, files)
    with pytest.raises(ConfigError) as caught:
        load_project(root, **kwargs)
    return caught.value


def test_missing_project_file(tmp_path: Path) -> None:
    err = load_error(tmp_path, {"models/a.sql": "select 1 as x"})

    assert err.location is None
    assert err.render() == (
        f"no project.yml in {tmp_path.resolve()}\n"
        "hint: run sqlml from a project directory, pass --project-dir, "
        "or create one with `sqlml init NAME`"
    )


def test_unknown_key_in_project_file_suggests_the_right_one(tmp_path: Path) -> None:
    err = load_error(tmp_path, {"project.yml": "name: demo\ntagets:\n  dev: {}\n"})

    assert err.location == Location("project.yml", 2, 1)
    assert err.render() == (
        "project.yml:2:1: unknown key 'tagets'\nhint: did you mean 'targets' or 'target'?"
    )


def test_unknown_nested_key_names_its_full_path(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        {"project.yml": "name: demo\ntargets:\n  dev:\n    shema: x\n"},
    )

    assert err.render() == (
        "project.yml:4:5: unknown key 'targets.dev.shema'\nhint: did you mean 'schema'?"
    )


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/a.sql": "select 1",
            "models/s.yml": "metrics: []\n",
        },
    )

    assert err.render() == (
        "models/s.yml:1:1: unknown key 'metrics'\n"
        "hint: allowed keys here: models, seeds, snapshots, sources, unit_tests, version"
    )


def test_unknown_folder_config_key_suggests_the_right_one(tmp_path: Path) -> None:
    project_yml = """\
        name: demo
        models:
          staging:
            +materialzed: view
    """
    err = load_error(tmp_path, {"project.yml": project_yml})

    assert err.location == Location("project.yml", 4, 5)
    assert err.render() == (
        "project.yml:4:5: unknown config key 'models.staging.+materialzed'\n"
        "hint: did you mean '+materialized' or '+enabled'?"
    )


def test_folder_config_must_be_a_mapping(tmp_path: Path) -> None:
    err = load_error(tmp_path, {"project.yml": "name: demo\nmodels:\n  staging: view\n"})

    assert err.render() == (
        "project.yml:3:3: 'models.staging' must be a mapping of folder names and +config keys"
    )


def test_invalid_folder_config_value_points_at_the_plus_key(tmp_path: Path) -> None:
    project_yml = """\
        name: demo
        models:
          staging:
            +materialized: tabel
    """
    err = load_error(tmp_path, {"project.yml": project_yml})

    assert err.location == Location("project.yml", 4, 5)
    assert err.render() == (
        "project.yml:4:5: invalid value for 'models.staging.+materialized': "
        "Input should be 'view', 'table', 'ephemeral' or 'incremental'"
    )


def test_unknown_key_in_properties_file(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/orders.sql": "select 1 as x",
            "models/schema.yml": "models:\n  - name: orders\n    descripton: Orders.\n",
        },
    )

    assert err.location == Location("models/schema.yml", 3, 5)
    assert err.render() == (
        "models/schema.yml:3:5: unknown key 'models.0.descripton'\n"
        "hint: did you mean 'description'?"
    )


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "    config:\n      materialised: view\n",
            "models/schema.yml:4:7: unknown key 'models.0.config.materialised'\n"
            "hint: did you mean 'materialized'?",
        ),
        (
            "    columns:\n      - name: x\n        data_typ: int\n",
            "models/schema.yml:5:9: unknown key 'models.0.columns.0.data_typ'\n"
            "hint: did you mean 'data_type' or 'data_tests'?",
        ),
        (
            "    config:\n      enabled: maybe\n",
            "models/schema.yml:4:7: invalid value for 'models.0.config.enabled': "
            "Input should be a valid boolean, unable to interpret input",
        ),
    ],
    ids=["config-key", "column-key", "config-value"],
)
def test_nested_problems_in_properties_file(tmp_path: Path, entry: str, expected: str) -> None:
    err = load_error(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/orders.sql": "select 1 as x",
            "models/schema.yml": "models:\n  - name: orders\n" + entry,
        },
    )

    assert err.render() == expected


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"project.yml": "name: demo\nvars:\n  a: [1, 2\n  b: 3\n"},
            "project.yml:4:4: invalid YAML: did not find expected ',' or ']'",
        ),
        (
            {"project.yml": "name: demo\nvars:\n  a: 1\n   b: 2\n"},
            "project.yml:4:5: invalid YAML: mapping values are not allowed in this context",
        ),
        (
            {
                "project.yml": MINIMAL_PROJECT,
                "models/a.sql": "select 1",
                "models/s.yml": "models:\n  - name: a\n\tdescription: x\n",
            },
            "models/s.yml:3:1: invalid YAML: found a tab character that violates indentation",
        ),
    ],
    ids=["unclosed-list", "bad-indent", "tab"],
)
def test_invalid_yaml_syntax_has_line_and_column(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    err = load_error(tmp_path, files)

    assert err.render() == expected + "\nhint: check the indentation and quoting on that line"


@pytest.mark.parametrize(
    ("target_yml", "expected"),
    [
        (
            "    threads: many\n",
            "project.yml:4:5: invalid value for 'targets.dev.threads': "
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            "    threads: 0\n",
            "project.yml:4:5: invalid value for 'targets.dev.threads': "
            "Input should be greater than or equal to 1",
        ),
        (
            "    type: postgres\n",
            "project.yml:4:5: invalid value for 'targets.dev.type': Input should be 'duckdb'",
        ),
    ],
    ids=["threads-word", "threads-zero", "type"],
)
def test_wrong_type_names_key_and_line(tmp_path: Path, target_yml: str, expected: str) -> None:
    err = load_error(tmp_path, {"project.yml": "name: demo\ntargets:\n  dev:\n" + target_yml})

    assert err.render() == expected


def test_unknown_default_target_points_at_the_target_key(tmp_path: Path) -> None:
    err = load_error(tmp_path, {"project.yml": "name: demo\ntarget: prod\n"})

    assert err.location == Location("project.yml", 2, 1)
    assert err.render() == "project.yml:2:1: unknown target 'prod'\nhint: defined targets: dev"


def test_unknown_target_argument_suggests_a_close_one(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        {"project.yml": "name: demo\ntargets:\n  dev: {}\n  prod: {}\n"},
        target="prd",
    )

    # The name came from the command line, so there is no place in a file to point at.
    assert err.location is None
    assert err.render() == "unknown target 'prd'\nhint: did you mean 'prod'?"


def test_duplicate_model_names(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/orders.sql": "select 1 as x",
            "models/marts/orders.sql": "select 2 as x",
        },
    )

    assert err.render() == (
        "models/orders.sql: two models are named 'orders': "
        "models/marts/orders.sql and models/orders.sql\n"
        "hint: model names must be unique across the project; rename one file"
    )


def test_properties_for_a_model_without_sql_file_suggests_a_name(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/orders.sql": "select 1 as x",
            "models/schema.yml": "models:\n  - name: orders\n  - name: order\n",
        },
    )

    # Points at the entry that names the missing model, not at the top of the file.
    assert err.location == Location("models/schema.yml", 3, 5)
    assert err.render() == (
        "models/schema.yml:3:5: properties for model 'order', which has no SQL file\n"
        "hint: did you mean 'orders'?"
    )


def test_properties_for_a_model_without_sql_file_and_no_close_name(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/orders.sql": "select 1 as x",
            "models/schema.yml": "models:\n  - name: zzz\n",
        },
    )

    assert err.message == "properties for model 'zzz', which has no SQL file"
    assert err.hint == "create a file named zzz.sql"


def test_model_described_twice_in_one_file(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/a.sql": "select 1 as x",
            "models/schema.yml": "models:\n  - name: a\n  - name: a\n",
        },
    )

    assert err.render() == (
        "models/schema.yml:3:5: model 'a' is described twice in this file\n"
        "hint: merge the two entries"
    )


def test_model_described_in_two_files(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        {
            "project.yml": MINIMAL_PROJECT,
            "models/a.sql": "select 1 as x",
            "models/a.yml": "models:\n  - name: a\n",
            "models/b.yml": "models:\n  - name: a\n",
        },
    )

    assert err.render() == (
        "models/b.yml:2:5: model 'a' is described twice: in models/a.yml and models/b.yml\n"
        "hint: keep one properties entry per model"
    )
