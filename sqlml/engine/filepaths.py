"""Relative file paths that SQL reads resolve against the project folder, wherever sqlml runs.

DuckDB looks for a relative path in the process's working directory before its
``file_search_path`` (which the engine sets to the project folder). Run from another folder
that holds the same relative path, ``read_csv('data/x.csv')`` in a model would silently read
that folder's file. So before a statement runs, the paths it reads as files (arguments of table
functions such as ``read_csv``, quoted file names in ``FROM``) that exist relative to the
working directory are made absolute under the project folder.

The usual cases cost a regular expression: running in the project folder, or no quoted text
of the statement (with a folder, an extension or a wildcard) naming a file there. Only then
is the statement parsed (sqlglot), and only the file reads are rewritten, never a string
compared with a column. Seeds and file sources have their paths anchored by the runner
already (`sqlml.runner.paths`).
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Any

_PATHLIKE = re.compile(r"[./*?\[]")
_QUOTED = re.compile(r"'([^'\n]*(?:''[^'\n]*)*)'" + r'|"([^"\n]*(?:""[^"\n]*)*)"')


def anchor_file_reads(sql: str, root: Path) -> str:
    """``sql`` with the relative file paths it reads made absolute under ``root``, when they
    also exist relative to the working directory (where DuckDB would look first)."""
    try:
        cwd = os.getcwd()
    except OSError:  # the working directory was deleted: DuckDB cannot read from it either
        return sql
    if cwd == str(root):
        return sql
    shadowed = {
        text
        for match in _QUOTED.finditer(sql)
        if (text := (match.group(1) or match.group(2) or "").replace("''", "'")) and _in(cwd, text)
    }
    if not shadowed:
        return sql
    spans = _file_reads(sql, shadowed)
    for start, end in sorted(spans, reverse=True):
        quote = sql[start]
        path = str(root / sql[start + 1 : end].replace(quote * 2, quote))
        sql = sql[:start] + quote + path.replace(quote, quote * 2) + quote + sql[end + 1 :]
    return sql


def _in(folder: str, text: str) -> bool:
    """Whether relative path (or glob) ``text`` names something in ``folder``. Only texts
    with a folder, an extension or a wildcard are looked up: most quoted texts are values,
    and a statement may hold thousands."""
    if not _PATHLIKE.search(text) or "://" in text or os.path.isabs(text) or len(text) > 4096:
        return False
    path = os.path.join(folder, text)
    return bool(glob.glob(path)) if glob.has_magic(text) else os.path.exists(path)


def _file_reads(sql: str, paths: set[str]) -> list[tuple[int, int]]:
    """Where ``sql`` reads one of ``paths`` as a file: the spans of the quoted texts, quotes
    included (first and last character). Nothing when sqlglot cannot parse it."""
    import sqlglot
    from sqlglot import exp

    try:
        statements = sqlglot.parse(sql, read="duckdb")
    except Exception:  # sqlglot does not know every statement DuckDB runs: leave it be
        return []
    spans = []
    for statement in statements:
        if statement is None:
            continue
        for table in statement.find_all(exp.Table):
            found: list[Any] = []
            if isinstance(table.this, exp.Identifier):
                found = [table.this]
            elif isinstance(table.this, exp.Func):  # read_csv('...'), read_parquet([...])
                found = [x for x in table.this.find_all(exp.Literal) if x.is_string]
            for node in found:
                start, end = node.meta.get("start"), node.meta.get("end")
                if node.name in paths and start is not None and sql[start] in "'\"":
                    spans.append((start, end))
    return spans
