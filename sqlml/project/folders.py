"""Folder config in project.yml: the `models:` and `snapshots:` trees, whose `+key` entries
are config defaults for the files below that folder and whose other keys are folders."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlml.errors import ConfigError, did_you_mean
from sqlml.project.inventory import Inventory
from sqlml.project.yamlfile import key_location, validate

PROJECT_FILE = "project.yml"


def check_folder_config(
    tree: Mapping[str, Any], project_path: Path, top: str = "models"
) -> Mapping[str, Any]:
    """Validate a folder tree of project.yml (`models:` or `snapshots:`): `+key` entries are
    config, others folders."""
    from pydantic import BaseModel

    from sqlml.project.schema import NodeConfigFile, SnapshotConfigFile

    schema: type[BaseModel] = SnapshotConfigFile if top == "snapshots" else NodeConfigFile

    def walk(node: Any, key_path: list[str]) -> None:
        if not isinstance(node, Mapping):
            raise ConfigError(
                f"'{'.'.join(key_path)}' must be a mapping of folder names and +config keys",
                location=key_location(project_path, PROJECT_FILE, key_path),
            )
        config = {k[1:]: v for k, v in node.items() if str(k).startswith("+")}
        for key in config:
            if key not in schema.model_fields and key != "schema":
                raise ConfigError(
                    f"unknown config key '{'.'.join([*key_path, '+' + key])}'",
                    location=key_location(project_path, PROJECT_FILE, [*key_path, "+" + key]),
                    hint=did_you_mean(
                        "+" + key,
                        [
                            "+" + f.alias if f.alias else "+" + n
                            for n, f in schema.model_fields.items()
                        ],
                    ),
                )
        validate(schema, config, project_path, PROJECT_FILE, prefix=key_path, key_prefix="+")
        for key, value in node.items():
            if not str(key).startswith("+"):
                walk(value, [*key_path, str(key)])

    walk(tree, [top])
    return tree


def unused_folders(
    tree: Mapping[str, Any],
    root: Path,
    models_dirs: list[str],
    project_path: Path,
    inventory: Inventory,
) -> list[str]:
    """Folder entries of the `models:` tree that match no folder: most likely a typo."""
    warnings = []

    def walk(node: Mapping[str, Any], folders: list[str]) -> None:
        for key, value in node.items():
            if str(key).startswith("+") or not isinstance(value, Mapping):
                continue
            path = [*folders, str(key)]
            candidates = [(root / d).joinpath(*path) for d in models_dirs]
            for candidate in candidates:
                inventory.note(str(candidate))
            if any(candidate.is_dir() for candidate in candidates):
                walk(value, path)
                continue
            parent = [root / d / Path(*folders) for d in models_dirs]
            for folder in parent:
                inventory.note(str(folder))
            siblings = [p.name for d in parent if d.is_dir() for p in d.iterdir() if p.is_dir()]
            where = key_location(project_path, PROJECT_FILE, ["models", *path])
            hint = did_you_mean(str(key), siblings)
            warnings.append(
                f"{where}: config for folder 'models.{'.'.join(path)}' matches no folder"
                + (f"; {hint}" if hint else "")
            )

    walk(tree, [])
    return warnings


def folder_config(tree: Mapping[str, Any], folders: tuple[str, ...]) -> dict[str, Any]:
    """Collect `+key` defaults from the project root down the model's folders; deeper wins."""
    config: dict[str, Any] = {}
    node: Any = tree
    for level in (None, *folders):
        if level is not None:
            node = node.get(level) if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping):
            break
        for key, value in node.items():
            if str(key).startswith("+"):
                name = key[1:]
                config[name] = merge_tags(config.get(name), value) if name == "tags" else value
    return config


def merge_tags(existing: Any, new: Any) -> list[str]:
    """Tags accumulate across levels, like dbt: a folder's tags plus the model's own."""
    out: list[str] = []
    for value in (existing, new):
        if value is None:
            continue
        for tag in [value] if isinstance(value, str) else value:
            if tag not in out:
                out.append(tag)
    return out
