"""Turn the raw layer into the marts for a range of UTC days (DESIGN.md "Accounting rules").

Every rule lives in one SQL file under `sql/`; this module only runs them in order, in
one transaction, so a failed run leaves the marts as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import duckdb

from pipelines.settings import AccountingSettings
from pipelines.sql_files import run_sql_file

INTERMEDIATE_MODELS = (
    "intermediate/int_samples_in_scope.sql",
    "intermediate/int_cost_intervals.sql",
    "intermediate/int_resources.sql",
    "intermediate/int_cost_watched_hours.sql",
    "intermediate/int_spend_intervals.sql",
    "intermediate/int_interval_hours.sql",
    "intermediate/int_wakes.sql",
    "intermediate/int_parked_stretches.sql",
    "intermediate/int_routed_requests.sql",
    "intermediate/int_busy_islands.sql",
    "intermediate/int_billing_cells.sql",
    "intermediate/int_timeline_segments.sql",
    "intermediate/int_piece_states.sql",
    "intermediate/int_request_seconds.sql",
    "intermediate/int_piece_state_spend.sql",
    "intermediate/int_dark_stretches.sql",
    "intermediate/int_request_tokens.sql",
)
DAILY_MARTS = (
    "marts/resource_hourly.sql",
    "marts/cost_per_mtok_daily.sql",
    "marts/observability_gaps.sql",
    "marts/billing_resets.sql",
)
WHOLE_MARTS = (
    "marts/cost_by_idle_fraction.sql",
    "marts/band_check.sql",
    "marts/crossover.sql",
    "marts/demand_profile.sql",
)


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


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The warehouse's own tables (marts, reports, invoices). The lake's sources are views over
    Parquet (pipelines/lake_views.py), attached for each build."""
    con.execute("SET TimeZone = 'UTC'")
    run_sql_file(con, "raw/create_invoice_tables.sql")
    run_sql_file(con, "schema/marts.sql")
    run_sql_file(con, "schema/reports.sql")
    run_sql_file(con, "schema/invoices.sql")


def build_marts(con: duckdb.DuckDBPyConnection, days: DayRange, settings: AccountingSettings) -> None:
    """Rebuild every mart row of `days` from the raw layer, atomically."""
    ensure_schema(con)
    params = {"range_start": days.start_at, "range_end": days.end_at, **settings.sql_params()}
    con.execute("BEGIN TRANSACTION")
    try:
        for model in INTERMEDIATE_MODELS:
            run_sql_file(con, model, params)
        check_single_billing_source(con)
        check_single_currency(con, days, settings.currency)
        for model in DAILY_MARTS + WHOLE_MARTS:
            run_sql_file(con, model, params)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def drop_intermediate(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the intermediate models once the marts and their checks are built from them."""
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'intermediate' AND database_name = current_database()"
    ).fetchall()
    for (table,) in tables:
        con.execute(f'DROP TABLE intermediate."{table}"')


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
