"""Failure messages: aligned tables of the missing and unexpected rows."""

from __future__ import annotations

import doctest

from sqlml.unit import compare
from sqlml.unit.compare import MAX_ROWS_SHOWN, format_diff, format_table


def test_doctests() -> None:
    assert doctest.testmod(compare).failed == 0


def test_table_aligns_numbers_right_and_spells_out_null_and_hidden_spaces() -> None:
    rows = [("1.50", "a"), ("10", None), (None, " b"), ("2", ""), ("3", "null")]
    assert format_table(["amount", "name"], [True, False], [False, True], rows) == [
        "amount | name",
        "-------+-------",
        "  1.50 | a",
        "    10 | null",
        "  null | ' b'",
        "     2 | ''",
        "     3 | 'null'",
    ]


def test_long_tables_are_cut() -> None:
    rows = [(str(i),) for i in range(MAX_ROWS_SHOWN + 5)]
    lines = format_table(["id"], [True], [False], rows)
    assert len(lines) == 2 + MAX_ROWS_SHOWN + 1
    assert lines[-1] == "... and 5 more"


def test_diff_with_only_unexpected_rows() -> None:
    assert format_diff(["id"], [True], [False], [], [("7",)], expected=1, returned=2) == (
        "expected 1 row, got 2; compared on id\n"
        "1 unexpected row (returned, not expected):\n"
        "  id\n"
        "  --\n"
        "   7"
    )
