"""Reading YAML files and turning validation failures into errors with a file position."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlml.errors import ConfigError, Location, did_you_mean

M = TypeVar("M")


def read_text(path: Path, display: str) -> str:
    """A project file's text; one that is not UTF-8 is a ConfigError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x})",
            location=Location(display, line),
            hint="save the file as UTF-8",
        ) from None


def read_yaml(path: Path, display: str) -> Any:
    """Parse a YAML file; a syntax error becomes a ConfigError at its line and column."""
    import yaml

    text = read_text(path, display)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader) or {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise ConfigError(
            f"invalid YAML: {exc.problem}",
            location=Location(display, line, column),
            hint="check the indentation and quoting on that line",
        ) from None


def key_location(path: Path, display: str, key_path: Sequence[str | int]) -> Location:
    """Find the line and column of ``key_path`` in a YAML file (the deepest part that exists)."""
    import yaml

    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return Location(display)
    mark = node.start_mark if node is not None else None
    for part in key_path:
        if isinstance(node, yaml.MappingNode):
            match = next((kv for kv in node.value if kv[0].value == part), None)
            if match is None:
                break
            mark, node = match[0].start_mark, match[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            mark = node.start_mark
        else:
            break
    if mark is None:
        return Location(display)
    return Location(display, mark.line + 1, mark.column + 1)


def validate(
    model: type[M],
    data: Any,
    path: Path,
    display: str,
    *,
    prefix: Sequence[str | int] = (),
    key_prefix: str = "",
) -> M:
    """Validate ``data`` against a pydantic model; the first problem becomes a ConfigError.

    The error names the file, the dotted key path, its line, and the closest valid key when the
    key is unknown. ``prefix`` is where ``data`` sits in the file; ``key_prefix`` is prepended
    to the first key below it (``+`` for folder config in project.yml).
    """
    from pydantic import BaseModel, ValidationError

    assert issubclass(model, BaseModel)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        inner, allowed = _walk(model, error["loc"])
        if inner and key_prefix:
            inner[0] = f"{key_prefix}{inner[0]}"
        loc = [*prefix, *inner]
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        hint = None
        kind = error["type"]
        if kind == "extra_forbidden":
            bad = str(loc[-1])
            allowed = [f"{key_prefix}{a}" for a in allowed]
            hint = did_you_mean(bad, allowed)
            if hint is None and allowed:
                hint = "allowed keys here: " + ", ".join(sorted(allowed))
            message = f"unknown key '{dotted}'"
        elif kind == "missing":
            message = f"missing required key '{dotted}'"
        elif kind in ("model_type", "dict_type"):
            message = f"'{dotted}' must be a mapping of keys to values"
        elif kind == "string_pattern_mismatch":
            message = f"invalid name '{error['input']}' for '{dotted}'"
            hint = "use letters, digits and underscores, starting with a letter or underscore"
        else:
            message = f"invalid value for '{dotted}': {error['msg']}"
            hint = (error.get("ctx") or {}).get("hint")
        raise ConfigError(message, location=key_location(path, display, loc), hint=hint) from None


def _walk(model: Any, loc: Sequence[str | int]) -> tuple[list[str | int], list[str]]:
    """Follow a pydantic error location through ``model``.

    Returns the location as the user wrote it (field aliases, dict keys and list indexes, minus
    the union-member labels pydantic adds) and the keys allowed where it ends.
    """
    from pydantic import BaseModel

    clean: list[str | int] = []
    current: Any = model
    expect_key = False  # the next part is a dict key or a list index, not a field
    for part in loc:
        if expect_key:
            clean.append(part)
            expect_key = False
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next(
                (f for n, f in current.model_fields.items() if (f.alias or n) == part), None
            )
            clean.append(part)
            if field is None:  # an unknown key: what was allowed is the current model's fields
                return clean, [f.alias or n for n, f in current.model_fields.items()]
            current, expect_key = _unwrap(field.annotation)
        elif not (isinstance(part, str) and _is_label(part)):
            clean.append(part)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return clean, [f.alias or n for n, f in current.model_fields.items()]
    return clean, []


def _is_label(part: str) -> bool:
    """Pydantic labels union members in locations, e.g. ``list[str]``; users never wrote them."""
    return "[" in part or part in {"str", "int", "bool", "float", "function-after"}


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The model class inside an annotation, and whether a container key comes first."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin in (dict, list):
        return _unwrap(typing.get_args(annotation)[-1])[0], True
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(options[0]) if len(options) == 1 else (None, False)
    return annotation, False
