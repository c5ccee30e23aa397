"""Checks of a new table's columns against what YAML declares, before it replaces the old one."""

from __future__ import annotations

from sqlml.engine.base import Check, Engine
from sqlml.errors import ExecutionError
from sqlml.project.types import Column


def column_check(
    engine: Engine, node: str, declared: tuple[Column, ...], *, exact: bool
) -> Check | None:
    """A check that the built table has the declared columns with the declared types.

    ``exact`` (contracts) also refuses columns that are not declared. Types compare in the
    engine's own spelling, so ``int`` matches ``INTEGER`` and ``text`` matches ``VARCHAR``.
    Returns None when there is nothing to check.
    """
    if not declared:
        return None
    typed = [c for c in declared if c.data_type]
    try:
        canonical = dict(
            zip(
                [c.name.lower() for c in typed],
                engine.canonical_types([str(c.data_type) for c in typed]),
                strict=True,
            )
        )
    except ExecutionError as exc:
        raise ExecutionError(
            f"'{node}' declares a column type DuckDB does not know: {exc.message}",
            hint="use a DuckDB type name such as BIGINT, DOUBLE, VARCHAR, DATE, TIMESTAMP",
        ) from None

    def check(columns: list[tuple[str, str]]) -> None:
        actual = {name.lower(): (name, kind) for name, kind in columns}
        problems = []
        for column in declared:
            found = actual.get(column.name.lower())
            if found is None:
                problems.append(f"missing column '{column.name}'")
            elif column.name.lower() in canonical and canonical[column.name.lower()] != found[1]:
                problems.append(
                    f"column '{column.name}' is {found[1]}, declared "
                    f"{canonical[column.name.lower()]}"
                )
        if exact:
            names = {c.name.lower() for c in declared}
            problems += [
                f"undeclared column '{name}'"
                for key, (name, _) in actual.items()
                if key not in names
            ]
        if problems:
            what = "contract" if exact else "declared columns"
            raise ExecutionError(
                f"'{node}' does not match its {what}: " + "; ".join(problems),
                hint="nothing was replaced; change the query or the declared columns",
            )

    return check
