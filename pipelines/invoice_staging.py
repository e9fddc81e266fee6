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
import pyarrow as pa

from models.focus import CHARGE_CATEGORIES
from pipelines.client import split_envelope


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

MACROS = r"""
CREATE OR REPLACE TEMP MACRO focus_instant(sent) AS
    CASE WHEN regexp_full_match(sent, '\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)? ?([Zz]|[+-]\d{2}(:?\d{2})?)?')
         THEN TRY_CAST(upper(sent) AS TIMESTAMPTZ) END;
CREATE OR REPLACE TEMP MACRO focus_decimal_text(sent) AS
    regexp_full_match(sent, '[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?');
CREATE OR REPLACE TEMP MACRO focus_decimal_places(sent) AS
    length(rtrim(regexp_extract(sent, '\.(\d*)', 1), '0'))
    - coalesce(TRY_CAST(regexp_extract(sent, '[eE]([+-]?\d+)', 1) AS INTEGER), 0);
CREATE OR REPLACE TEMP MACRO focus_decimal(sent) AS
    CASE WHEN focus_decimal_text(sent) AND focus_decimal_places(sent) <= 18
         THEN TRY_CAST(sent AS DECIMAL(38, 18)) END;
CREATE OR REPLACE TEMP MACRO focus_decimal_problem(sent) AS
    CASE WHEN NOT focus_decimal_text(sent) THEN 'is not a decimal number: ' || sent
         WHEN focus_decimal_places(sent) > 18 THEN 'has more than 18 decimal places: ' || sent
         ELSE 'is out of range (|value| >= 1e20): ' || sent END;
"""

TYPE_ROWS = r"""
CREATE OR REPLACE TEMP TABLE invoice_typed AS
WITH cleaned AS (
    SELECT source, row_number, problem AS staged_problem, raw_payload,
        nullif(trim("InvoiceId"), '')          AS invoice_id,
        nullif(trim("BillingPeriodStart"), '') AS bps,
        nullif(trim("BillingPeriodEnd"), '')   AS bpe,
        nullif(trim("ChargePeriodStart"), '')  AS cps,
        nullif(trim("ChargePeriodEnd"), '')    AS cpe,
        nullif(trim("ChargeCategory"), '')     AS category,
        nullif(trim("ResourceId"), '')         AS resource_id,
        nullif(trim("SkuId"), '')              AS sku_id,
        nullif(trim("BilledCost"), '')         AS billed,
        nullif(trim("EffectiveCost"), '')      AS effective,
        nullif(trim("ListCost"), '')           AS list_text,
        nullif(trim("BillingCurrency"), '')    AS currency,
        nullif(trim("PricingQuantity"), '')    AS quantity,
        nullif(trim("PricingUnit"), '')        AS pricing_unit
    FROM invoice_staged
),
typed AS (
    SELECT *,
        focus_instant(bps) AS billing_period_start,
        focus_instant(bpe) AS billing_period_end,
        focus_instant(cps) AS charge_period_start,
        focus_instant(cpe) AS charge_period_end,
        list_filter($categories, lambda c: lower(c) = lower(category))[1] AS charge_category,
        focus_decimal(billed)    AS billed_cost,
        focus_decimal(effective) AS effective_cost,
        focus_decimal(list_text) AS list_cost,
        focus_decimal(quantity)  AS pricing_quantity,
        upper(currency)          AS billing_currency,
        strftime(focus_instant(bps), '%Y-%m') AS billing_period
    FROM cleaned
)
SELECT *,
    CASE
        WHEN staged_problem IS NOT NULL THEN {'field': 'row', 'reason': staged_problem}
        WHEN bps IS NULL THEN {'field': 'BillingPeriodStart', 'reason': 'is missing'}
        WHEN billing_period_start IS NULL THEN {'field': 'BillingPeriodStart', 'reason': 'is not a timestamp: ' || bps}
        WHEN bpe IS NULL THEN {'field': 'BillingPeriodEnd', 'reason': 'is missing'}
        WHEN billing_period_end IS NULL THEN {'field': 'BillingPeriodEnd', 'reason': 'is not a timestamp: ' || bpe}
        WHEN billing_period_end <= billing_period_start
            THEN {'field': 'BillingPeriodEnd', 'reason': 'is not after BillingPeriodStart'}
        WHEN cps IS NULL THEN {'field': 'ChargePeriodStart', 'reason': 'is missing'}
        WHEN charge_period_start IS NULL THEN {'field': 'ChargePeriodStart', 'reason': 'is not a timestamp: ' || cps}
        WHEN cpe IS NULL THEN {'field': 'ChargePeriodEnd', 'reason': 'is missing'}
        WHEN charge_period_end IS NULL THEN {'field': 'ChargePeriodEnd', 'reason': 'is not a timestamp: ' || cpe}
        WHEN charge_period_end < charge_period_start
            THEN {'field': 'ChargePeriodEnd', 'reason': 'is before ChargePeriodStart'}
        WHEN category IS NULL THEN {'field': 'ChargeCategory', 'reason': 'is missing'}
        WHEN charge_category IS NULL THEN {'field': 'ChargeCategory',
            'reason': 'is not one of ' || array_to_string($categories, ', ') || ': ' || category}
        WHEN billed IS NULL THEN {'field': 'BilledCost', 'reason': 'is missing'}
        WHEN billed_cost IS NULL THEN {'field': 'BilledCost', 'reason': focus_decimal_problem(billed)}
        WHEN effective IS NOT NULL AND effective_cost IS NULL
            THEN {'field': 'EffectiveCost', 'reason': focus_decimal_problem(effective)}
        WHEN list_text IS NOT NULL AND list_cost IS NULL
            THEN {'field': 'ListCost', 'reason': focus_decimal_problem(list_text)}
        WHEN currency IS NULL THEN {'field': 'BillingCurrency', 'reason': 'is missing'}
        WHEN NOT regexp_full_match(billing_currency, '[A-Z]{3}')
            THEN {'field': 'BillingCurrency', 'reason': 'is not an ISO 4217 code: ' || currency}
        WHEN billing_currency <> coalesce(CAST($expected_currency AS VARCHAR), billing_currency)
            THEN {'field': 'BillingCurrency', 'reason': 'is ' || billing_currency || ', expected ' || $expected_currency}
        WHEN quantity IS NOT NULL AND pricing_quantity IS NULL
            THEN {'field': 'PricingQuantity', 'reason': focus_decimal_problem(quantity)}
        WHEN source = $api AND billing_period <> coalesce(CAST($requested_period AS VARCHAR), billing_period)
            THEN {'field': 'BillingPeriodStart',
                  'reason': 'is in ' || billing_period || ', not the requested billing period ' || $requested_period}
    END AS problem
FROM typed
"""


def type_staged_rows(
    con: duckdb.DuckDBPyConnection, *, requested_period: str | None, expected_currency: str | None
) -> None:
    """`invoice_staged` -> `invoice_typed` (needs the session TimeZone to be UTC)."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute(MACROS)
    con.execute(
        TYPE_ROWS,
        {
            "categories": list(CHARGE_CATEGORIES),
            "expected_currency": expected_currency,
            "requested_period": requested_period,
            "api": API_SOURCE,
        },
    )


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
    schema = pa.schema([(n, pa.int64() if n == "row_number" else pa.string()) for n in STAGED_COLUMNS])
    return pa.table(out, schema=schema)


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
