"""Helpers shared by the data-layer tests: run the CLI on a project, read results by node."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner, Result

from sqlml.cli.main import cli
from sqlml.runner.types import NodeResult, RunResult


def invoke(root: Path, *args: str) -> Result:
    """Run ``sqlml ARGS --project-dir ROOT`` in-process."""
    return CliRunner().invoke(cli, [*args, "--project-dir", str(root)], prog_name="sqlml")


def timeless(text: str) -> str:
    """Output with every duration set to 0.00s, so it can be compared exactly."""
    return re.sub(r"\b\d+\.\d\ds\b", "0.00s", text)


def by_node(result: RunResult) -> dict[str, NodeResult]:
    return {r.node: r for r in result.results}


def statuses(result: RunResult) -> dict[str, str]:
    """Each node's status: success, warn, error or skipped."""
    return {r.node: r.status for r in result.results}


def message(result: RunResult, node: str) -> str:
    found = by_node(result)[node].message
    assert found is not None, f"{node} has no message"
    return found
