"""The provider's invoice: FOCUS rows into `raw.invoice_rows`, then the two invoice marts.

Sources (DESIGN.md "Sources"): the billing API's `GET /v1/billing/invoices?billing_period=YYYY-MM`
pages, and FOCUS CSV or Parquet exports on disk (how AWS, Azure, GCP and OCI hand invoices over).
Every source is first staged with each FOCUS column as text, so one SQL typing step applies the
same rules to both and decimals are never floats (`pipelines.invoice_staging`: API pages parsed
per row in Python with `parse_float=str`, files read by DuckDB with every column as VARCHAR).

Rows that break the contract go to `quarantine.invoice_rows` with the column and the reason.
An import replaces whole billing periods in one transaction, so re-importing is idempotent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from os import PathLike
from typing import Any

import duckdb

from pipelines.accounting import ensure_schema
from pipelines.invoice_staging import (
    API_SOURCE,
    InvoiceImportError,
    create_staging_table,
    stage_api_pages,
    stage_focus_file,
    type_staged_rows,
)
from pipelines.sql_files import run_sql_file

NO_RESOURCE = "__no_resource__"  # the resource_id of invoice rows without a ResourceId (in the SQL too)
# DESIGN.md "Checks": reconciled within max(0.5 %, $0.01) per resource and period.
RELATIVE_TOLERANCE = Decimal("0.005")
ABSOLUTE_TOLERANCE = Decimal("0.01")

__all__ = [
    "ABSOLUTE_TOLERANCE", "API_SOURCE", "NO_RESOURCE", "RELATIVE_TOLERANCE", "InvoiceImport", "InvoiceImportError",
    "ReconciliationSummary", "build_invoice_marts", "ensure_invoice_schema", "import_focus_files", "import_invoices",
    "month_bounds", "reconciliation_summary",
]
_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class InvoiceImport:
    """What one import did: read = kept + quarantined + other_periods."""

    billing_periods: tuple[str, ...]  # the periods replaced
    sources: tuple[str, ...]
    read: int
    kept: int
    quarantined: int
    other_periods: int  # file rows of another billing period than the one imported (left for its own import)


def ensure_invoice_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The raw, quarantine and mart tables of invoices (idempotent); sets TimeZone to UTC."""
    ensure_schema(con)
    run_sql_file(con, "raw/create_invoice_tables.sql")
    run_sql_file(con, "schema/invoices.sql")


def month_bounds(billing_period: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of 'YYYY-MM', UTC."""
    if not _PERIOD.fullmatch(billing_period or ""):
        raise ValueError(f"billing period must be YYYY-MM, got {billing_period!r}")
    year, month = int(billing_period[:4]), int(billing_period[5:])
    start = datetime.combine(date(year, month, 1), time(), timezone.utc)
    end = datetime.combine(date(year + month // 12, month % 12 + 1, 1), time(), timezone.utc)
    return start, end


# -- import --------------------------------------------------------------------------------------
def import_invoices(
    con: duckdb.DuckDBPyConnection,
    *,
    billing_period: str | None = None,
    pages: Iterable[bytes] | None = None,
    paths: Sequence[str | PathLike[str]] = (),
    expected_currency: str | None = None,
    assume_currency: str | None = None,
) -> InvoiceImport:
    """Import invoice rows from billing API `pages` and/or FOCUS `paths`; replace their billing periods.

    With `billing_period` ('YYYY-MM'), exactly that period is replaced: API rows of another period
    are quarantined (the API was asked for this one), file rows of another period are left for
    their own import (counted in `other_periods`), and rejected rows whose period cannot be told
    are filed under it. Without it, every period found in the sources is replaced.
    `expected_currency` quarantines rows in any other currency; without it, the rows kept must
    share one currency (DESIGN.md rule 10) or the import fails naming them.
    """
    if billing_period is not None:
        month_bounds(billing_period)  # validates YYYY-MM
    ensure_invoice_schema(con)
    create_staging_table(con)
    try:
        sources: list[str] = []
        if pages is not None:
            stage_api_pages(con, pages)
            sources.append(API_SOURCE)
        for path in paths:
            sources.append(stage_focus_file(con, path, assume_currency))
        type_staged_rows(con, requested_period=billing_period, expected_currency=expected_currency)
        return _replace_periods(con, billing_period, sources, expected_currency)
    finally:
        con.execute("DROP TABLE IF EXISTS invoice_staged; DROP TABLE IF EXISTS invoice_typed")


def import_focus_files(
    con: duckdb.DuckDBPyConnection, paths: Sequence[str | PathLike[str]], **options: Any
) -> InvoiceImport:
    """`import_invoices` over FOCUS files only (every billing period they hold, unless one is given)."""
    if isinstance(paths, (str, PathLike)):
        paths = [paths]
    return import_invoices(con, paths=paths, **options)


def _replace_periods(
    con: duckdb.DuckDBPyConnection, period: str | None, sources: list[str], expected_currency: str | None
) -> InvoiceImport:
    # Which typed rows go where: kept (raw), quarantined, or left for another period's import.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE invoice_routed AS
           SELECT *,
               CASE
                   WHEN problem IS NULL AND (CAST($period AS VARCHAR) IS NULL OR billing_period = $period) THEN 'kept'
                   WHEN problem IS NOT NULL AND (CAST($period AS VARCHAR) IS NULL OR billing_period IS NULL
                                                 OR billing_period = $period OR source = $api) THEN 'quarantined'
                   ELSE 'other_period'
               END AS route,
               coalesce(CAST($period AS VARCHAR), billing_period) AS filed_period
           FROM invoice_typed""",
        {"period": period, "api": API_SOURCE},
    )
    read, kept, quarantined, other = con.execute(
        "SELECT count(*), count(*) FILTER (route = 'kept'), count(*) FILTER (route = 'quarantined'), "
        "count(*) FILTER (route = 'other_period') FROM invoice_routed"
    ).fetchall()[0]
    if expected_currency is None:
        currencies = con.execute(
            "SELECT billing_currency, count(*) FROM invoice_routed WHERE route = 'kept' GROUP BY ALL ORDER BY 1"
        ).fetchall()
        if len(currencies) > 1:
            listed = ", ".join(f"{c} ({n} rows)" for c, n in currencies)
            raise InvoiceImportError(
                f"invoice rows mix currencies without a configured conversion: {listed} (from {', '.join(sources)})"
            )
    if period is not None:
        periods = [period]
    else:
        periods = [r[0] for r in con.execute(
            "SELECT DISTINCT filed_period FROM invoice_routed WHERE route <> 'other_period' "
            "AND filed_period IS NOT NULL ORDER BY 1"
        ).fetchall()]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM raw.invoice_rows WHERE list_contains($periods, billing_period)", {"periods": periods})
        con.execute(
            "DELETE FROM quarantine.invoice_rows WHERE list_contains($periods, billing_period) "
            "OR (billing_period IS NULL AND list_contains($sources, source))",
            {"periods": periods, "sources": sources},
        )
        con.execute(
            """INSERT INTO raw.invoice_rows BY NAME
               SELECT billing_period, invoice_id, billing_period_start, billing_period_end,
                      charge_period_start, charge_period_end, charge_category, resource_id, sku_id,
                      billed_cost, effective_cost, list_cost, billing_currency, pricing_quantity,
                      pricing_unit, source, row_number, raw_payload
               FROM invoice_routed WHERE route = 'kept' ORDER BY source, row_number"""
        )
        con.execute(
            """INSERT INTO quarantine.invoice_rows BY NAME
               SELECT source, filed_period AS billing_period, row_number, problem.field AS field,
                      problem.reason AS reason, raw_payload
               FROM invoice_routed WHERE route = 'quarantined' ORDER BY source, row_number"""
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS invoice_routed")
    return InvoiceImport(tuple(periods), tuple(sources), read, kept, quarantined, other)


# -- marts ---------------------------------------------------------------------------------------
def build_invoice_marts(
    con: duckdb.DuckDBPyConnection,
    billing_period: str,
    *,
    relative_tolerance: Decimal = RELATIVE_TOLERANCE,
    absolute_tolerance: Decimal = ABSOLUTE_TOLERANCE,
) -> None:
    """Rebuild `marts.invoice_reconciliation` and `marts.cost_per_mtok_monthly` for one period, atomically.

    Reads `raw.invoice_rows`, `marts.resource_hourly` and `marts.cost_per_mtok_daily` as they are:
    the daily marts of the period's days should be built first."""
    start, end = month_bounds(billing_period)
    ensure_invoice_schema(con)
    params = {
        "billing_period": billing_period, "period_start": start, "period_end": end,
        "relative_tolerance": relative_tolerance, "absolute_tolerance": absolute_tolerance,
    }
    con.execute("BEGIN TRANSACTION")
    try:
        run_sql_file(con, "marts/invoice_reconciliation.sql", params)
        run_sql_file(con, "marts/cost_per_mtok_monthly.sql", params)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


@dataclass(frozen=True)
class ReconciliationSummary:
    billing_period: str
    usage_rows: int
    reconciled: int
    outside: list[dict]  # Usage rows not reconciled: mismatch, not_invoiced, not_observed
    apart: list[dict]  # credit, tax, adjustment, purchase rows (informational)

    @property
    def passed(self) -> bool:
        return not self.outside


USAGE_STATUSES = ("reconciled", "mismatch", "not_invoiced", "not_observed")


def reconciliation_summary(con: duckdb.DuckDBPyConnection, billing_period: str) -> ReconciliationSummary:
    cursor = con.execute(
        "SELECT resource_id, status, snapshot_spend, invoiced_cost, variance, variance_pct "
        "FROM marts.invoice_reconciliation WHERE billing_period = ? ORDER BY status, resource_id",
        [billing_period],
    )
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r)) for r in cursor.fetchall()]
    usage = [r for r in rows if r["status"] in USAGE_STATUSES]
    return ReconciliationSummary(
        billing_period,
        usage_rows=len(usage),
        reconciled=sum(r["status"] == "reconciled" for r in usage),
        outside=[r for r in usage if r["status"] != "reconciled"],
        apart=[r for r in rows if r["status"] not in USAGE_STATUSES],
    )
