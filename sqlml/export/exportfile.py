"""Pydantic models of an export file, `exports/<name>.yml`. Only for validation; the rest of
sqlml works with `sqlml.export.spec.ExportSpec`. Loaded lazily."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileTargetFile(_Strict):
    path: str  # relative to the project folder; {run_id} and {timestamp} are filled in
    format: Literal["csv", "parquet"] | None = None  # default: from the path's extension


class HttpTargetFile(_Strict):
    url: str  # ${VAR} is read from the environment
    headers: dict[str, str] = {}
    batch_size: int = Field(default=500, ge=1)
    retries: int = Field(default=5, ge=0)  # attempts after the first, per batch
    backoff_s: float = Field(default=0.5, ge=0)  # first pause; doubles, at most max_backoff_s
    max_backoff_s: float = Field(default=30.0, ge=0)
    timeout_s: float = Field(default=10.0, gt=0)


class TargetFile(_Strict):
    file: FileTargetFile | None = None
    http: HttpTargetFile | None = None


class ExportFile(_Strict):
    relation: str  # ref('model') or source('source', 'table')
    to: TargetFile
    mode: Literal["full", "changed"] = "full"
    key: list[str] | str | None = None  # identifies a row; required for mode: changed
    columns: list[str] | None = None  # default: every column
    where: str | None = None  # a SQL condition on the relation's columns
    description: str | None = None
    owner: str | None = None
    tags: list[str] = []
    enabled: bool = True
