"""The lake as SQL: `raw.<source>` and `quarantine.<source>` views over its Parquet files.

A build of days [first, last] sees, per source, only the files of the days it reads
(`read_days_before`/`read_days_after` in the registry) plus, for sources that carry edges,
each resource's last row before those days and first row after them — taken from the compact
`lake.<source>_edges` table of the warehouse, which `sync_edges` keeps up to date from the
days' edge files. So a night reads its day and margins, however long the history.

The published file gets the same views over every stored day, so SQL tools query raw history
without it being copied into the file.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb

from pipelines.lake import Lake
from pipelines.landing import QUARANTINE_SCHEMA
from pipelines.sources.registry import SOURCES, CanonicalSource

QUARANTINE_COMMENTS = {
    "source": "The canonical source the row was read for.",
    "day": "The UTC day whose fetch brought the row.",
    "row_number": "Position of the row in that fetch.",
    "field": "The first field that broke the contract.",
    "reason": "Why the row was rejected, in the contract's words; a reason an operator counts starts with its "
    "kind (e.g. unmapped_resource).",
    "raw_payload": "The row as it arrived (JSON).",
    "origin": "Where the row came from: a page and position, a file and line, or a table and key.",
}


def sync_edges(con: duckdb.DuckDBPyConnection, lake: Lake) -> int:
    """Bring `lake.<source>_edges` up to date with the lake's manifests; returns the days loaded."""
    lake.register(con)
    con.execute("CREATE SCHEMA IF NOT EXISTS lake")
    con.execute("CREATE TABLE IF NOT EXISTS lake.synced (source VARCHAR, day DATE, written_at VARCHAR, "
                "PRIMARY KEY (source, day))")
    loaded = 0
    for source in SOURCES.values():
        if not source.carries_edges:
            continue
        manifests = lake.manifests(source.name)
        synced = dict(con.execute("SELECT day, written_at FROM lake.synced WHERE source = ?", [source.name]).fetchall())
        changed = [m for d, m in manifests.items() if synced.get(d) != m.written_at]
        gone = [d for d in synced if d not in manifests]
        table = f"lake.{source.name}_edges"
        _ensure_edges_table(con, source, table)
        if not changed and not gone:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            days = [m.day_date for m in changed] + gone
            con.execute(f"DELETE FROM {table} WHERE list_contains(?, _stored_for)", [days])
            con.execute("DELETE FROM lake.synced WHERE source = ? AND list_contains(?, day)", [source.name, days])
            files = [lake.path(source.name, m.edges_file) for m in changed if m.edges_file]
            if files:
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)", [files])
            con.executemany("INSERT INTO lake.synced VALUES (?, ?, ?)",
                            [[source.name, m.day_date, m.written_at] for m in changed])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        loaded += len(changed)
    return loaded


def _ensure_edges_table(con: duckdb.DuckDBPyConnection, source: CanonicalSource, table: str) -> None:
    columns = ", ".join(f'"{c.name}" {c.sql_type}' for c in source.columns)
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns}, _day DATE, _stored_for DATE, _edge VARCHAR)")


def attach_views(con: duckdb.DuckDBPyConnection, lake: Lake, days: tuple[date, date] | None = None, *,
                 comments: bool = False, made: dict[str, str] | None = None) -> None:
    """`raw.<source>` and `quarantine.<source>` views for a build of days [first, last]
    (`days`), or over every stored day (None, as published). `comments`: with the COMMENTs SQL
    tools show (for the published file; a build has no reader to show them to). `made`: the views
    already made on this database in this run, by name; one whose SQL is unchanged is kept."""
    lake.register(con)
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE SCHEMA IF NOT EXISTS quarantine")
    for source in SOURCES.values():
        manifests = lake.manifests(source.name)
        for name, sql in ((f"raw.{source.name}", raw_sql(lake, source, manifests, days)),
                          (f"quarantine.{source.name}", quarantine_sql(lake, source, manifests))):
            if made is None or made.get(name) != sql:
                con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
                if made is not None:
                    made[name] = sql
        for statement in view_comments(source) if comments else ():
            con.execute(statement)


def raw_sql(lake: Lake, source: CanonicalSource, manifests: dict, days: tuple[date, date] | None) -> str:
    columns = ", ".join(f'"{c}"' for c in source.column_names)
    if days is None:
        chosen = list(manifests.values())
    else:
        first = days[0] - timedelta(days=source.read_days_before)
        last = days[1] + timedelta(days=source.read_days_after)
        chosen = [m for d, m in manifests.items() if first <= d <= last]
    parts = []
    if chosen:
        files = ", ".join(_literal(lake.path(source.name, m.rows_file)) for m in chosen)
        ranges = ", ".join(
            f"(DATE '{m.day}', TIMESTAMPTZ '{lo.isoformat()}', TIMESTAMPTZ '{hi.isoformat()}')"
            for m in chosen for lo, hi in [freshest_range(m, manifests)] if lo < hi
        )
        at = f'"{source.day_column}"'
        if ranges:
            parts.append(f"SELECT {columns} FROM read_parquet([{files}]) "
                         f"JOIN (VALUES {ranges}) AS fresh(_stored_for, fresh_from, fresh_until) USING (_stored_for) "
                         f"WHERE {at} >= fresh_from AND {at} < fresh_until")
    if days is not None and source.carries_edges:
        table, at = f"lake.{source.name}_edges", f'"{source.day_column}"'
        parts.append(f"SELECT {columns} FROM {table} WHERE _edge = 'last' AND _day < DATE {_literal(first.isoformat())} "
                     f"QUALIFY row_number() OVER (PARTITION BY resource_id ORDER BY {at} DESC) = 1")
        parts.append(f"SELECT {columns} FROM {table} WHERE _edge = 'first' AND _day > DATE {_literal(last.isoformat())} "
                     f"QUALIFY row_number() OVER (PARTITION BY resource_id ORDER BY {at}) = 1")
    if not parts:
        return _empty(source)
    return " UNION ALL ".join(f"({p})" for p in parts)


def freshest_range(manifest, manifests: dict) -> tuple[datetime, datetime]:
    """The part of a day file's fetched window that no later fetch covers: there its rows are the
    freshest reading of the source. A day's fetch reaches into its neighbours by the margin, so a
    later neighbour's fetch supersedes the overlap ("Day edges": the next run that stores the
    sample after a day makes the day whole)."""
    lo, hi = datetime.fromisoformat(manifest.window_start), datetime.fromisoformat(manifest.window_end)
    for other in manifests.values():
        if other is manifest or other.written_at <= manifest.written_at:
            continue
        other_lo, other_hi = datetime.fromisoformat(other.window_start), datetime.fromisoformat(other.window_end)
        if other_hi <= lo or other_lo >= hi:
            continue
        if other_lo <= lo:
            lo = max(lo, other_hi)
        elif other_hi >= hi:
            hi = min(hi, other_lo)
    return lo, max(lo, hi)


def quarantine_sql(lake: Lake, source: CanonicalSource, manifests: dict) -> str:
    files = [lake.path(source.name, m.quarantine_file) for m in manifests.values() if m.quarantine_file]
    columns = ", ".join(QUARANTINE_SCHEMA.names)
    if not files:
        typed = ", ".join(f"CAST(NULL AS {_duck(f.type)}) AS {f.name}" for f in QUARANTINE_SCHEMA)
        return f"SELECT {typed} WHERE false"
    return f"SELECT {columns} FROM read_parquet([{', '.join(map(_literal, files))}])"


def view_comments(source: CanonicalSource) -> list[str]:
    statements = [s.replace("COMMENT ON TABLE", "COMMENT ON VIEW", 1) for s in source.comments("raw")]
    statements.append(f"COMMENT ON VIEW quarantine.{source.name} IS "
                      f"{_literal(f'Rows of raw.{source.name} that broke their contract, kept with the reason: nothing fetched is lost.')}")
    statements += [f"COMMENT ON COLUMN quarantine.{source.name}.{name} IS {_literal(text)}"
                   for name, text in QUARANTINE_COMMENTS.items()]
    return statements


def _empty(source: CanonicalSource) -> str:
    typed = ", ".join(f'CAST(NULL AS {c.sql_type}) AS "{c.name}"' for c in source.columns)
    return f"SELECT {typed} WHERE false"


def _duck(arrow_type) -> str:
    return {"string": "VARCHAR", "date32[day]": "DATE", "int64": "BIGINT"}[str(arrow_type)]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
