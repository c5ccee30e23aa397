"""Data test thresholds: a condition like ``'> 10'`` on the count of failing rows. The compiler
checks a test's conditions; the runner applies them to the count it finds."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from sqlml.errors import ConfigError

_THRESHOLD = re.compile(r"^\s*(>=|<=|!=|<>|==|=|>|<)\s*(\d+)\s*$")
THRESHOLD_HINT = (
    "write an operator and a whole number, e.g. '> 10', '>= 1' or '!= 0'; "
    "operators: >, >=, <, <=, =, ==, !=, <>"
)
COMPARE: dict[str, Callable[[int, int], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    "<>": operator.ne,
}


def parse_threshold(condition: Any) -> tuple[str, int] | None:
    """A condition as (operator, count); None when it is not one."""
    match = _THRESHOLD.match(condition) if isinstance(condition, str) else None
    return (match[1], int(match[2])) if match else None


def count_is_failure(count: int, condition: str) -> bool:
    """Apply a threshold condition like `'> 10'` or `'!= 0'` to a failure count.

    >>> count_is_failure(3, ">=3"), count_is_failure(0, "!= 0")
    (True, False)
    """
    parsed = parse_threshold(condition)
    if parsed is None:
        raise ConfigError(f"invalid test threshold {condition!r}", hint=THRESHOLD_HINT)
    op, n = parsed
    return COMPARE[op](count, n)
