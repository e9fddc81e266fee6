"""OTLP/JSON trace lines, as the OpenTelemetry Collector's file exporter writes them, into span frames.

The wire, as its sources define it:
- opentelemetry-collector-contrib `exporter/fileexporter/README.md` ("File Format"): with
  `format: json` and no compression, each line of the file is one JSON object, an
  `ExportTraceServiceRequest` (`resourceSpans` → `scopeSpans` → `spans`).
- opentelemetry-proto `docs/specification.md` ("JSON Protobuf Encoding"): the proto3 JSON
  mapping with lowerCamelCase keys; `traceId`/`spanId` are case-insensitive hex; enums are
  integers; 64-bit integers are decimal strings, and "either numbers or strings are accepted
  when decoding"; receivers ignore fields they do not know.
- `opentelemetry/proto/trace/v1/trace.proto`: before OTLP 0.15 the middle level was
  `instrumentationLibrarySpans`; old files are still read.

The lines are cut with numpy (no Python per line) and decoded by DuckDB's JSON functions in one
query (about three times polars' `str.json_decode` here). Every scalar leaf is read as text (a
JSON number or string alike) and cast by the caller, so `"12"` and `12` read the same.

A line is rejected whole, with its number and reason, when it is not JSON, not an object
holding a `resourceSpans` array, or when some of its spans did not decode (a container of the
wrong type, which DuckDB's lenient `json_transform` would read as absent: such a line holds more
`"endTimeUnixNano"` keys than decoded spans). The other lines are read as usual.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

_ANY_VALUE = '{"stringValue":"VARCHAR","intValue":"VARCHAR","doubleValue":"VARCHAR","boolValue":"VARCHAR"}'
_KEY_VALUES = f'[{{"key":"VARCHAR","value":{_ANY_VALUE}}}]'
_SPAN = ('{"traceId":"VARCHAR","spanId":"VARCHAR","name":"VARCHAR","startTimeUnixNano":"VARCHAR",'
         f'"endTimeUnixNano":"VARCHAR","attributes":{_KEY_VALUES},"status":{{"code":"VARCHAR","message":"VARCHAR"}}}}')
_SCOPES = f'[{{"spans":[{_SPAN}]}}]'
EXPORT_REQUEST = (f'{{"resourceSpans":[{{"resource":{{"attributes":{_KEY_VALUES}}},'
                  f'"scopeSpans":{_SCOPES},"instrumentationLibrarySpans":{_SCOPES}}}]}}')
_END_KEY = '"endTimeUnixNano"'

NOT_JSON = "malformed_line: not valid JSON"
NOT_A_REQUEST = "malformed_line: not an OTLP ExportTraceServiceRequest (no resourceSpans array)"
SPANS_LOST = "malformed_line: some spans are not shaped as OTLP spans"


def file_lines(path: Path) -> pa.Table:
    """`line_no` (from 1) and `text` (with its newline) of every line, as Arrow over the file's
    own bytes. Bytes that are not UTF-8 are replaced first (such a line then fails to decode or
    keeps a replacement character)."""
    data = path.read_bytes()
    try:
        return _split(data)
    except pa.ArrowInvalid:
        return _split(data.decode("utf-8", errors="replace").encode("utf-8"))


def _split(data: bytes) -> pa.Table:
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + 1
    if not len(ends) or ends[-1] != len(data):
        ends = np.append(ends, len(data))  # a last line without newline (perhaps still being written)
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    text = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(data))
    text.validate(full=True)  # raises ArrowInvalid on bytes that are not UTF-8
    return pa.table({"line_no": np.arange(1, len(ends) + 1, dtype=np.int64), "text": text})


def read_spans(
    lines: pa.Table, *, span_name: str, resource_keys: list[str], span_keys: list[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(line facts, spans) of the non-blank lines, each line decoded once, in one streaming query.

    Line facts: `line_no`, `line_problem` (null on a good line), `text` (on bad lines only) and
    `latest_end_nanos` (the latest end, as an integer, of a `span_name` span in the line).
    Spans: those named `span_name` in good lines, with `line_no`, their place (`rs_i`,
    `scope_kind`, `scope_i`, `span_i`), `spanId`, `traceId`, `start_nanos`, `end_nanos`,
    `status_code`, `status_message` (text), `resource:<key>` (text) and `attr:<key>` (an
    AnyValue struct, null when absent)."""
    try:
        rows = _span_rows(lines, span_name, resource_keys, span_keys, tolerant=False)
    except duckdb.Error:  # some line is not JSON: decode again, line by line where needed
        rows = _span_rows(lines, span_name, resource_keys, span_keys, tolerant=True)
    facts = rows.group_by("line_no", maintain_order=True).agg(
        pl.col("line_problem").first(),
        pl.col("end_keys").first(),
        pl.col("decoded").sum(),
        pl.col("end_nanos").filter(pl.col("wanted")).str.to_integer(strict=False).max().alias("latest_end_nanos"),
    ).with_columns(
        # a line holding more span end times than decoded spans lost some to a wrong shape
        pl.coalesce("line_problem", pl.when(pl.col("end_keys") > pl.col("decoded")).then(pl.lit(SPANS_LOST)))
        .alias("line_problem"))
    bad = facts.filter(pl.col("line_problem").is_not_null()).select("line_no")
    texts = pl.from_arrow(lines).join(bad, on="line_no").select(
        "line_no", pl.col("text").str.strip_chars_end("\r\n"))
    facts = facts.join(texts, on="line_no", how="left").select("line_no", "line_problem", "text", "latest_end_nanos")
    spans = rows.filter(pl.col("wanted")).join(bad, on="line_no", how="anti").drop(
        "line_problem", "end_keys", "decoded", "wanted")
    return facts, spans


def _span_rows(lines: pa.Table, span_name: str, resource_keys: list[str], span_keys: list[str], *,
               tolerant: bool) -> pl.DataFrame:
    """One row per span of each line, and one row with no span for a line that has none (or is
    bad), so the line's facts come from the same pass: nothing decoded is ever materialised."""
    decode = f"json_transform(text, '{EXPORT_REQUEST}')"
    resource = "".join(
        f"{_text(_attribute('rs.resource.attributes', k))} AS {_quote('resource:' + k)}, " for k in resource_keys)
    fields = "".join(
        f", CASE WHEN wanted THEN {expr} END AS {_quote(name)}" for name, expr in [
            ("spanId", "span.spanId"), ("traceId", "span.traceId"), ("start_nanos", "span.startTimeUnixNano"),
            ("end_nanos", "span.endTimeUnixNano"), ("status_code", "span.status.code"),
            ("status_message", "span.status.message"),
            *((f"attr:{k}", _attribute("span.attributes", k)) for k in span_keys)])
    with duckdb.connect() as con:
        con.register("lines", lines)
        return con.sql(f"""
            WITH decoded AS (
                SELECT line_no, text, {f'TRY({decode})' if tolerant else decode} AS r,
                       (length(text) - length(replace(text, '{_END_KEY}', ''))) // {len(_END_KEY)} AS end_keys
                FROM lines WHERE trim(text, ' \t\r\n') <> ''
            ), flagged AS (
                SELECT line_no, end_keys, r.resourceSpans AS list,
                       CASE WHEN r IS NULL AND NOT json_valid(text) THEN '{NOT_JSON}'
                            WHEN r.resourceSpans IS NULL THEN '{NOT_A_REQUEST}' END AS line_problem
                FROM decoded
            ), resources AS (
                SELECT line_no, end_keys, line_problem, {_unnest_or_null("list", "rs")}
                FROM flagged
            ), scopes AS (
                SELECT line_no, end_keys, line_problem, rs_i, {resource}
                       list_concat(
                           list_transform(coalesce(rs.scopeSpans, []),
                                          lambda s, i: {{'kind': 0, 'i': i - 1, 'spans': s.spans}}),
                           list_transform(coalesce(rs.instrumentationLibrarySpans, []),
                                          lambda s, i: {{'kind': 1, 'i': i - 1, 'spans': s.spans}})) AS list
                FROM resources
            ), scoped AS (
                SELECT * EXCLUDE (list), {_unnest_or_null("list", "scope")} FROM scopes
            ), spans AS (
                SELECT * EXCLUDE (scope, scope_i), scope.kind AS scope_kind, scope.i AS scope_i,
                       {_unnest_or_null("scope.spans", "span")}
                FROM scoped
            )
            SELECT * EXCLUDE (span) {fields}
            FROM (SELECT *, span IS NOT NULL AS decoded, coalesce(span.name = $name, FALSE) AS wanted FROM spans)
            ORDER BY line_no, rs_i, scope_kind, scope_i, span_i
        """, params={"name": span_name}).pl()


def _unnest_or_null(items: str, name: str) -> str:
    """`name` and `name_i` (its index from 0) for each item of the list `items`, or one row of
    NULLs when it is empty or NULL (so the line is not lost from the facts)."""
    some = f"coalesce(len({items}), 0) > 0"
    return (f"unnest(CASE WHEN {some} THEN {items} ELSE [NULL] END) AS {name}, "
            f"unnest(CASE WHEN {some} THEN generate_series(0, len({items}) - 1) ELSE [NULL] END) AS {name}_i")


def span_texts(lines: pa.Table, places: pl.DataFrame) -> pl.DataFrame:
    """The JSON text of spans at `places` (`line_no`, `rs_i`, `scope_kind`, `scope_i`, `span_i`),
    as the line holds them (`json_extract` keeps the keys that were there, adds none)."""
    containers = ["scopeSpans", "instrumentationLibrarySpans"]
    with duckdb.connect() as con:
        con.register("lines", lines)
        con.register("places", places.to_arrow())
        return con.sql(f"""
            SELECT p.*, json_extract(l.text, '$.resourceSpans[' || p.rs_i || '].'
                   || ({containers!r})[p.scope_kind + 1] || '[' || p.scope_i || '].spans[' || p.span_i || ']'
                   )::VARCHAR AS text
            FROM places AS p JOIN lines AS l USING (line_no)
        """).pl()


def _attribute(attributes: str, key: str) -> str:
    """The AnyValue of `key` (its first occurrence) in a KeyValue list, else NULL."""
    return f"list_filter({attributes}, lambda a: a.key = {_literal(key)})[1].value"


def _text(any_value: str) -> str:
    """An AnyValue as text, whichever scalar it holds (a replica id may be set as an int)."""
    return f"coalesce({any_value}.stringValue, {any_value}.intValue, {any_value}.doubleValue, {any_value}.boolValue)"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def unix_nano_to_instant(text: pl.Expr) -> pl.Expr:
    """A `fixed64` unix-nano time (string or number) as a UTC instant in microseconds (the
    canonical precision; sub-microsecond digits are dropped). Unparsable text gives null."""
    nanos = text.str.to_integer(strict=False)
    return (nanos // 1000).cast(pl.Datetime("us", "UTC"))
