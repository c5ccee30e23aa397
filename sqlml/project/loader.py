"""Load a project directory into a validated, immutable `Project`."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlml.errors import ConfigError, Location, did_you_mean
from sqlml.project.files import check_unique, file_stem, find_files, read_source, sort_paths
from sqlml.project.folders import (
    PROJECT_FILE,
    check_folder_config,
    folder_config,
    merge_tags,
    unused_folders,
)
from sqlml.project.inventory import (
    INVENTORY_FILE,
    Inventory,
    inventory_key,
    load_inventory,
    save_inventory,
)
from sqlml.project.mlfiles import check_ml_names, load_feature_views, load_ml_specs
from sqlml.project.properties import Properties, read_properties
from sqlml.project.types import (
    Column,
    DataTest,
    FeatureViewSource,
    MacroFile,
    ModelSource,
    Monitoring,
    Project,
    SeedSource,
    Target,
)
from sqlml.project.yamlfile import key_location, read_text, read_yaml, validate

if TYPE_CHECKING:
    from sqlml.ml.spec import MLSpec


def load_project(
    root: str | os.PathLike[str],
    *,
    target: str | None = None,
    vars: Mapping[str, Any] | None = None,
) -> Project:
    """Read ``project.yml``, model SQL and properties files, and macros under ``root``.

    When no file has changed since the last load with the same target and vars, the project
    then loaded is returned (see `sqlml.project.inventory`).

    Args:
        root: the project directory.
        target: name of the target to use instead of the project's default.
        vars: values that override the project's ``vars``.

    Returns:
        The validated project. Raises ConfigError naming the file, key and fix on bad input.
    """
    root = Path(root).resolve()
    project_path = root / PROJECT_FILE
    if not project_path.is_file():
        raise ConfigError(
            f"no {PROJECT_FILE} in {root}",
            hint="run sqlml from a project directory, pass --project-dir, "
            "or create one with `sqlml init NAME`",
        )
    inventory = Inventory()
    inventory.note(str(project_path))
    project_file = project_path.read_bytes()
    raw = read_yaml(project_path, PROJECT_FILE)
    saved = _inventory_path(root, raw)
    key = inventory_key(root, project_file, target, sorted((vars or {}).items()))
    if saved is not None:
        project = load_inventory(saved, key)
        if project is not None:
            return project
    project = _load(root, raw, project_file, target, vars, inventory)
    if saved is not None:
        save_inventory(saved, key, inventory, project)
    return project


def _inventory_path(root: Path, raw: Any) -> Path | None:
    """Where the last load is kept: in the target folder, read off project.yml unvalidated."""
    paths = raw.get("paths", {}) if isinstance(raw, Mapping) else None
    folder = paths.get("target", "target") if isinstance(paths, Mapping) else None
    return root / folder / INVENTORY_FILE if isinstance(folder, str) and folder else None


def _load(
    root: Path,
    raw: Any,
    project_file: bytes,
    target: str | None,
    vars: Mapping[str, Any] | None,
    inventory: Inventory,
) -> Project:
    """Validate project.yml and read every file it points at, noting each in ``inventory``."""
    from sqlml.project.schema import ProjectFile

    project_path = root / PROJECT_FILE
    spec = validate(ProjectFile, raw, project_path, PROJECT_FILE)
    target_name = target or spec.target
    if target_name not in spec.targets:
        hint = did_you_mean(target_name, spec.targets) or (
            "defined targets: " + ", ".join(sorted(spec.targets))
        )
        where = key_location(project_path, PROJECT_FILE, ["target"]) if not target else None
        raise ConfigError(f"unknown target '{target_name}'", location=where, hint=hint)
    target_spec = spec.targets[target_name]
    folder_defaults = check_folder_config(spec.models, project_path)
    warnings = unused_folders(folder_defaults, root, spec.paths.models, project_path, inventory)

    digest = hashlib.sha256(project_file)
    digest.update(repr(sorted((vars or {}).items())).encode())
    digest.update(target_name.encode())

    models: dict[str, ModelSource] = {}
    yml_paths: list[Path] = []
    folder_configs: dict[str, dict[str, Any]] = {}
    top = str(root)
    for models_dir in spec.paths.models:
        found = find_files(
            top, models_dir, (".sql", ".yml", ".yaml"), inventory, files_only={".sql"}
        )
        for rel in found[".sql"]:
            name = file_stem(rel)
            hint = "model names must be unique across the project; rename one file"
            check_unique("model", name, rel, models, hint)
            folder = rel.rpartition("/")[0]
            config = folder_configs.get(folder)
            if config is None:
                # The folders below the models folder, as pathlib would split them.
                below = Path(top, folder).relative_to(Path(top, models_dir)).parts
                config = folder_configs[folder] = folder_config(folder_defaults, below)
            models[name] = ModelSource(
                name=name, path=rel, sql=read_source(top, rel, inventory), config=dict(config)
            )
        yml_paths += [root / rel for rel in sort_paths(found[".yml"] + found[".yaml"])]
    from sqlml.project.snapshots import find_snapshots, with_properties

    snapshot_defaults = check_folder_config(spec.snapshots, project_path, "snapshots")
    found_snapshots, snapshot_ymls = find_snapshots(
        root, spec.paths.snapshots, snapshot_defaults, inventory
    )
    yml_paths += snapshot_ymls
    for seed_dir in spec.paths.seeds:  # seeds may be described next to their CSV files
        found = find_files(top, seed_dir, (".yml", ".yaml"), inventory)
        yml_paths += [root / rel for rel in sort_paths(found[".yml"] + found[".yaml"])]
    for yml_path in yml_paths:
        inventory.note(str(yml_path))
    properties = read_properties(root, yml_paths)

    for name, (entry, display, index) in properties.models.items():
        if name not in models:
            raise ConfigError(
                f"properties for model '{name}', which has no SQL file",
                location=key_location(root / display, display, ["models", index, "name"]),
                hint=did_you_mean(name, models) or f"create a file named {name}.sql",
            )
        models[name] = _with_properties(models[name], entry, display)

    seeds = _seeds(root, spec.paths.seeds, properties, inventory)
    _check_names(models, seeds, properties)
    snapshots = with_properties(root, found_snapshots, properties, models, seeds)
    feature_views, ml_specs, training_queries = _ml_files(root, spec.paths, inventory)
    check_ml_names(models, seeds, feature_views, ml_specs, root)
    singular = _singular_tests(root, spec.paths.data_tests, inventory)

    monitors = _monitors(root, spec.paths.monitors, inventory)

    macros = []
    for macros_dir in spec.paths.macros:
        for rel in find_files(top, macros_dir, (".sql",), inventory)[".sql"]:
            inventory.note(top + "/" + rel)
            text = read_text(root / rel, rel)
            digest.update(text.encode())
            macros.append(MacroFile(rel, text))

    return Project(
        root=root,
        name=spec.name,
        target=Target(
            name=target_name,
            type=target_spec.type,
            path=Path(":memory:")
            if target_spec.path == ":memory:"
            else inventory.resolve(root / target_spec.path),
            schema=target_spec.schema_,
            threads=target_spec.threads,
            database=_catalog_name(target_spec.path),
        ),
        vars={**spec.vars, **(vars or {})},
        models=tuple(models[name] for name in sorted(models)),
        macros=tuple(macros),
        target_dir=root / spec.paths.target,
        state_schema=spec.state_schema,
        environment_hash=digest.hexdigest(),
        warnings=tuple(warnings),
        failures_schema=spec.failures_schema,
        lock_timeout=spec.lock_timeout,
        seeds=seeds,
        sources=tuple(properties.sources.values()),
        data_tests=(*properties.data_tests, *singular),
        unit_tests=tuple(properties.unit_tests.values()),
        snapshots=snapshots,
        feature_views=feature_views,
        ml_specs=ml_specs,
        training_queries=training_queries,
        monitoring=Monitoring(
            spec.monitoring.webhook, spec.monitoring.fail_on, spec.monitoring.retrain
        ),
        monitors=monitors,
    )


def _ml_files(
    root: Path, paths: Any, inventory: Inventory
) -> tuple[tuple[FeatureViewSource, ...], tuple[MLSpec, ...], tuple[ModelSource, ...]]:
    """Feature views under ``paths.features``; ML specs and training queries under ``paths.ml``."""
    top = str(root)
    sql_files: dict[str, str] = {}
    view_yml: list[str] = []
    for folder in paths.features:
        found = find_files(top, folder, (".sql", ".yml", ".yaml"), inventory, files_only={".sql"})
        for rel in found[".sql"]:
            sql_files[rel] = read_source(top, rel, inventory)
        view_yml += sort_paths(found[".yml"] + found[".yaml"])
    for rel in view_yml:
        inventory.note(top + "/" + rel)
    views = load_feature_views(root, sql_files, view_yml)
    spec_yml: list[str] = []
    for folder in paths.ml:
        found = find_files(top, folder, (".sql", ".yml", ".yaml"), inventory, files_only={".sql"})
        stems = {rel.rsplit(".", 1)[0] for rel in found[".yml"] + found[".yaml"]}
        for rel in found[".sql"]:
            if rel.removesuffix(".sql") not in stems:
                raise ConfigError(
                    f"training query {rel} has no ML spec next to it",
                    location=Location(rel),
                    hint=f"create {rel.removesuffix('.sql')}.yml (owner, target, task, "
                    "estimator), or move the file",
                )
        spec_yml += sort_paths(found[".yml"] + found[".yaml"])
    for rel in spec_yml:
        inventory.note(top + "/" + rel)
    specs, queries = load_ml_specs(root, spec_yml, lambda rel: read_source(top, rel, inventory))
    return views, specs, queries


def _catalog_name(path: str) -> str:
    """The catalog name DuckDB gives a database file (checked against duckdb 2.0).

    >>> [_catalog_name(p) for p in ["wh.v2.duckdb", ".hidden.duckdb", "main.duckdb", "w"]]
    ['wh', 'hidden', 'main_db', 'w']
    """
    if path == ":memory:":
        return "memory"
    name = Path(path).name.lstrip(".").split(".", 1)[0]
    return f"{name}_db" if name in {"main", "system", "temp"} else name


def _seeds(
    root: Path, seed_dirs: list[str], properties: Properties, inventory: Inventory
) -> tuple[SeedSource, ...]:
    """CSV files under the seed folders, with what properties files say about them."""
    found: dict[str, SeedSource] = {}
    for seed_dir in seed_dirs:
        for rel in find_files(str(root), seed_dir, (".csv",), inventory)[".csv"]:
            name = file_stem(rel)
            check_unique("seed", name, rel, found, "seed names must be unique; rename one file")
            found[name] = SeedSource(name=name, path=rel)
    for name, (entry, display, index) in properties.seeds.items():
        if name not in found:
            raise ConfigError(
                f"properties for seed '{name}', which has no CSV file",
                location=key_location(root / display, display, ["seeds", index, "name"]),
                hint=did_you_mean(name, found) or f"add seeds/{name}.csv",
            )
        config = entry.config
        tags = [config.tags] if isinstance(config.tags, str) else config.tags or []
        found[name] = SeedSource(
            name=name,
            path=found[name].path,
            schema=config.schema_,
            alias=config.alias,
            tags=tuple(tags),
            enabled=True if config.enabled is None else config.enabled,
            column_types=dict(config.column_types),
            delimiter=config.delimiter,
            description=entry.description,
            columns=tuple(Column(c.name, c.description, c.data_type) for c in entry.columns),
            meta=config.meta or {},
        )
    return tuple(found[name] for name in sorted(found) if found[name].enabled)


def _check_names(
    models: Mapping[str, ModelSource], seeds: tuple[SeedSource, ...], properties: Properties
) -> None:
    """Models and seeds share one namespace (both are read with ref())."""
    for seed in seeds:
        if seed.name in models:
            raise ConfigError(
                f"a model and a seed are both named '{seed.name}': "
                f"{models[seed.name].path} and {seed.path}",
                location=Location(seed.path),
                hint="ref() could not tell them apart; rename one",
            )


def _singular_tests(root: Path, test_dirs: list[str], inventory: Inventory) -> list[DataTest]:
    """SQL files returning failing rows, one test each."""
    tests = []
    for test_dir in test_dirs:
        found = find_files(str(root), test_dir, (".sql",), inventory, files_only={".sql"})
        for rel in found[".sql"]:
            sql = read_source(str(root), rel, inventory)
            tests.append(DataTest("", None, rel, sql=sql, name=file_stem(rel)))
    return tests


def _monitors(root: Path, dirs: list[str], inventory: Inventory) -> tuple[Any, ...]:
    """One monitor per ``monitors/<name>.yml``; ``<name>.sql`` beside it is a custom
    monitor's query."""
    from sqlml.monitor.spec import load_monitor

    monitors: dict[str, Any] = {}
    top = str(root)
    for folder in dirs:
        found = find_files(top, folder, (".yml", ".yaml", ".sql"), inventory, files_only={".sql"})
        queries = {rel.rsplit(".", 1)[0]: rel for rel in found[".sql"]}
        for rel in sort_paths(found[".yml"] + found[".yaml"]):
            inventory.note(top + "/" + rel)
            stem = rel.rsplit(".", 1)[0]
            query = queries.pop(stem, None)
            sql = read_source(top, query, inventory) if query else None
            monitor = load_monitor(
                read_yaml(root / rel, rel), path=root / rel, display=rel,
                default_name=file_stem(rel), sql=sql, sql_path=query,
            )  # fmt: skip
            hint = "monitor names must be unique; rename one"
            check_unique("monitor", monitor.name, rel, monitors, hint)
            monitors[monitor.name] = monitor
        for stem, query in queries.items():
            raise ConfigError(
                f"monitor query {query} has no {file_stem(query)}.yml beside it",
                location=Location(query),
                hint=f"create {stem}.yml with type: custom and its thresholds",
            )
    return tuple(monitors[name] for name in sorted(monitors))


def _with_properties(model: ModelSource, entry: Any, display: str) -> ModelSource:
    config = dict(model.config)
    for key, value in entry.config.model_dump(by_alias=True, exclude_none=True).items():
        config[key] = merge_tags(config.get(key), value) if key == "tags" else value
    return ModelSource(
        name=model.name,
        path=model.path,
        sql=model.sql,
        config=config,
        description=entry.description or entry.config.description,
        columns=tuple(Column(c.name, c.description, c.data_type) for c in entry.columns),
        properties_path=display,
    )
