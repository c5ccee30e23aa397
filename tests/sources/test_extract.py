"""The one entry point: dispatch on the kind of source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sqlml.errors import ExecutionError
from sqlml.sources import EXTRACTORS, extract


def test_every_kind_has_an_extractor() -> None:
    assert sorted(EXTRACTORS) == ["postgres", "python", "sqlite"]


def test_an_unknown_kind_suggests_the_closest(tmp_path: Path) -> None:
    with pytest.raises(ExecutionError) as caught:
        extract("postgresql", {}, source="crm.accounts", root=tmp_path)

    assert caught.value.message == "source 'crm.accounts': unknown source kind 'postgresql'"
    assert caught.value.hint == (
        "did you mean 'postgres'? the kinds read through Python are: sqlite, postgres, python"
    )
    assert caught.value.exit_code == 1


def test_importing_the_package_imports_no_driver() -> None:
    code = (
        "import sys, sqlml.sources; "
        "print(sorted(m for m in ('pyarrow', 'adbc_driver_manager') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert done.stdout.strip() == "[]"
