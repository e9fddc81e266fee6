"""Run the DuckDB SQL kept in `sql/`, one model per file.

One templating style: values are DuckDB named parameters (`$range_start`), bound, never text;
identifiers that code chooses (a table, its key columns) are `{{name}}`, substituted from a
fixed dict before the statement runs — never values from outside. A file may hold several
statements separated by `;` at a line end (not in a comment); each is given only the parameters
it uses, and a missing parameter or name is an error.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_NAME = re.compile(r"\{\{(\w+)\}\}")
# A declared table: the `--` lines right above `CREATE TABLE` describe it, the `--` beside each column
# (and the `--` lines under it) describe the column.
_DECLARED_TABLE = re.compile(r"((?:^--[^\n]*\n)+)CREATE TABLE IF NOT EXISTS (\w+\.\w+) \(\n(.*?)\n\);", re.M | re.S)
_COLUMN = re.compile(r"^ {4}(\w+) [^\n]*?--\s?(.*)$")
_MORE = re.compile(r"^\s+--\s?(.*)$")


@cache
def statements(relative_path: str) -> tuple[str, ...]:
    return split_statements((SQL_DIR / relative_path).read_text())


def split_statements(text: str) -> tuple[str, ...]:
    parts, current = [], []
    for line in text.splitlines():
        current.append(line)
        if _code(line).rstrip().endswith(";"):  # a statement ends with `;` at a line end, not in a comment
            parts.append(_without_end("\n".join(current)))
            current = []
    parts.append("\n".join(current))
    return tuple(s for s in (part.strip() for part in parts) if _has_code(s))


def _code(line: str) -> str:
    """The line before its `--` comment (a `--` inside a quoted string is not one)."""
    at = line.find("--")
    while at != -1 and line.count("'", 0, at) % 2:
        at = line.find("--", at + 2)
    return line if at == -1 else line[:at]


def _without_end(statement: str) -> str:
    lines = statement.splitlines()
    last = _code(lines[-1]).rstrip()
    lines[-1] = last[:-1]  # the closing `;` and any comment after it
    return "\n".join(lines)


def _has_code(statement: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in statement.splitlines())


def render(statement: str, names: dict[str, str] | None, where: str = "") -> str:
    def name(match: re.Match) -> str:
        try:
            return (names or {})[match.group(1)]
        except KeyError:
            raise KeyError(f"{where or 'SQL'} needs the name {{{{{match.group(1)}}}}}") from None

    return _NAME.sub(name, statement)


@cache
def declared_comments(relative_path: str) -> tuple[str, ...]:
    """COMMENT ON statements for the tables a schema file declares, so each mart's columns are
    written once: name, type and meaning on one line (sql/schema/marts.sql)."""
    return comments_declared_in((SQL_DIR / relative_path).read_text())


def comments_declared_in(text: str) -> tuple[str, ...]:
    comments = []
    for match in _DECLARED_TABLE.finditer(text):
        about, table, body = match.groups()
        comments.append(f"COMMENT ON TABLE {table} IS {_literal(_joined(about.splitlines()))}")
        column, words = None, []
        for text in body.splitlines() + ["    end -- "]:
            more = _MORE.match(text)
            if more and column:
                words.append(more.group(1))
                continue
            if column:
                comments.append(f"COMMENT ON COLUMN {table}.{column} IS {_literal(' '.join(words))}")
            found = _COLUMN.match(text)
            column, words = (found.group(1), [found.group(2)]) if found else (None, [])
    return tuple(comments)


def _joined(lines: list[str]) -> str:
    return " ".join(line.removeprefix("--").strip() for line in lines)


def _literal(text: str) -> str:
    return "'" + text.strip().replace("'", "''") + "'"


def ready_query(name: str) -> str:
    """A ready query of `sql/queries/` (the ones users open from SQL tools), for the dashboard and the
    demo's table to read the same rows."""
    return (SQL_DIR / "queries" / f"{name}.sql").read_text().strip().rstrip(";")


def run_sql_file(
    con: duckdb.DuckDBPyConnection,
    relative_path: str,
    params: dict[str, Any] | None = None,
    names: dict[str, str] | None = None,
) -> None:
    params = params or {}
    for statement in statements(relative_path):
        statement = render(statement, names, relative_path)
        wanted = set(_PARAMETER.findall(statement))
        missing = wanted - params.keys()
        if missing:
            raise KeyError(f"{relative_path} needs parameters {sorted(missing)}")
        con.execute(statement, {name: params[name] for name in wanted} if wanted else None)
