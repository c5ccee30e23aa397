"""The built-in data tests: the failing-rows query of each, and checks of its arguments.

Like dbt, NULLs pass every built-in test except `not_null`.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlml.errors import ConfigError, Location, did_you_mean

Resolve = Callable[[str], str]
Args = Mapping[str, Any]

# At column level, an expression_is_true expression that starts like the rest of a predicate
# (`>= 0`, `is not null`, `in (1, 2)`) continues the column, as in dbt_utils; any other
# expression stands alone. No standalone boolean expression can start with one of these.
_CONTINUES_COLUMN = re.compile(
    r"\s*(?:[=<>!]|(?:not\s+)?(?:in|between|like|ilike)\b|is\b)", re.IGNORECASE
)


def is_text(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is_scalar(v: Any) -> bool:
    return _is_number(v) or isinstance(v, str | bool | datetime.date)


def _is_bound(v: Any) -> bool:
    return _is_number(v) or is_text(v) or isinstance(v, datetime.date)


def is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


@dataclass(frozen=True)
class _Arg:
    name: str
    expected: str  # for errors: "must be <expected>"
    check: Callable[[Any], bool]  # of the value, or of each item when `is_list`
    required: bool = False
    is_list: bool = False  # a non-empty list of items


# A builder gets the relation (`where` applied), the quoted column and the checked arguments.
_Build = Callable[[str, str | None, Args], str]


@dataclass(frozen=True)
class _Builtin:
    level: str  # "column", "table" or "both"
    build: _Build
    args: tuple[_Arg, ...] = ()
    bounds: tuple[str, str] | None = None  # (low, high): at least one, and low <= high


def _not_null(rel: str, col: str | None, args: Args) -> str:
    return f"select *\nfrom {rel}\nwhere {col} is null"


def _unique(rel: str, col: str | None, args: Args) -> str:
    return _duplicates(rel, str(col), f"\nwhere {col} is not null")


def _accepted_values(rel: str, col: str | None, args: Args) -> str:
    # Unquoted, a string is SQL as written.
    quote = args.get("quote", True)
    values = ", ".join(
        _quote_str(_as_text(v)) if quote else v if isinstance(v, str) else _literal(v)
        for v in args["values"]
    )
    return (
        f"select {col}, count(*) as n_records\nfrom {rel}\n"
        f"where {col} not in ({values})\ngroup by {col}"
    )


def _relationships(rel: str, col: str | None, args: Args) -> str:
    parent, field = args["to"], _ident(args["field"])  # `to` is resolved already
    return (
        f"select *\nfrom {rel} as child\nwhere child.{col} is not null\n"
        f"  and not exists (\n    select 1 from {parent} as parent\n"
        f"    where parent.{field} = child.{col}\n  )"
    )


def _accepted_range(rel: str, col: str | None, args: Args) -> str:
    strict = "" if args.get("inclusive", True) else "="
    outside = [
        f"{col} {op}{strict} {_literal(args[key])}"
        for key, op in (("min_value", "<"), ("max_value", ">"))
        if args.get(key) is not None
    ]
    return f"select *\nfrom {rel}\nwhere " + " or ".join(outside)


def _expression_is_true(rel: str, col: str | None, args: Args) -> str:
    expression = args["expression"].strip()
    if col is not None and _CONTINUES_COLUMN.match(expression):
        expression = f"{col} {expression}"
    return f"select *\nfrom {rel}\nwhere not ({_close(expression)})"


def _unique_combination(rel: str, col: str | None, args: Args) -> str:
    return _duplicates(rel, ", ".join(_ident(name) for name in args["columns"]))


def _duplicates(rel: str, columns: str, where: str = "") -> str:
    """One row per value (or combination) found more than once, with its count."""
    return (
        f"select {columns}, count(*) as n_records\nfrom {rel}{where}\n"
        f"group by {columns}\nhaving count(*) > 1"
    )


def _row_count(rel: str, col: str | None, args: Args) -> str:
    outside = [
        f"count(*) {op} {args[key]}"
        for key, op in (("min", "<"), ("max", ">"))
        if args.get(key) is not None
    ]
    return f"select count(*) as row_count\nfrom {rel}\nhaving " + " or ".join(outside)


_VALUES = "a non-empty list of values (strings, numbers, booleans or dates)"
_BOUND = "a number, a date or a string"
_COUNT = "a whole number, 0 or more"
_REF = "a ref('...') or source('...', '...')"
_BOOL = ("true or false", lambda v: isinstance(v, bool))
BUILTINS: dict[str, _Builtin] = {
    "not_null": _Builtin("column", _not_null),
    "unique": _Builtin("column", _unique),
    "accepted_values": _Builtin(
        "column",
        _accepted_values,
        (_Arg("values", _VALUES, _is_scalar, True, True), _Arg("quote", *_BOOL)),
    ),
    "relationships": _Builtin(
        "column",
        _relationships,
        (_Arg("to", _REF, is_text, True), _Arg("field", "a column name", is_text, True)),
    ),
    "accepted_range": _Builtin(
        "column",
        _accepted_range,
        (
            _Arg("min_value", _BOUND, _is_bound),
            _Arg("max_value", _BOUND, _is_bound),
            _Arg("inclusive", *_BOOL),
        ),
        bounds=("min_value", "max_value"),
    ),
    "expression_is_true": _Builtin(
        "both", _expression_is_true, (_Arg("expression", "a SQL expression", is_text, True),)
    ),
    "unique_combination": _Builtin(
        "table",
        _unique_combination,
        (_Arg("columns", "a non-empty list of column names", is_text, True, True),),
    ),
    "row_count": _Builtin(
        "table",
        _row_count,
        (_Arg("min", _COUNT, is_count), _Arg("max", _COUNT, is_count)),
        bounds=("min", "max"),
    ),
}
BUILTIN_TESTS: frozenset[str] = frozenset(BUILTINS)


def builtin_test_sql(
    test: str,
    relation: str,
    column: str | None,
    args: Mapping[str, Any],
    *,
    where: str | None,
    resolve: Resolve,
    location: Location,
) -> str:
    """The query returning the failing rows of a built-in data test.

    Args:
        test: one of `BUILTIN_TESTS`.
        relation: the tested relation, already quoted, e.g. `"warehouse"."main"."orders"`.
        column: the tested column for column-level tests, None for table-level ones.
        args: the test's arguments from YAML.
        where: a SQL filter applied to the tested relation first.
        resolve: turns the `to:` of `relationships` (`"ref('customers')"`) into a quoted
            relation; what it raises propagates.
        location: where the test is declared, for errors.

    `expression_is_true` at column level: an expression starting like the rest of a predicate
    (`>= 0`, `is not null`, `in (1, 2)`, `between 1 and 9`, `like 'a%'`) is appended to the
    column, as in dbt_utils; any other expression is used as written and may name the column.
    `accepted_range` bounds are literals: strings are quoted (DuckDB casts `'2024-01-01'` to
    the column's type), YAML dates become `date '...'`. `unique_combination`, like dbt_utils,
    counts combinations with NULLs as duplicates.

    Raises:
        ConfigError at ``location``: unknown test, test at the wrong level, unknown, missing
        or mistyped argument.
    """
    spec = BUILTINS.get(test)
    if spec is None:
        raise ConfigError(
            f"unknown data test '{test}'",
            location=location,
            hint=accepted_hint(test, sorted(BUILTINS), "built-in tests"),
        )
    if spec.level == "column" and column is None:
        raise ConfigError(
            f"data test '{test}' tests a column, not a whole table",
            location=location,
            hint="move it to the data_tests of one of the table's columns",
        )
    if spec.level == "table" and column is not None:
        raise ConfigError(
            f"data test '{test}' tests a whole table, not a column",
            location=location,
            hint=f"move it from column '{column}' to the data_tests of its model, seed or source",
        )
    _check_args(test, spec, args, location)
    if where is not None:
        relation = f"(select * from {relation} where {_close(where)})"
    if test == "relationships":
        args = {**args, "to": resolve(args["to"])}
    return spec.build(relation, None if column is None else _ident(column), args)


def _check_args(test: str, spec: _Builtin, args: Mapping[str, Any], location: Location) -> None:
    names = [a.name for a in spec.args]
    listed = "arguments: " + ", ".join(
        f"{a.name} (required)" if a.required else a.name for a in spec.args
    )
    for key in args:
        if key not in names:
            hint = accepted_hint(str(key), names, "arguments") if names else None
            raise ConfigError(
                f"unknown argument '{key}' for data test '{test}'",
                location=location,
                hint=hint or f"'{test}' takes no arguments",
            )
    for arg in spec.args:
        if arg.required and arg.name not in args:
            raise ConfigError(
                f"data test '{test}' needs the argument '{arg.name}'",
                location=location,
                hint=listed,
            )
    for arg in spec.args:
        value = args.get(arg.name)
        if value is None and not arg.required:
            continue
        hint = None
        if not arg.is_list:
            wrong = None if arg.check(value) else kind_of(value)
        elif not isinstance(value, list) or not value:
            wrong = kind_of(value)
        else:
            bad = [item for item in value if not arg.check(item)]
            wrong = f"a list holding {kind_of(bad[0])}" if bad else None
            if None in bad and test == "accepted_values":
                hint = "NULLs always pass accepted_values; test them with not_null"
        if wrong is not None:
            raise ConfigError(
                f"argument '{arg.name}' of data test '{test}' must be {arg.expected}, not {wrong}",
                location=location,
                hint=hint,
            )
    if spec.bounds is None:
        return
    low, high = spec.bounds
    lo, hi = args.get(low), args.get(high)
    if lo is None and hi is None:
        raise ConfigError(
            f"data test '{test}' needs '{low}', '{high}' or both", location=location, hint=listed
        )
    numbers = _is_number(lo) and _is_number(hi)
    dates = type(lo) is type(hi) and isinstance(lo, datetime.date)
    if (numbers or dates) and lo > hi:  # type: ignore[operator]
        raise ConfigError(
            f"data test '{test}' has '{low}' ({lo}) greater than '{high}' ({hi})",
            location=location,
            hint="every row would fail; swap the two bounds",
        )


# --- SQL text ----------------------------------------------------------------------------------


def _ident(name: str) -> str:
    """A column name as a quoted SQL identifier: `order` → `"order"`, `a"b` → `"a""b"`."""
    return '"' + name.replace('"', '""') + '"'


def _close(sql: str) -> str:
    """SQL about to be followed by `)`: a trailing `--` comment must not swallow it."""
    return f"{sql}\n" if "--" in sql else sql


def _quote_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _as_text(value: Any) -> str:
    """A YAML scalar as text: `true`, `1.5`, `2024-01-31`, `2024-01-31 08:00:00`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else str(value)


def _literal(value: Any) -> str:
    """A YAML scalar as a SQL literal: numbers and booleans as such, dates typed, text quoted."""
    if isinstance(value, bool | int | float):
        return _as_text(value)
    kind = "timestamp " if isinstance(value, datetime.datetime) else ""
    kind = kind or ("date " if isinstance(value, datetime.date) else "")
    return kind + _quote_str(_as_text(value))


def kind_of(value: Any) -> str:
    """What a wrong value is, for errors: `not the string 'a'`."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else _as_text(value)
    if isinstance(value, str):
        return f"the string {value!r}" if value.strip() else "an empty string"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"a {type(value).__name__}"


def accepted_hint(word: str, accepted: Any, what: str) -> str:
    listed = f"{what}: " + ", ".join(accepted)
    guess = did_you_mean(word, accepted)
    return f"{guess} {listed}" if guess else listed
