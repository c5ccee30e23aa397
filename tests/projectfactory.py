"""Write tiny sqlml projects from strings, for functional tests.

    root = write_project(tmp_path, {"project.yml": "name: demo\\n", "models/a.sql": "select 1"})

Shared by every test folder; keep it free of assertions and of knowledge of any one stage.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

MINIMAL_PROJECT = "name: demo\n"
"""The smallest valid project.yml: every other key has a default."""


def write_project(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (project-relative POSIX path -> text) under ``root`` and return ``root``.

    Each text is dedented, so it can be written as an indented triple-quoted string. Files
    already in ``root`` that are not named are left alone, so a test can call this again to
    edit one file of a project it wrote before.
    """
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root
