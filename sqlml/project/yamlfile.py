"""Reading YAML files and turning validation failures into errors with a file position."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlml.errors import ConfigError, Location, did_you_mean

M = TypeVar("M")


def read_yaml(path: Path, display: str) -> Any:
    """Parse a YAML file; a syntax error becomes a ConfigError at its line and column."""
    import yaml

    text = path.read_text(encoding="utf-8")
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
) -> M:
    """Validate ``data`` against a pydantic model; the first problem becomes a ConfigError.

    The error names the file, the dotted key path, its line, and the closest valid key when the
    key is unknown.
    """
    from pydantic import BaseModel, ValidationError

    assert issubclass(model, BaseModel)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [*prefix, *error["loc"]]
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        hint = None
        if error["type"] == "extra_forbidden":
            bad = str(loc[-1])
            allowed = _allowed_keys(model, list(error["loc"][:-1]))
            hint = did_you_mean(bad, allowed)
            if hint is None and allowed:
                hint = "allowed keys here: " + ", ".join(sorted(allowed))
            message = f"unknown key '{dotted}'"
        else:
            message = f"invalid value for '{dotted}': {error['msg']}"
        raise ConfigError(message, location=key_location(path, display, loc), hint=hint) from None


def _allowed_keys(model: Any, loc: Sequence[str | int]) -> list[str]:
    """The field names (by alias) accepted at ``loc`` inside ``model``."""
    import typing

    from pydantic import BaseModel

    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return []
        current = field.annotation
        # Unwrap list[X], dict[str, X], X | None down to a model class.
        while typing.get_origin(current) is not None:
            args = [a for a in typing.get_args(current) if a is not type(None)]
            current = args[-1] if args else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []
