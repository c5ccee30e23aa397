"""Small helpers that write SQL text: quoting, exact float literals, bin expressions."""

from __future__ import annotations

import math
from collections.abc import Sequence


def quote(identifier: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def double(value: float) -> str:
    """``value`` as a DOUBLE literal that reads back to exactly the same float.

    ``repr`` gives the shortest text that round-trips; DuckDB parses a string cast to DOUBLE
    exactly (a bare ``0.1`` would be a DECIMAL first).
    """
    if math.isnan(value):
        return "'nan'::DOUBLE"
    if math.isinf(value):
        return "'inf'::DOUBLE" if value > 0 else "'-inf'::DOUBLE"
    return f"'{value!r}'::DOUBLE"


def numeric(column: str) -> str:
    """A column as DOUBLE, NaN read as NULL (a missing number, whatever its spelling)."""
    x = f"{quote(column)}::DOUBLE"
    return f"(case when isnan({x}) then null else {x} end)"


def bin_case(expression: str, edges: Sequence[float]) -> str:
    """The bin number of a numeric ``expression`` against frozen quantile ``edges``.

    Bins: 0 NULL; 1 below the first edge (the training minimum); 2 .. K+1 the quantile bins
    ``[e0, e1), [e1, e2), ... [e(K-1), eK]`` (the last one closed); K+2 above the last edge (the
    training maximum). With a single edge (a constant column) the one bin is ``[e0, e0]``.
    Without edges (the reference had no value) every value is out of range, bin 1.
    The expression must already read NaN as NULL (see `numeric`).
    """
    if not edges:
        return f"case when {expression} is null then 0 else 1 end"
    last = len(edges) - 1
    interior = max(last, 1)
    parts = [f"when {expression} is null then 0", f"when {expression} < {double(edges[0])} then 1"]
    parts += [f"when {expression} < {double(edges[j])} then {j + 1}" for j in range(1, last)]
    parts.append(f"when {expression} <= {double(edges[last])} then {interior + 1}")
    return "case " + " ".join(parts) + f" else {interior + 2} end"


def bin_labels(edges: Sequence[float]) -> list[tuple[int, str, float, float]]:
    """``(bin, label, lo, hi)`` for every bin `bin_case` can return, NULL bin first."""
    if not edges:
        return [(0, "NULL", math.nan, math.nan), (1, "any value", -math.inf, math.inf)]
    last = len(edges) - 1
    interior = max(last, 1)
    rows = [(0, "NULL", math.nan, math.nan), (1, f"< {edges[0]:.6g}", -math.inf, edges[0])]
    if last == 0:
        rows.append((2, f"= {edges[0]:.6g}", edges[0], edges[0]))
    for j in range(1, last + 1):
        close = "]" if j == last else ")"
        label = f"[{edges[j - 1]:.6g}, {edges[j]:.6g}{close}"
        rows.append((j + 1, label, edges[j - 1], edges[j]))
    rows.append((interior + 2, f"> {edges[last]:.6g}", edges[last], math.inf))
    return rows
