"""Run the DuckDB SQL kept in `sql/`, one model per file.

A file may hold several statements separated by `;` at a line end. Parameters are
DuckDB named parameters (`$range_start`); each statement is given only the ones it
uses, so values never reach SQL as text.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_STATEMENT_END = re.compile(r";\s*(?:\n|$)")


@cache
def statements(relative_path: str) -> tuple[str, ...]:
    text = (SQL_DIR / relative_path).read_text()
    return tuple(s for s in (part.strip() for part in _STATEMENT_END.split(text)) if _has_code(s))


def _has_code(statement: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in statement.splitlines())


def run_sql_file(con: duckdb.DuckDBPyConnection, relative_path: str, params: dict[str, Any] | None = None) -> None:
    params = params or {}
    for statement in statements(relative_path):
        wanted = set(_PARAMETER.findall(statement))
        missing = wanted - params.keys()
        if missing:
            raise KeyError(f"{relative_path} needs parameters {sorted(missing)}")
        con.execute(statement, {name: params[name] for name in wanted} if wanted else None)
