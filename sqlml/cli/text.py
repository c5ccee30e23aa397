"""Wording shared by the commands' output."""

from __future__ import annotations

from typing import Any


def count(n: int, noun: str) -> str:
    """``1 node``, ``2 nodes``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def indent(text: str) -> str:
    """``text`` indented by four spaces, line by line."""
    return "\n".join("    " + line for line in text.splitlines())


def moment(at: Any) -> str:
    """A moment as the output shows it, to the minute, in UTC."""
    return f"{at:%Y-%m-%d %H:%M} UTC"
