"""Run the DuckDB SQL kept in `sql/`, one model per file.

One templating style: values are DuckDB named parameters (`$range_start`), bound, never text;
identifiers that code chooses (a table, its key columns) are `{{name}}`, substituted from a
fixed dict before the statement runs — never values from outside. A file may hold several
statements separated by `;` at a line end; each is given only the parameters it uses, and a
missing parameter or name is an error.
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
_STATEMENT_END = re.compile(r";\s*(?:\n|$)")


@cache
def statements(relative_path: str) -> tuple[str, ...]:
    text = (SQL_DIR / relative_path).read_text()
    return tuple(s for s in (part.strip() for part in _STATEMENT_END.split(text)) if _has_code(s))


def _has_code(statement: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in statement.splitlines())


def render(statement: str, names: dict[str, str] | None, where: str = "") -> str:
    def name(match: re.Match) -> str:
        try:
            return (names or {})[match.group(1)]
        except KeyError:
            raise KeyError(f"{where or 'SQL'} needs the name {{{{{match.group(1)}}}}}") from None

    return _NAME.sub(name, statement)


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
