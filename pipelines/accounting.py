"""Turn the raw layer into the marts for a range of UTC days (DESIGN.md "Accounting rules").

Every rule lives in one SQL file under `sql/`; this module only runs them, each after the models
it reads (pipelines/sql_models.py), in one transaction, so a failed run leaves the marts as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from datetime import date, datetime, time, timedelta, timezone

import duckdb

from pipelines.settings import AccountingSettings
from pipelines.sql_files import declared_comments, run_sql_file
from pipelines.sql_models import ordered

# The invoice marts are built by the monthly job (pipelines/invoices.py), not by a day's build.
INVOICE_MARTS = ("invoice_reconciliation.sql", "cost_per_mtok_monthly.sql")


class CurrencyMixError(ValueError):
    """More than one billing currency without a configured conversion (rule 10)."""


class BillingSourceMixError(ValueError):
    """A resource billed both by sampled cumulative bills and by cost rows in one build."""


@dataclass(frozen=True)
class DayRange:
    """Whole UTC days [start, end)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty day range [{self.start}, {self.end})")

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(), timezone.utc)

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end, time(), timezone.utc)

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days)]


SCHEMA_FILES = (
    "raw/create_invoice_tables.sql",
    "schema/marts.sql",
    "schema/reports.sql",
    "schema/invoices.sql",
    "schema/token_crosscheck.sql",
)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The warehouse's own tables (marts, reports, invoices), with their COMMENTs. The lake's
    sources are views over Parquet (pipelines/lake_views.py), attached for each build.

    The DDL runs only when it changed since it last ran on this file (a fingerprint of the schema
    files is kept in `meta.schema`): every step of a run opens the warehouse, and running ~200
    DDL and COMMENT statements each time cost 0.3 s a step."""
    con.execute("SET TimeZone = 'UTC'")
    fingerprint = schema_fingerprint()
    try:
        if con.execute("SELECT fingerprint FROM meta.schema").fetchall() == [(fingerprint,)]:
            return
    except duckdb.CatalogException:
        pass
    drop_intermediate(con)
    con.execute("DROP SCHEMA IF EXISTS intermediate CASCADE")  # where older versions kept the scratch models
    for relative in SCHEMA_FILES:
        run_sql_file(con, relative)
        for comment in declared_comments(relative):
            con.execute(comment)
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute("CREATE OR REPLACE TABLE meta.schema AS SELECT ? AS fingerprint", [fingerprint])


@cache
def schema_fingerprint() -> str:
    import hashlib

    from pipelines.sql_files import SQL_DIR

    digest = hashlib.sha256()
    for relative in SCHEMA_FILES:
        digest.update((SQL_DIR / relative).read_bytes())
    return digest.hexdigest()


def build_marts(con: duckdb.DuckDBPyConnection, days: DayRange, settings: AccountingSettings) -> None:
    """Rebuild every mart row of `days` from the raw layer; the marts change in one transaction.

    The intermediate models are scratch: they live in an in-memory database attached as
    `intermediate` (spilling to DuckDB's temp folder past the memory limit), so they never take
    blocks of the working file, which would keep them after a DROP (DuckDB files do not shrink)."""
    ensure_schema(con)
    params = {"range_start": days.start_at, "range_end": days.end_at, **settings.sql_params()}
    drop_intermediate(con)
    con.execute("ATTACH ':memory:' AS intermediate")
    intermediate, marts = ordered("intermediate", con=con), ordered("marts", INVOICE_MARTS, con=con)
    for model in intermediate:  # each after the models it reads (pipelines/sql_models.py)
        run_sql_file(con, model, params)
    check_single_billing_source(con)
    check_single_currency(con, days, settings.currency)
    con.execute("BEGIN TRANSACTION")
    try:
        for model in marts:
            run_sql_file(con, model, params)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def drop_intermediate(con: duckdb.DuckDBPyConnection) -> None:
    """Free the intermediate models once the marts and their checks are built from them."""
    attached = con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = 'intermediate'").fetchall()
    if attached[0][0]:
        con.execute("DETACH intermediate")


def widen_to_unfinished_day_before(con: duckdb.DuckDBPyConnection, days: DayRange) -> DayRange:
    """Include the day before `days` when it was published with incomplete billing.

    "Day edges": until the first sample after a day's end is stored, the day's last stretch is
    dark; the next run, which stores that sample, is the one that can make the day whole.
    """
    before = DayRange(days.start - timedelta(days=1), days.start)
    unfinished = con.execute(
        "SELECT count(*) FROM marts.resource_hourly WHERE hour >= ? AND hour < ? AND NOT billing_complete",
        [before.start_at, before.end_at],
    ).fetchall()[0][0]
    return DayRange(before.start, days.end) if unfinished else days


def check_single_billing_source(con: duckdb.DuckDBPyConnection) -> None:
    """A resource takes its spend from one billing source: summing its samples and its cost rows
    would count its money twice, and picking one silently would drop the other's."""
    both = [r for (r,) in con.execute(
        "SELECT resource_id FROM intermediate.resources GROUP BY resource_id HAVING count(DISTINCT billing) > 1 "
        "ORDER BY resource_id"
    ).fetchall()]
    if both:
        listed = ", ".join(both[:10]) + (" …" if len(both) > 10 else "")
        raise BillingSourceMixError(
            f"resources billed both by billing snapshots and by FOCUS cost rows in the days built: {listed} "
            "(one resource takes its spend from one billing source: map the FOCUS ResourceId to another "
            "resource_id in [[resource_map]], or keep one source's rows for those days)"
        )


def check_single_currency(con: duckdb.DuckDBPyConnection, days: DayRange, expected: str | None) -> None:
    rows = con.execute(
        # the samples that bill the range: a resource terminated before it bills nothing in it;
        # the cost rows whose period reaches into the range (rule 11)
        "SELECT currency, list(DISTINCT resource_id ORDER BY resource_id), list(DISTINCT billing) FROM ("
        "  SELECT currency, resource_id, 'billing snapshots' AS billing FROM intermediate.samples_in_scope "
        "  WHERE sampled_at >= ? OR state <> 'terminated'"
        "  UNION ALL SELECT currency, resource_id, 'FOCUS cost rows' FROM intermediate.cost_intervals "
        "  WHERE interval_end > ? AND interval_start < ?"
        ") GROUP BY currency ORDER BY currency",
        [days.start_at, days.start_at, days.end_at],
    ).fetchall()
    currencies = {currency: resources for currency, resources, _ in rows}
    sources = sorted({s for _, _, billing in rows for s in billing})
    allowed = {expected} if expected else set(list(currencies)[:1])
    if len(currencies) > 1 or not set(currencies) <= allowed:
        detail = "; ".join(f"{c}: {', '.join(r[:10])}{' …' if len(r) > 10 else ''}" for c, r in currencies.items())
        raise CurrencyMixError(
            f"{' and '.join(sources) or 'billing'} mix currencies without a configured conversion ({detail})"
        )
