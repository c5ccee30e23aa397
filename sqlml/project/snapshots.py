"""Snapshot templates: SQL files under the snapshot folders, with config from YAML.

A snapshot is a select whose history sqlml keeps (a type 2 slowly changing dimension). Its
template is read like a model's; its config comes, weakest first, from the `snapshots:` tree
of project.yml, its entry under `snapshots:` in a properties file, then `{{ config() }}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlml.errors import ConfigError, Location, did_you_mean
from sqlml.project.inventory import Inventory
from sqlml.project.properties import Properties
from sqlml.project.types import Column, ModelSource, SeedSource
from sqlml.project.yamlfile import key_location


def find_snapshots(
    root: Path, folders: list[str], defaults: Mapping[str, Any], inventory: Inventory
) -> tuple[dict[str, ModelSource], list[Path]]:
    """The snapshot templates under ``folders`` with their folder defaults, and the
    properties files found beside them."""
    from sqlml.project.files import check_unique, file_stem, find_files, read_source, sort_paths
    from sqlml.project.folders import folder_config

    top = str(root)
    found: dict[str, ModelSource] = {}
    yml_paths: list[Path] = []
    for folder in folders:
        files = find_files(top, folder, (".sql", ".yml", ".yaml"), inventory, files_only={".sql"})
        for rel in files[".sql"]:
            name = file_stem(rel)
            hint = "snapshot names must be unique across the project; rename one file"
            check_unique("snapshot", name, rel, found, hint)
            below = Path(top, rel).parent.relative_to(Path(top, folder)).parts
            found[name] = ModelSource(
                name=name,
                path=rel,
                sql=read_source(top, rel, inventory),
                config=folder_config(defaults, below),
            )
        yml_paths += [root / rel for rel in sort_paths(files[".yml"] + files[".yaml"])]
    return found, yml_paths


def with_properties(
    root: Path,
    snapshots: dict[str, ModelSource],
    properties: Properties,
    models: Mapping[str, ModelSource],
    seeds: tuple[SeedSource, ...],
) -> tuple[ModelSource, ...]:
    """Lay each snapshot's properties entry over its folder defaults; check that no model or
    seed has its name (all three are read with ref())."""
    from sqlml.project.folders import merge_tags

    for name, (entry, display, index) in properties.snapshots.items():
        if name not in snapshots:
            raise ConfigError(
                f"properties for snapshot '{name}', which has no SQL file",
                location=key_location(root / display, display, ["snapshots", index, "name"]),
                hint=did_you_mean(name, snapshots)
                or f"create {name}.sql in a snapshot folder (paths.snapshots in project.yml)",
            )
        snapshot = snapshots[name]
        config = dict(snapshot.config)
        for key, value in entry.config.model_dump(by_alias=True, exclude_none=True).items():
            config[key] = merge_tags(config.get(key), value) if key == "tags" else value
        snapshots[name] = ModelSource(
            name=name,
            path=snapshot.path,
            sql=snapshot.sql,
            config=config,
            description=entry.description or entry.config.description,
            columns=tuple(Column(c.name, c.description, c.data_type) for c in entry.columns),
            properties_path=display,
        )
    others = {**{s.name: s.path for s in seeds}, **{m.name: m.path for m in models.values()}}
    for name, snapshot in snapshots.items():
        if name in others:
            raise ConfigError(
                f"a snapshot and a model or seed are both named '{name}': "
                f"{others[name]} and {snapshot.path}",
                location=Location(snapshot.path),
                hint="ref() could not tell them apart; rename one",
            )
    return tuple(snapshots[name] for name in sorted(snapshots))
