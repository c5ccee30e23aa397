"""Properties files (`models/**/*.yml`): what they say about models, seeds, sources and tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlml.errors import ConfigError, Location
from sqlml.project.types import Column, DataTest, Freshness, SourceTable, UnitTest
from sqlml.project.yamlfile import key_location, read_yaml, validate

_PERIOD_S = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}
_LOADERS = ("file", "duckdb", "sqlite", "postgres", "python")


@dataclass
class Properties:
    """Everything the properties files of a project declare, indexed by name."""

    models: dict[str, tuple[Any, str, int]] = field(default_factory=dict)  # entry, file, index
    seeds: dict[str, tuple[Any, str, int]] = field(default_factory=dict)
    snapshots: dict[str, tuple[Any, str, int]] = field(default_factory=dict)
    sources: dict[str, SourceTable] = field(default_factory=dict)
    unit_tests: dict[str, UnitTest] = field(default_factory=dict)
    data_tests: list[DataTest] = field(default_factory=list)


def read_properties(root: Path, paths: list[Path]) -> Properties:
    """Read and validate every properties file; duplicates across files are errors."""
    from sqlml.project.schema import PropertiesFile

    found = Properties()
    for path in paths:
        display = path.relative_to(root).as_posix()
        parsed = validate(PropertiesFile, read_yaml(path, display), path, display)
        groups: list[tuple[str, list[Any]]] = [
            ("models", parsed.models),
            ("seeds", parsed.seeds),
            ("snapshots", parsed.snapshots),
        ]
        for kind, entries in groups:
            index: dict[str, tuple[Any, str, int]] = getattr(found, kind)
            for i, entry in enumerate(entries):
                _unique(index, entry.name, display, path, [kind, i, "name"], kind[:-1])
                index[entry.name] = (entry, display, i)
                found.data_tests += _tests(entry, entry.name, display, [kind, i])
        for i, source in enumerate(parsed.sources):
            for j, table in enumerate(source.tables):
                declared = _source_table(source, table, display, path, ["sources", i, "tables", j])
                _unique(
                    found.sources,
                    declared.node_name,
                    display,
                    path,
                    ["sources", i, "tables", j, "name"],
                    "source table",
                )
                found.sources[declared.node_name] = declared
                found.data_tests += _tests(
                    table, declared.node_name, display, ["sources", i, "tables", j]
                )
        for i, test in enumerate(parsed.unit_tests):
            _unique(
                found.unit_tests, test.name, display, path, ["unit_tests", i, "name"], "unit test"
            )
            found.unit_tests[test.name] = UnitTest(
                name=test.name,
                model=test.model,
                given=tuple((g.input, tuple(g.rows)) for g in test.given),
                expect=tuple(test.expect.rows),
                vars=test.vars,
                path=display,
                line=key_location(path, display, ["unit_tests", i]).line,
                description=test.description,
            )
    return found


def _unique(
    index: Any, name: str, display: str, path: Path, key_path: list[Any], what: str
) -> None:
    if name in index:
        previous = index[name]
        where = previous[1] if isinstance(previous, tuple) else previous.path
        if where == display:
            raise ConfigError(
                f"{what} '{name}' is described twice in this file",
                location=key_location(path, display, key_path),
                hint="merge the two entries",
            )
        raise ConfigError(
            f"{what} '{name}' is described twice: in {where} and {display}",
            location=key_location(path, display, key_path),
            hint=f"keep one properties entry per {what}",
        )


def _tests(entry: Any, node: str, display: str, key_path: list[Any]) -> list[DataTest]:
    """The data tests declared on a node and on its columns."""
    tests = [
        DataTest(node, None, display, test, (*key_path, "data_tests", k))
        for k, test in enumerate(entry.data_tests)
    ]
    for j, column in enumerate(entry.columns):
        tests += [
            DataTest(node, column.name, display, test, (*key_path, "columns", j, "data_tests", k))
            for k, test in enumerate(column.data_tests)
        ]
    return tests


def _source_table(
    source: Any, table: Any, display: str, path: Path, key_path: list[Any]
) -> SourceTable:
    loaders = [name for name in _LOADERS if getattr(table, name) is not None]
    if len(loaders) > 1:
        raise ConfigError(
            f"source table '{source.name}.{table.name}' names {len(loaders)} places to load "
            f"from: {', '.join(loaders)}",
            location=key_location(path, display, key_path),
            hint="give exactly one of file, duckdb, sqlite, postgres or python",
        )
    loader = loaders[0] if loaders else None
    settings: dict[str, Any] = {}
    if loader == "file":
        settings = {
            "file": table.file,
            "format": table.format,
            "options": table.options,
            "hive_partitioning": table.hive_partitioning,
        }
    elif loader is not None:
        settings = getattr(table, loader).model_dump()
        if loader in ("duckdb", "sqlite", "postgres"):
            _one_of(
                settings,
                ("table", "query"),
                f"{source.name}.{table.name}",
                display,
                path,
                [*key_path, loader],
            )
        if loader in ("sqlite", "postgres"):
            needed = "path" if loader == "sqlite" else "uri"
            if not settings.get(needed):
                raise ConfigError(
                    f"source table '{source.name}.{table.name}': {loader} needs '{needed}'",
                    location=key_location(path, display, [*key_path, loader]),
                )
    elif table.format or table.options or table.hive_partitioning is not None:
        raise ConfigError(
            f"source table '{source.name}.{table.name}' sets format/options but no file",
            location=key_location(path, display, key_path),
            hint="add file: PATH_OR_GLOB",
        )
    freshness = table.freshness or source.freshness
    return SourceTable(
        source=source.name,
        name=table.name,
        schema=source.schema_ or source.name,
        identifier=table.identifier or table.name,
        loader=loader,
        settings=settings,
        path=display,
        line=key_location(path, display, key_path).line,
        columns=tuple(Column(c.name, c.description, c.data_type) for c in table.columns),
        loaded_at=table.loaded_at or source.loaded_at,
        freshness=None
        if freshness is None
        else Freshness(_seconds(freshness.warn_after), _seconds(freshness.error_after)),
        description=table.description or source.description,
        tags=tuple(dict.fromkeys([*source.tags, *table.tags])),
        schedule=table.schedule or source.schedule,
    )


def _one_of(
    settings: dict[str, Any],
    keys: tuple[str, str],
    name: str,
    display: str,
    path: Path,
    key_path: list[Any],
) -> None:
    given = [k for k in keys if settings.get(k)]
    if len(given) != 1:
        raise ConfigError(
            f"source table '{name}' needs exactly one of '{keys[0]}' or '{keys[1]}'",
            location=key_location(path, display, key_path),
            hint=f"{keys[0]}: to copy a whole table, {keys[1]}: to copy the result of a query",
        )


def _seconds(period: Any) -> float | None:
    return None if period is None else period.count * _PERIOD_S[period.period]


def entry_location(root: Path, test: DataTest) -> Location:
    """Where a data test is declared, for error messages."""
    return key_location(root / test.path, test.path, list(test.key_path))
