"""Staging and typing of FOCUS invoice rows: one set of rules for billing API pages and files alike.

Staging puts every FOCUS column we use, as text, into the temp table `invoice_staged`:

- API pages are parsed row by row in Python (`json` with `parse_float=str`, so `12.5` and `"12.5"`
  both arrive as their exact text, and each row's JSON text is kept as sent). Invoices are small
  (one row per resource, day and SKU: thousands a month), so per-row Python is fine here; the
  high-volume sources go through `pipelines.ingest` in bulk instead.
- Files are read by DuckDB with every column as VARCHAR (`read_csv(all_varchar=true)`, or
  `read_parquet` cast to VARCHAR), so `0.00000080000` stays exact and `NULL`/`null` are nulls.

Typing then casts them exactly (DECIMAL(38,18), TIMESTAMPTZ in UTC) into `invoice_typed`, and names
the first rule each row breaks in `problem` ({field, reason}), in FOCUS column order. The rules
follow the FOCUS specification for the columns reconciliation relies on (BillingPeriodStart/End,
ChargePeriodStart/End, ChargeCategory, BilledCost, BillingCurrency mandatory and non-null; decimal
columns numeric), and forgive what real exports do: `NULL`/`null` and empty strings as nulls,
timestamps without `T` or offset (UTC, as FOCUS requires), ChargeCategory in any case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from os import R_OK, PathLike, access
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from models.focus import CHARGE_CATEGORIES
from pipelines.client import split_envelope
from pipelines.sql_files import run_sql_file


class InvoiceImportError(ValueError):
    """An invoice source could not be read at all (not a readable file, not FOCUS, mixed currencies)."""


# FOCUS columns a file must have to be read as a FOCUS export at all (the others may be absent).
REQUIRED_FILE_COLUMNS = (
    "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "BilledCost",
)
# FOCUS column names as staged, between the bookkeeping columns.
FOCUS_STAGED = (
    "InvoiceId", "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd",
    "ChargeCategory", "ResourceId", "SkuId", "BilledCost", "EffectiveCost", "ListCost",
    "BillingCurrency", "PricingQuantity", "PricingUnit",
)
STAGED_COLUMNS = ("source", "row_number", "problem", *FOCUS_STAGED, "raw_payload")
API_SOURCE = "api"  # the `source` of rows from the billing API (files carry their path)
# Decimals are typed DECIMAL(38,18), the raw layer's type: a value with more than 18 decimal places
# is rejected (quarantined), never rounded.






def type_staged_rows(
    con: duckdb.DuckDBPyConnection, *, requested_period: str | None, expected_currency: str | None
) -> None:
    """`invoice_staged` -> `invoice_typed` (needs the session TimeZone to be UTC)."""
    con.execute("SET TimeZone = 'UTC'")
    run_sql_file(con, "invoices/focus_parse_macros.sql")
    run_sql_file(con, "invoices/type_invoice_rows.sql", {
        "categories": list(CHARGE_CATEGORIES),
        "expected_currency": expected_currency,
        "requested_period": requested_period,
        "api": API_SOURCE,
    })


# -- staging -------------------------------------------------------------------------------------
_DECODER = json.JSONDecoder(parse_float=str)  # every JSON number with a fraction or exponent stays text
_WS = re.compile(r"[ \t\n\r]*")


def _elements(array_text: str) -> Iterator[tuple[Any, str]]:
    """(value, exact JSON text) of each element of a JSON array."""
    i = _WS.match(array_text).end()
    if array_text[i : i + 1] != "[":
        raise ValueError("the page's data is not a JSON array")
    i = _WS.match(array_text, i + 1).end()
    if array_text[i : i + 1] == "]":
        return
    while True:
        value, end = _DECODER.raw_decode(array_text, i)
        yield value, array_text[i:end]
        i = _WS.match(array_text, end).end()
        if array_text[i : i + 1] == ",":
            i = _WS.match(array_text, i + 1).end()
        elif array_text[i : i + 1] == "]":
            return
        else:
            raise ValueError(f"unexpected {array_text[i : i + 1]!r} at offset {i} of the data array")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value)  # true/false, objects, arrays: kept visible, rejected by typing


def create_staging_table(con: duckdb.DuckDBPyConnection) -> None:
    """An empty `invoice_staged` temp table: every column text but row_number."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE invoice_staged ("
        + ", ".join(f"{_identifier(n)} {'BIGINT' if n == 'row_number' else 'VARCHAR'}" for n in STAGED_COLUMNS)
        + ")"
    )


def stage_api_pages(con: duckdb.DuckDBPyConnection, pages: Iterable[bytes]) -> int:
    """Append billing API pages to `invoice_staged`; returns the row count."""
    batch = api_rows_as_text(pages)
    con.register("invoice_api_batch", batch)
    try:
        con.execute("INSERT INTO invoice_staged BY NAME SELECT * FROM invoice_api_batch")
    finally:
        con.unregister("invoice_api_batch")
    return batch.num_rows


def api_rows_as_text(pages: Iterable[bytes]) -> pa.Table:
    """The rows of billing API pages with every FOCUS column as its exact text (per-row Python)."""
    out: dict[str, list] = {name: [] for name in STAGED_COLUMNS}
    number = 0
    for page_number, body in enumerate(pages, start=1):
        try:
            rows = bytes(split_envelope(body)[0]).decode("utf-8")
            elements = list(_elements(rows))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvoiceImportError(f"billing API invoice page {page_number} is not a valid page: {exc}") from None
        for value, raw in elements:
            number += 1
            fields = {k.lower(): v for k, v in value.items()} if isinstance(value, dict) else {}
            for name in STAGED_COLUMNS:
                if name == "source":
                    out[name].append(API_SOURCE)
                elif name == "row_number":
                    out[name].append(number)
                elif name == "problem":
                    out[name].append(None if isinstance(value, dict) else "is not a JSON object")
                elif name == "raw_payload":
                    out[name].append(raw)
                else:
                    out[name].append(_text(fields.get(name.lower())))
    # through polars: pyarrow converting Python lists imports pandas first (0.3 s a run)
    schema = {n: pl.Int64 if n == "row_number" else pl.String for n in STAGED_COLUMNS}
    return pl.DataFrame(out, schema=schema).to_arrow().cast(
        pa.schema([(n, pa.int64() if n == "row_number" else pa.string()) for n in STAGED_COLUMNS]))


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def stage_focus_file(
    con: duckdb.DuckDBPyConnection, path: str | PathLike[str], assume_currency: str | None = None
) -> str:
    """Append a FOCUS CSV or Parquet file to the `invoice_staged` temp table; returns its `source`
    (the resolved path).

    Every column is read as text. Column names match case-insensitively. `assume_currency` is used
    only when the file has no BillingCurrency column at all (the FOCUS spec examples omit it)."""
    path = Path(path)
    if not path.is_file() or not access(path, R_OK):
        raise InvoiceImportError(f"FOCUS invoice file {path} is not a readable file")
    source = str(path.resolve())
    with path.open("rb") as f:
        is_parquet = f.read(4) == b"PAR1"
    reader = (
        "read_parquet($path)" if is_parquet
        else "read_csv($path, all_varchar = true, header = true, nullstr = ['NULL', 'null'])"
    )
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE focus_file AS SELECT * FROM {reader} WITH ORDINALITY",
                    {"path": source})
    except duckdb.Error as exc:
        detail = str(exc).strip().splitlines()[0]
        kind = "Parquet" if is_parquet else "CSV"
        raise InvoiceImportError(f"FOCUS invoice file {source} cannot be read as {kind}: {detail}") from None
    try:
        columns = [r[0] for r in con.execute("DESCRIBE focus_file").fetchall() if r[0] != "ordinality"]
        by_lower = {c.lower(): c for c in columns}
        missing = [c for c in REQUIRED_FILE_COLUMNS if c.lower() not in by_lower]
        if missing:
            raise InvoiceImportError(
                f"FOCUS invoice file {source} is not a FOCUS export: no column {', '.join(missing)}"
            )
        selected = []
        for name in STAGED_COLUMNS:
            if name in ("source", "row_number", "problem", "raw_payload"):
                continue
            column = by_lower.get(name.lower())
            if column is not None:
                expr = f"nullif(trim(CAST({_identifier(column)} AS VARCHAR)), '')"
            elif name == "BillingCurrency" and assume_currency:
                expr = "CAST($assume_currency AS VARCHAR)"
            else:
                expr = "CAST(NULL AS VARCHAR)"
            selected.append(f"{expr} AS {_identifier(name)}")
        payload = "json_object(" + ", ".join(f"{_literal(c)}, {_identifier(c)}" for c in columns) + ")"
        params: dict[str, Any] = {"source": source}
        if "$assume_currency" in " ".join(selected):
            params["assume_currency"] = assume_currency
        con.execute(
            f"""INSERT INTO invoice_staged BY NAME
                SELECT CAST($source AS VARCHAR) AS source, ordinality AS row_number,
                       CAST(NULL AS VARCHAR) AS problem, {", ".join(selected)},
                       CAST({payload} AS VARCHAR) AS raw_payload
                FROM focus_file""",
            params,
        )
        return source
    finally:
        con.execute("DROP TABLE IF EXISTS focus_file")
