"""Generic data tests declared in YAML: parse an entry, build its failing-rows query, name it.

A data test is a query returning the rows that break a rule; the runner counts them and compares
the count with the test's `warn_if`/`error_if` thresholds. Like dbt, NULLs pass every built-in
test except `not_null`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlml.compiler.builtin_tests import (
    BUILTIN_TESTS,
    accepted_hint,
    builtin_test_sql,
    is_count,
    is_text,
    kind_of,
)
from sqlml.errors import ConfigError, Location
from sqlml.thresholds import THRESHOLD_HINT, parse_threshold

Resolve = Callable[[str], str]
Args = Mapping[str, Any]

_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
MAX_NAME = 63


# Each config key: its check, what its value must be, and how to fix it.
_COMPARISON = (
    lambda v: parse_threshold(v) is not None,
    "a comparison with a count",
    THRESHOLD_HINT,
)
_CONFIG: dict[str, tuple[Callable[[Any], bool], str, str | None]] = {
    "severity": (lambda v: str(v).lower() in ("error", "warn"), "'error' or 'warn'", None),
    "warn_if": _COMPARISON,
    "error_if": _COMPARISON,
    "where": (
        lambda v: v is None or is_text(v),
        "a SQL condition",
        "e.g. where: \"status <> 'cancelled'\"",
    ),
    "store_failures": (lambda v: isinstance(v, bool), "true or false", None),
    "limit": (lambda v: v is None or is_count(v), "a whole number of rows, 0 or more", None),
}
CONFIG_KEYS = tuple(_CONFIG)


@dataclass(frozen=True)
class TestConfig:
    """How a data test's failure count is judged and what happens to its failing rows."""

    __test__ = False  # not a pytest class

    severity: str = "error"  # "error" | "warn"
    warn_if: str = "!= 0"  # a comparison applied to the failure count
    error_if: str = "!= 0"
    where: str | None = None  # SQL filter applied to the tested relation first
    store_failures: bool = True
    limit: int | None = None


def parse_test_entry(
    entry: str | Mapping[str, Any], *, location: Location
) -> tuple[str, dict[str, Any], TestConfig]:
    """Split one YAML data test entry into (test name, arguments, config).

    Accepts `not_null`, `{not_null: null}`, `{accepted_values: {values: [...], config: {...}}}`,
    dbt 1.10's `{accepted_values: {arguments: {values: [...]}}}`, and dbt's older form with
    config keys (`severity`, `where`...) beside the arguments. Thresholds are normalized to
    `"<op> <n>"` and severity to lower case.

    Raises:
        ConfigError at ``location``: a malformed entry, an unknown config key, a bad value.
    """
    name: Any = entry
    body: Any = None
    if isinstance(entry, Mapping) and len(entry) == 1:
        ((name, body),) = entry.items()
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(
            "a data test must be a test name or a mapping of one test name to its arguments",
            location=location,
            hint="write `- not_null` or `- accepted_values: {values: [a, b]}`",
        )
    body = {} if body is None else body
    if not isinstance(body, Mapping):
        raise ConfigError(
            f"the arguments of data test '{name}' must be a mapping, not {kind_of(body)}",
            location=location,
            hint=f"write `- {name}: {{argument: value}}`",
        )
    config = dict(_mapping(body.get("config"), "config", name, location))
    args = dict(_mapping(body.get("arguments"), "arguments", name, location))
    for key, value in body.items():
        if key in ("config", "arguments"):
            continue
        target, where = (config, "config") if key in CONFIG_KEYS else (args, "arguments")
        if key in target:
            raise ConfigError(
                f"data test '{name}' sets '{key}' twice",
                location=location,
                hint=f"set it once, under `{where}:`",
            )
        target[key] = value
    return name, args, _test_config(name, config, location)


def _mapping(value: Any, key: str, test: str, location: Location) -> Mapping[str, Any]:
    if value is not None and not isinstance(value, Mapping):
        raise ConfigError(
            f"'{key}' of data test '{test}' must be a mapping, not {kind_of(value)}",
            location=location,
            hint=f"write `{key}: {{key: value}}`",
        )
    return value or {}


def _test_config(test: str, raw: Mapping[str, Any], location: Location) -> TestConfig:
    for key, value in raw.items():
        if key not in _CONFIG:
            raise ConfigError(
                f"unknown config key '{key}' for data test '{test}'",
                location=location,
                hint=accepted_hint(str(key), CONFIG_KEYS, "config keys"),
            )
        check, expected, hint = _CONFIG[key]
        if not check(value):
            raise ConfigError(
                f"config '{key}' of data test '{test}' must be {expected}, not {kind_of(value)}",
                location=location,
                hint=hint,
            )
    values = dict(raw)
    if "severity" in values:
        values["severity"] = values["severity"].lower()
    for key in ("warn_if", "error_if"):
        if key in values:
            op, n = parse_threshold(values[key]) or ("", 0)  # checked above
            values[key] = f"{op} {n}"
    return TestConfig(**values)


def test_node_name(test: str, attached_to: str, column: str | None, args: Mapping[str, Any]) -> str:
    """A readable, stable, identifier-safe name for a test, shorter than 64 characters.

    `{test}_{attached_to}_{column}` (e.g. `not_null_orders_order_id`); a test with arguments,
    a name that had to be made identifier-safe and a long name end in `_` and 8 hex digits
    hashed from the test, relation, column and arguments, so that two tests differing only in
    their arguments get different names (e.g. `accepted_values_orders_status_1f0c9e2a`).
    """
    parts = [test, attached_to] if column is None else [test, attached_to, column]
    raw = "_".join(parts)
    name = _UNSAFE.sub("_", raw).strip("_").lower() or "test"
    if not (name[0].isalpha() or name[0] == "_"):
        name = f"t_{name}"
    if args or name != raw.lower() or len(name) > MAX_NAME:
        keyed = {str(k): v for k, v in args.items()}
        identity = json.dumps([test, attached_to, column, keyed], sort_keys=True, default=str)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
        name = f"{name[: MAX_NAME - 9].rstrip('_')}_{digest}"
    return name


test_node_name.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


__all__ = [
    "BUILTIN_TESTS",
    "CONFIG_KEYS",
    "TestConfig",
    "builtin_test_sql",
    "parse_test_entry",
    "test_node_name",
]
