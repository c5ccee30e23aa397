"""Files that seeds and file sources read resolve against the project folder, wherever sqlml runs.

The compiled SQL keeps the paths as written (relative to the project), so compiled files and
fingerprints do not depend on where the project lives. DuckDB, though, looks for a relative
path in the process's working directory before its ``file_search_path``: run from a folder
holding the same relative path, it would silently read that folder's file. So the runner
anchors the paths to the project folder just before the SQL runs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlml.plan.types import Step


def anchored_sql(step: Step, root: Path) -> str:
    """The step's SQL with its seed or source file path made absolute under ``root``."""
    from sqlml.loads import seed_sql, source_sql

    spec = step.spec
    if step.kind == "seed":
        return seed_sql(replace(spec, path=anchor(spec.path, root)))
    if step.kind == "source" and getattr(spec, "loader", None) == "file":
        settings = {**spec.settings, "file": anchor(str(spec.settings["file"]), root)}
        return source_sql(replace(spec, settings=settings))
    return step.sql


def anchor(path: str, root: Path) -> str:
    """``path`` under ``root`` unless it is absolute or a URL (``s3://``, ``https://``, ...)."""
    if "://" in path or Path(path).is_absolute():
        return path
    return str(root.resolve() / path)
