"""The error tree every sqlml user sees.

Each error names the node it concerns, where in a file it happened, and how to fix it.
Library exceptions (Jinja, sqlglot, DuckDB, pydantic) are translated into these at one boundary
each, so the CLI can print every failure the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Location:
    """A position in a file: 1-based line and column (0 when unknown)."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line and self.column:
            return f"{self.path}:{self.line}:{self.column}"
        if self.line:
            return f"{self.path}:{self.line}"
        return self.path


class SqlmlError(Exception):
    """Base of every error sqlml raises on purpose.

    Args:
        message: what went wrong, one sentence.
        node: the node the error concerns, if any.
        location: where in which file.
        hint: how to fix it.
        excerpt: lines of source with the offending part underlined, already formatted.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        node: str | None = None,
        location: Location | None = None,
        hint: str | None = None,
        excerpt: str | None = None,
        exit_code: int | None = None,
    ) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
        self.message = message
        self.node = node
        self.location = location
        self.hint = hint
        self.excerpt = excerpt

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        """The full text shown to the user: location, message, excerpt and hint."""
        head = f"{self.location}: {self.message}" if self.location else self.message
        parts = [head]
        if self.excerpt:
            parts.append(self.excerpt)
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class ConfigError(SqlmlError):
    """A project file is missing, malformed or holds an unknown or mistyped key."""


class CompileError(SqlmlError):
    """A template failed to render or the rendered SQL is invalid."""


class GraphError(SqlmlError):
    """The DAG is inconsistent (cycle, unknown reference) or a selector is invalid."""


class ExecutionError(SqlmlError):
    """The warehouse rejected a statement while building a node.

    ``statement_line`` and ``statement_column`` are where the warehouse put the blame, counted
    in the statement it was sent (0 when it did not say).
    """

    exit_code = 1

    def __init__(
        self, message: str, *, statement_line: int = 0, statement_column: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.statement_line = statement_line
        self.statement_column = statement_column


class TrainingError(SqlmlError):
    """Training, validating or exporting an ML model failed."""

    exit_code = 1


class ScoringError(SqlmlError):
    """Scoring rows with a registered model failed."""

    exit_code = 1


class CheckFailedError(SqlmlError):
    """A data test, contract or monitor failed with error severity."""

    exit_code = 1


def did_you_mean(word: str, candidates: Iterable[str], *, n: int = 3) -> str | None:
    """Suggest the closest candidates to ``word``, or None when nothing is close.

    >>> did_you_mean("ordrs", ["orders", "customers"])
    "did you mean 'orders'?"
    """
    close = difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)
    if not close:
        return None
    quoted = [f"'{c}'" for c in close]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"did you mean {listed}?"


def underline(text: str, line: int, column: int, length: int = 1, *, context: int = 1) -> str:
    """Format lines of ``text`` around ``line`` with a caret underline at ``column``.

    Lines and columns are 1-based. Returns a gutter-numbered excerpt like::

        3 | select id, from orders
          |            ^^^^
    """
    lines = text.splitlines() or [""]
    line = min(max(line, 1), len(lines))
    first, last = max(1, line - context), min(len(lines), line)
    width = len(str(last))
    out = []
    for number in range(first, last + 1):
        out.append(f"{number:>{width}} | {lines[number - 1]}")
    caret_col = max(column, 1)
    out.append(f"{'':>{width}} | {' ' * (caret_col - 1)}{'^' * max(length, 1)}")
    return "\n".join(out)
