"""Export specs: `exports/<name>.yml`, one export per file, read and validated.

An export delivers its parent relation after the parent builds::

    relation: ref('high_risk_customers')
    mode: changed              # full (default): every row; changed: new or changed rows only
    key: [customer_id]         # identifies a row (required for changed)
    where: churn_probability >= 0.7
    to:
      file: {path: exports/high_risk_{timestamp}.csv}   # csv or parquet
      # or http: {url: "https://crm.example/import", headers: {...}, batch_size: 500}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlml.errors import ConfigError
from sqlml.project.yamlfile import key_location, read_yaml, validate

EXPORTS_DIR = "exports"
_REFERENCE = re.compile(
    r"""^\s*(ref|source)\(\s*(['"])([^'"]+)\2\s*(?:,\s*(['"])([^'"]+)\4\s*)?\)\s*$"""
)


@dataclass(frozen=True)
class FileTarget:
    path: str
    format: Literal["csv", "parquet"]


@dataclass(frozen=True)
class HttpTarget:
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    batch_size: int = 500
    retries: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    timeout_s: float = 10.0


@dataclass(frozen=True)
class ExportSpec:
    """A validated export. ``parent`` is the node it reads (a model, seed or ``source.table``)."""

    name: str
    path: str  # project-relative
    parent: str
    target: FileTarget | HttpTarget
    mode: Literal["full", "changed"] = "full"
    key: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None
    where: str | None = None
    description: str | None = None
    owner: str | None = None
    tags: tuple[str, ...] = ()
    enabled: bool = True


def load_exports(root: Path) -> list[ExportSpec]:
    """Every `exports/*.yml` of the project at ``root``, by name. Raises ConfigError at the
    offending line for unknown keys, wrong types, or a target that is not exactly one of
    file and http."""
    folder = root / EXPORTS_DIR
    if not folder.is_dir():
        return []
    return [
        load_export(path, path.relative_to(root).as_posix())
        for path in sorted(folder.iterdir())
        if path.suffix in (".yml", ".yaml") and path.is_file()
    ]


def load_export(path: Path, display: str) -> ExportSpec:
    """Read and validate one export file; its stem is the export's name."""
    from sqlml.export.exportfile import ExportFile

    file = validate(ExportFile, read_yaml(path, display), path, display)

    def fail(message: str, *key_path: str | int, hint: str) -> ConfigError:
        location = key_location(path, display, key_path)
        return ConfigError(message, node=path.stem, location=location, hint=hint)

    match = _REFERENCE.match(file.relation)
    if match is None or (match.group(1) == "source") != (match.group(5) is not None):
        raise fail(
            f"cannot read relation '{file.relation}'",
            "relation",
            hint="write ref('model_name') or source('source_name', 'table_name')",
        )
    parent = match.group(3) if match.group(5) is None else f"{match.group(3)}.{match.group(5)}"
    key = (file.key,) if isinstance(file.key, str) else tuple(file.key or ())
    if file.mode == "changed" and not key:
        raise fail(
            "mode: changed needs a key to tell rows apart",
            "mode",
            hint="add key: [the column(s) identifying a row]",
        )
    if (file.to.file is None) == (file.to.http is None):
        raise fail(
            "say where to export with exactly one of to.file or to.http",
            "to",
            hint="e.g. to: {file: {path: exports/rows.csv}}",
        )
    target: FileTarget | HttpTarget
    if file.to.file is not None:
        suffix = Path(file.to.file.path).suffix.lstrip(".").lower()
        chosen = file.to.file.format or suffix
        if chosen not in ("csv", "parquet"):
            raise fail(
                f"cannot tell the format of '{file.to.file.path}'",
                "to",
                "file",
                "path",
                hint="end the path in .csv or .parquet, or set format: csv | parquet",
            )
        target = FileTarget(file.to.file.path, chosen)  # type: ignore[arg-type]
    else:
        http: Any = file.to.http
        target = HttpTarget(**http.model_dump())
    return ExportSpec(
        name=path.stem,
        path=display,
        parent=parent,
        target=target,
        mode=file.mode,
        key=key,
        columns=tuple(file.columns) if file.columns is not None else None,
        where=file.where,
        description=file.description,
        owner=file.owner,
        tags=tuple(file.tags),
        enabled=file.enabled,
    )
