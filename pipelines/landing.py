"""Landing: an adapter's canonical frames become one source-day of the lake (DESIGN.md rule 9,
"Day edges", "Storage").

Frames stream to staged Parquet files in a scratch folder (LZ4: ~0.3 s per million rows to
write, where inserting them into a DuckDB table cost ~1 s, and more once a 10 M-row day spilled
past the table's memory limit), so a 30 M-row day never sits whole in memory; a scratch DuckDB
reads them, and duplicates collapse and conflicting copies are found in set-based SQL
(sql/landing/). The day's rows, its rejected rows and each resource's first and last row are
written as Parquet, then the day's manifest is replaced: the day is the old one or the new
one, never a mix. Nothing here opens the warehouse file, so several
days can land side by side.
"""

from __future__ import annotations

import json
import shutil
import tempfile
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
    staging = Path(tempfile.mkdtemp(prefix=f"staged-{source.name}-", dir=scratch))
    try:
        with duckdb.connect(config=config) as con:
            con.execute("SET TimeZone = 'UTC'")
            lake.register(con)
            _stage(con, source, frames, on_frame, staging)
            return _store(con, lake, source, window, adapter, payloads)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _store(con: duckdb.DuckDBPyConnection, lake: Lake, source: CanonicalSource, window: Window, adapter: str,
           payloads: Payloads | None) -> IngestResult:
    """The staged rows deduplicated and written as the day's files, then the manifest swapped."""
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
           on_frame: Callable[[pl.DataFrame], None] | None, folder: Path) -> None:
    """Every frame to a Parquet file in `folder`, with the UTC day each row belongs to (`_day`);
    `typed_rows` reads them all."""
    files: list[str] = []
    for frame in frames:
        frame = conform(frame, source).with_columns(pl.col(source.day_column).dt.date().alias(DAY))
        files.append(_staged(frame, folder, len(files)))
        if on_frame is not None:
            on_frame(frame)
    if not files:
        files.append(_staged(empty_frame(source).with_columns(pl.lit(None, pl.Date).alias(DAY)), folder, 0))
    con.execute(f"CREATE TEMP VIEW typed_rows AS SELECT * FROM read_parquet([{', '.join(map(_literal, files))}])")


def _staged(frame: pl.DataFrame, folder: Path, number: int) -> str:
    path = str(folder / f"frame-{number:06d}.parquet")
    frame.write_parquet(path, compression="lz4", statistics=False)  # read once or twice, then deleted
    return path


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
