"""Landing: an adapter's canonical frames become one source-day of the lake (DESIGN.md rule 9,
"Day edges", "Storage").

Frames stream into a scratch DuckDB (in memory, spilling to disk past its memory limit, so a
30 M-row day never sits whole in Python), where duplicates collapse and conflicting copies are
found in set-based SQL (sql/landing/). The day's rows, its rejected rows and each resource's
first and last row are written as Parquet, then the day's manifest is replaced: the day is
the old one or the new one, never a mix. Nothing here opens the warehouse file, so several
days can land side by side.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from pipelines.adapters.base import Window
from pipelines.lake import DayManifest, Lake, now_text
from pipelines.sources.frames import ORIGIN, PAYLOAD, PROBLEM_FIELD, PROBLEM_REASON, ROW, conform, empty_frame
from pipelines.sources.registry import CanonicalSource
from pipelines.sql_files import run_sql_file

DAY = "_day"
QUARANTINE_SCHEMA = pa.schema([
    ("source", pa.string()), ("day", pa.date32()), ("row_number", pa.int64()), ("field", pa.string()),
    ("reason", pa.string()), ("raw_payload", pa.string()), ("origin", pa.string()),
])
ELSEWHERE = "': a different copy is already stored from outside this window'"


@dataclass(frozen=True)
class IngestResult:
    """What one landing did. fetched = kept + quarantined + duplicates (identical copies collapsed)."""

    source: str
    fetched: int
    duplicates: int
    kept: int
    quarantined: int


Payloads = Callable[[list[int]], dict[int, str]]


def land(
    lake: Lake,
    source: CanonicalSource,
    frames: Iterable[pl.DataFrame],
    *,
    window: Window,
    adapter: str,
    payloads: Payloads | None = None,
    scratch: Path | None = None,
    on_frame: Callable[[pl.DataFrame], None] | None = None,
    memory_limit: str = "2GB",
) -> IngestResult:
    """Store the canonical `frames` of `source` read for `window` as the lake's day `window.day`."""
    config: dict[str, Any] = {"memory_limit": memory_limit, "preserve_insertion_order": False}
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = str(scratch)
    with duckdb.connect(config=config) as con:
        con.execute("SET TimeZone = 'UTC'")
        lake.register(con)
        _stage(con, source, frames, on_frame)
        names, params = _names(lake, source, window), {"day": window.day}
        if source.key:
            for model in ("find_duplicate_keys", "collapse_identical_copies", "find_conflicting_copies", "kept_rows"):
                run_sql_file(con, f"landing/{model}.sql", params, names)
        else:
            run_sql_file(con, "landing/kept_rows_keyless.sql", params, names)
        fetched, rejected, duplicates, conflicting = con.execute(
            f"SELECT count(*), count(*) FILTER ({PROBLEM_FIELD} IS NOT NULL), "
            "(SELECT coalesce(sum(copies - 1), 0) FROM row_versions), (SELECT count(*) FROM conflicting_rows) "
            "FROM typed_rows"
        ).fetchall()[0]
        files = lake.new_file_names(source.name, window.day)
        quarantine = _quarantine(con, source, window.day, payloads)
        con.execute(f"COPY (SELECT * FROM kept_rows) TO {_literal(lake.path(source.name, files['rows']))} "
                    "(FORMAT parquet, COMPRESSION zstd)")
        if quarantine.num_rows:
            con.register("quarantine_rows", quarantine)
            con.execute(f"COPY quarantine_rows TO {_literal(lake.path(source.name, files['quarantine']))} "
                        "(FORMAT parquet, COMPRESSION zstd)")
        has_edges = source.carries_edges
        if has_edges:
            edges_sql = _render_edges(names)
            con.execute(f"COPY ({edges_sql}) TO {_literal(lake.path(source.name, files['edges']))} "
                        "(FORMAT parquet, COMPRESSION zstd)")
    result = IngestResult(source.name, fetched, int(duplicates), fetched - rejected - int(duplicates) - conflicting,
                          quarantine.num_rows)
    assert result.fetched == result.kept + result.quarantined + result.duplicates, result
    lake.commit(DayManifest(
        source=source.name, day=window.day.isoformat(), rows_file=files["rows"],
        quarantine_file=files["quarantine"] if quarantine.num_rows else None,
        edges_file=files["edges"] if has_edges else None,
        window_start=window.start.isoformat(), window_end=window.end.isoformat(), adapter=adapter,
        fetched=result.fetched, kept=result.kept, quarantined=result.quarantined, duplicates=result.duplicates,
        written_at=now_text(),
    ))
    return result


def _stage(con: duckdb.DuckDBPyConnection, source: CanonicalSource, frames: Iterable[pl.DataFrame],
           on_frame: Callable[[pl.DataFrame], None] | None) -> None:
    """Every frame into `typed_rows`, with the UTC day each row belongs to (`_day`)."""
    created = False
    for frame in frames:
        frame = conform(frame, source).with_columns(pl.col(source.day_column).dt.date().alias(DAY))
        _append(con, frame.to_arrow(compat_level=pl.CompatLevel.newest()), created)  # string views: no copy
        created = True
        if on_frame is not None:
            on_frame(frame)
    if not created:
        _append(con, empty_frame(source).with_columns(pl.lit(None, pl.Date).alias(DAY)).to_arrow(), False)


def _append(con: duckdb.DuckDBPyConnection, batch: pa.Table, exists: bool) -> None:
    con.register("staged_batch", batch)
    try:
        con.execute("INSERT INTO typed_rows BY NAME SELECT * FROM staged_batch" if exists
                    else "CREATE TEMP TABLE typed_rows AS SELECT * FROM staged_batch")
    finally:
        con.unregister("staged_batch")


def _names(lake: Lake, source: CanonicalSource, window: Window) -> dict[str, str]:
    columns = [*source.column_names, DAY]
    neighbours = [
        lake.path(source.name, m.rows_file)
        for d in (window.day.fromordinal(window.day.toordinal() - 1), window.day.fromordinal(window.day.toordinal() + 1))
        if (m := lake.manifest(source.name, d)) is not None
    ]
    key = ", ".join(map(_quote, source.key))
    at, start, end = _quote(source.day_column), window.start.isoformat(), window.end.isoformat()
    # a neighbour's rows outside this fetch's window stay stored: a copy arriving now that differs is a conflict
    stored_own_keys = (
        f"SELECT {key} FROM read_parquet([{', '.join(map(_literal, neighbours))}]) "
        f"WHERE {at} < TIMESTAMPTZ '{start}' OR {at} >= TIMESTAMPTZ '{end}'"
        if neighbours and source.key else
        f"SELECT {key} FROM typed_rows WHERE false" if source.key else ""
    )
    return {
        "columns": ", ".join(map(_quote, columns)),
        "key": key,
        "key_names": ", ".join(source.key),
        "key_label": source.label,
        "elsewhere": ELSEWHERE,
        "stored_own_keys": stored_own_keys,
        "day_column": _quote(source.day_column),
        "day": _literal(window.day.isoformat()),  # a date this code formats; views take no parameters
    }


def _render_edges(names: dict[str, str]) -> str:
    from pipelines.sql_files import render, statements

    (statement,) = statements("landing/day_edges.sql")
    return render(statement, names, "landing/day_edges.sql")


def _quarantine(con: duckdb.DuckDBPyConnection, source: CanonicalSource, day: date,
                payloads: Payloads | None) -> pa.Table:
    """Rejected rows and conflicting versions, with their wire text (asked of the adapter, or the
    typed row, where the frame carried none)."""
    rows = con.sql(
        f"""SELECT {ROW} AS row_number, {PROBLEM_FIELD} AS field, {PROBLEM_REASON} AS reason,
                   {PAYLOAD} AS raw_payload, {ORIGIN} AS origin
            FROM typed_rows WHERE {PROBLEM_FIELD} IS NOT NULL
            UNION ALL
            SELECT c._row, $key_names, c.reason, t.{PAYLOAD}, t.{ORIGIN}
            FROM conflicting_rows AS c JOIN typed_rows AS t USING (_row)
            ORDER BY 1""",
        params={"key_names": ", ".join(source.key)},
    ).pl()
    missing = rows.filter(pl.col("raw_payload").is_null())["row_number"].to_list()
    if missing:
        found = payloads(missing) if payloads is not None else {}
        still = [r for r in missing if r not in found]
        if still:
            found |= _typed_payloads(con, source, still)
        filled = pl.DataFrame({"row_number": list(found), "found": list(found.values())},
                              schema={"row_number": pl.Int64, "found": pl.String})
        rows = rows.join(filled, on="row_number", how="left").with_columns(
            pl.coalesce("raw_payload", "found").alias("raw_payload")).drop("found")
    return rows.select(
        pl.lit(source.name).alias("source"), pl.lit(day).alias("day"), "row_number", "field", "reason",
        "raw_payload", "origin",
    ).to_arrow().cast(QUARANTINE_SCHEMA)


def _typed_payloads(con: duckdb.DuckDBPyConnection, source: CanonicalSource, rows: list[int]) -> dict[int, str]:
    """The typed row as JSON, for an adapter that kept no wire text."""
    columns = ", ".join(map(_quote, source.column_names))
    found = con.execute(
        f"SELECT {ROW}, CAST(to_json(struct_pack({columns})) AS VARCHAR) FROM typed_rows WHERE list_contains(?, {ROW})",
        [rows],
    ).fetchall()
    return {row: json.dumps(json.loads(text)) for row, text in found}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
