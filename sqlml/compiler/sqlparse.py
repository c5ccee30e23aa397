"""Parse rendered SQL with sqlglot: the tables it reads and the columns it returns."""

from __future__ import annotations

import re
import threading
from typing import Any

from sqlml.compiler.types import FunctionCall, Parsed, TableRead
from sqlml.errors import CompileError, Location, underline

DIALECT = "duckdb"
PREDICT_PREFIX = "predict_"  # scoring inside SQL: predict_<model>(...), see sqlml.ml.udf

# One tokenizer and parser per thread, reused: both reset themselves for each text, and
# building them costs about a tenth of parsing a small model.
_tools = threading.local()


def _parse_statements(sql: str) -> list[Any]:
    """``sqlglot.parse(sql, read=DIALECT)``, with the dialect's tokenizer and parser reused."""
    tools = getattr(_tools, "pair", None)
    if tools is None:
        from sqlglot.dialects.dialect import Dialect

        dialect = Dialect.get_or_raise(DIALECT)
        tools = _tools.pair = (dialect.tokenizer(), dialect.parser())
    tokenizer, parser = tools
    return list(parser.parse(tokenizer.tokenize(sql), sql))


def parse_sql(sql: str, *, node: str, compiled_path: str, source_path: str) -> Parsed:
    """Parse one node's SQL; a syntax error points into the compiled file, underlined.

    Args:
        sql: the rendered SQL.
        node: the node's name, for the error.
        compiled_path: where the rendered SQL is written (the coordinates of the error).
        source_path: the template it came from, named in the error too.
    """
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    try:
        statements = [s for s in _parse_statements(sql) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line, column = int(first.get("line") or 1), int(first.get("col") or 1)
        highlight = str(first.get("highlight") or " ")
        # sqlglot reports the column of the highlight's last character.
        start = max(column - len(highlight) + 1, 1)
        description = _readable(str(first.get("description") or exc).split("\n")[0])
        raise CompileError(
            f"SQL syntax error in model '{node}': {description}",
            node=node,
            location=Location(compiled_path, line, start),
            excerpt=underline(sql, line, start, len(highlight))
            + f"\n(rendered from {source_path})",
            hint="fix the SQL in " + source_path,
        ) from None
    except TokenError as exc:
        raise CompileError(
            f"SQL syntax error in model '{node}': {exc}",
            node=node,
            location=Location(compiled_path),
            hint="look for an unterminated string or comment in " + source_path,
        ) from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        kind = "no statement" if not statements else f"{len(statements)} statements"
        if len(statements) == 1:
            kind = f"a {type(statements[0]).__name__.upper()} statement"
        raise CompileError(
            f"model '{node}' must be exactly one SELECT query, found {kind}",
            node=node,
            location=Location(source_path),
            hint="a model is a single query (SELECT, WITH ... SELECT, or a set operation); "
            "sqlml writes the CREATE statement",
        )
    tree = statements[0]
    # One walk of the tree (breadth first, as find_all): tables in the order they are found.
    ctes: set[str] = set()
    found: list[Any] = []
    predicts: list[FunctionCall] = []
    for expression in tree.walk():
        if isinstance(expression, exp.Table):
            found.append(expression)
        elif isinstance(expression, exp.CTE):
            ctes.add(expression.alias_or_name.lower())
        elif isinstance(expression, exp.Anonymous) and expression.name.lower().startswith(
            PREDICT_PREFIX
        ):
            line, column = _position(sql, expression.meta.get("start", 0))
            predicts.append(FunctionCall(expression.name, line, column))
    tables = []
    for table in found:
        identifier = table.this
        if not isinstance(identifier, exp.Identifier):
            continue  # a table function: read_csv(...), range(...), ...
        name = identifier.this
        if table.db == "" and (name.lower() in ctes or "." in name or "/" in name):
            continue  # a CTE, or a file read through a replacement scan: 'data/x.parquet'
        head: exp.Expression = table.args.get("catalog") or table.args.get("db") or identifier
        start = head.meta.get("start", 0)
        line, column = _position(sql, start)
        length = identifier.meta.get("end", start) - start + 1
        tables.append(TableRead(table.db, name, line, column, max(length, 1), table.catalog))
    columns: tuple[str, ...] = ()
    # Only when every output column has a name we can know without the warehouse.
    if isinstance(tree, exp.Select) and all(
        isinstance(e, exp.Alias) or (isinstance(e, exp.Column) and not e.is_star)
        for e in tree.expressions
    ):
        columns = tuple(e.alias_or_name for e in tree.expressions)
    return Parsed(tuple(tables), columns, tree.args.get("with_") is not None, tuple(predicts))


_TOKEN = re.compile(r"<Token token_type: TokenType\.(\w+), text: (.*?), line: .*?>")
_MISSING = re.compile(r"Required keyword: '\w+' missing for <class '[\w.]*\.(\w+)'>")


def _readable(description: str) -> str:
    """sqlglot names tokens and classes by their repr; say it in the user's terms."""

    def token(match: re.Match[str]) -> str:
        return "the end of the query" if match.group(1) == "SENTINEL" else f"'{match.group(2)}'"

    def missing(match: re.Match[str]) -> str:
        return f"incomplete {match.group(1).upper()}: an operand or clause is missing"

    return _MISSING.sub(missing, _TOKEN.sub(token, description))


def _position(sql: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = sql.count("\n", 0, offset) + 1
    return line, offset - (sql.rfind("\n", 0, offset) + 1) + 1
