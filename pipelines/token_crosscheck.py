"""Build marts.token_crosscheck (DESIGN.md "Token cross-check") for a range of UTC days.

It needs marts.resource_hourly of the same days (the logged tokens) and the counter samples in
raw.engine_token_samples, including the evaluation at the range's end, which closes its last hour
(a run stores its day-edge margins for reading). The SQL is sql/marts/token_crosscheck.sql; the
accounting build runs it with the other daily marts, and this runs it alone.
"""

from __future__ import annotations

import duckdb

from pipelines.accounting import DayRange
from pipelines.sql_files import run_sql_file

MODEL = "marts/token_crosscheck.sql"


def ensure_crosscheck_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The mart's table (the counter samples are the lake's: raw.engine_token_samples)."""
    con.execute("SET TimeZone = 'UTC'")
    run_sql_file(con, "schema/token_crosscheck.sql")


def build_token_crosscheck(con: duckdb.DuckDBPyConnection, days: DayRange) -> None:
    """Replace the rows of `days` in marts.token_crosscheck, in one transaction."""
    ensure_crosscheck_schema(con)
    con.execute("BEGIN TRANSACTION")
    try:
        run_sql_file(con, MODEL, {"range_start": days.start_at, "range_end": days.end_at})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
