"""Values produced by running unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlml.compiler.types import CompiledNode


@dataclass(frozen=True)
class UnitTestResult:
    """The outcome of one unit test.

    ``status`` is "pass", "fail" (the model returned other rows than expected) or "error"
    (the test could not run: a bad fixture, an unknown model, SQL that failed). ``message``
    is None on a pass; on a fail, tables of the missing and unexpected rows; on an error,
    the reason, with the file and line of the test and a hint.
    """

    name: str
    model: str
    status: str
    message: str | None
    duration_s: float


@dataclass(frozen=True)
class Fixture:
    """Rows given for one input of the model under test."""

    node: CompiledNode  # the input: a model, seed or source
    label: str  # as users write it: "ref('x')" or "source('a', 'b')"
    rows: tuple[Mapping[str, Any], ...]
