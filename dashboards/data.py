"""What the dashboard shows, read from the published DuckDB file (the truth users see).

Each query returns plain rows (dicts) with the published values untouched: money stays Decimal, so
the `data-` attributes the renderer writes are exactly what a SQL tool would read. A table that is
not in the file (a mart not built yet, e.g. marts.invoice_reconciliation) reads as `None`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb

from pipelines.sql_files import ready_query

Row = dict[str, Any]
DEFAULT_MAX_MISS_PCT = Decimal("1")  # DESIGN.md: the token cross-check warns below -1 %

TIER_DAYS = ready_query("usd_per_mtok_by_day")
IDLE_CURVE = ready_query("utilisation_curve")
IDLE_BUCKETS = "SELECT idle_bucket, label FROM marts.idle_buckets ORDER BY position"

SPEND_BY_STATE = """
SELECT hour::DATE AS day, tier,
       sum(spend) AS spend, sum(spend_serving) AS serving, sum(spend_idle) AS idle,
       sum(spend_waking) AS waking, sum(spend_parked) AS parked,
       bool_and(billing_complete) AS billing_complete
FROM marts.resource_hourly
GROUP BY ALL
ORDER BY tier, day
"""

MODELS = ready_query("usd_per_mtok_by_model")
CROSSOVER = "SELECT * FROM marts.crossover ORDER BY tier"
DEMAND = "SELECT * FROM marts.demand_profile ORDER BY tier, day"
GAPS = """
SELECT g.resource_id, r.tier, g.gap_start, g.gap_end, g.seconds
FROM marts.observability_gaps AS g
LEFT JOIN (SELECT resource_id, any_value(tier) AS tier FROM marts.resource_hourly GROUP BY ALL) AS r USING (resource_id)
ORDER BY g.gap_start, g.resource_id
"""
RESETS = 'SELECT resource_id, "at", previous_cumulative, cumulative, reason FROM marts.billing_resets ORDER BY "at", resource_id'
RESOURCES = """
SELECT resource_id, any_value(tier) AS tier, min(hour) AS first_hour, max(hour) AS last_hour
FROM marts.resource_hourly GROUP BY resource_id ORDER BY tier, resource_id
"""
QUARANTINE_SOURCES = ("requests", "billing_snapshots", "fleet_events", "cost_rows")
RECONCILIATION = """
SELECT billing_period, status, count(*) AS rows, sum(snapshot_spend) AS snapshot_spend,
       sum(invoiced_cost) AS invoiced_cost, sum(variance) AS variance
FROM marts.invoice_reconciliation
GROUP BY ALL
ORDER BY billing_period, status
"""
# The latest billing period, every row: resources first (worst first), then the other charge
# categories, which DESIGN.md keeps out of any resource's variance.
RECONCILIATION_LATEST = """
SELECT billing_period, resource_id, snapshot_spend, invoiced_cost, variance, variance_pct, status
FROM marts.invoice_reconciliation
WHERE billing_period = (SELECT max(billing_period) FROM marts.invoice_reconciliation)
ORDER BY CASE status WHEN 'mismatch' THEN 0 WHEN 'not_invoiced' THEN 1 WHEN 'not_observed' THEN 2
                     WHEN 'reconciled' THEN 3 ELSE 4 END,
         abs(coalesce(variance, 0)) DESC, resource_id, status
"""
# The latest result of each check (a table another step appends to, one row per check and run).
CHECKS_LATEST = """
SELECT run_id, checked_at, asset, check_name, severity, passed, expectation, failing_rows, examples, query
FROM marts.check_results
QUALIFY row_number() OVER (PARTITION BY asset, check_name ORDER BY checked_at DESC, run_id DESC) = 1
ORDER BY passed NULLS FIRST, CASE upper(severity) WHEN 'ERROR' THEN 0 ELSE 1 END, asset, check_name
"""
CHECK_RUNS = """
SELECT count(DISTINCT run_id) AS runs, count(*) AS results, min(checked_at) AS first_checked_at,
       max(checked_at) AS last_checked_at
FROM marts.check_results
"""
# Token cross-check (DESIGN.md): difference_pct is already in percent; judged hours are those the
# engines counted something in (the check's own rule).
CROSSCHECK_BY_RESOURCE = """
SELECT resource_id, count(*) AS hours, count(*) FILTER (WHERE counted_tokens > 0) AS judged_hours,
       count(*) FILTER (WHERE difference_pct < -$max_miss_pct) AS flagged_hours,
       coalesce(sum(logged_tokens) FILTER (WHERE counted_tokens > 0), 0) AS logged_tokens,
       coalesce(sum(counted_tokens) FILTER (WHERE counted_tokens > 0), 0) AS counted_tokens,
       min(difference_pct) AS worst_difference_pct, min(hour) AS first_hour, max(hour) AS last_hour
FROM marts.token_crosscheck
GROUP BY resource_id
ORDER BY flagged_hours DESC, resource_id
"""
CROSSCHECK_FLAGGED = """
SELECT hour, resource_id, logged_tokens, counted_tokens, difference, difference_pct
FROM marts.token_crosscheck
WHERE difference_pct < -$max_miss_pct
ORDER BY difference_pct, hour, resource_id
"""


@dataclass
class DashboardData:
    tier_days: list[Row]
    idle_curve: list[Row]
    idle_buckets: list[Row]
    spend_by_state: list[Row]
    models: list[Row]
    crossover: list[Row] | None
    demand: list[Row] | None
    gaps: list[Row]
    resets: list[Row]
    resources: list[Row]
    quarantine: dict[str, int | None]
    reconciliation: list[Row] | None
    reconciliation_latest: list[Row] | None
    band: tuple[Any, Any] | None  # (low, high) $/Mtok from the band mart's configuration, if known
    checks: list[Row] | None = None  # None: marts.check_results is not in the file
    check_runs: Row | None = None
    crosscheck: list[Row] | None = None  # None: marts.token_crosscheck is not in the file
    crosscheck_flagged: list[Row] | None = None
    max_miss_pct: Decimal = DEFAULT_MAX_MISS_PCT

    @property
    def tiers(self) -> list[str]:
        return sorted({r["tier"] for r in self.tier_days})

    @property
    def days(self) -> list:
        return sorted({r["day"] for r in self.tier_days})


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> list[Row]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """A table or a view (raw and quarantine are views over the lake in a published file)."""
    return bool(con.execute(
        "SELECT count(*) FROM (SELECT schema_name, table_name AS name, database_name FROM duckdb_tables() "
        "UNION ALL SELECT schema_name, view_name, database_name FROM duckdb_views()) "
        "WHERE schema_name = ? AND name = ? AND database_name = current_database()",
        [schema, table],
    ).fetchall()[0][0])


def optional_rows(con: duckdb.DuckDBPyConnection, table: str, sql: str, params: dict | None = None) -> list[Row] | None:
    schema, name = table.split(".")
    return rows(con, sql, params) if has_table(con, schema, name) else None


def quarantine_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int | None]:
    return {
        source: con.execute(f"SELECT count(*) FROM quarantine.{source}").fetchall()[0][0]
        if has_table(con, "quarantine", source) else None
        for source in QUARANTINE_SOURCES
    }


def max_miss_pct_from_env() -> Decimal:
    """The cross-check's bound, as the check reads it ([crosscheck] max_miss_pct, default 1 %)."""
    from pipelines.config import load_config

    return getattr(load_config().crosscheck, "max_miss_pct", DEFAULT_MAX_MISS_PCT)


def load(con: duckdb.DuckDBPyConnection, band: tuple[Any, Any] | None = None,
         max_miss_pct: Decimal | None = None) -> DashboardData:
    con.execute("SET TimeZone = 'UTC'")
    miss = {"max_miss_pct": max_miss_pct if max_miss_pct is not None else max_miss_pct_from_env()}
    check_runs = optional_rows(con, "marts.check_results", CHECK_RUNS)
    return DashboardData(
        tier_days=rows(con, TIER_DAYS),
        idle_curve=rows(con, IDLE_CURVE),
        idle_buckets=rows(con, IDLE_BUCKETS),
        spend_by_state=rows(con, SPEND_BY_STATE),
        models=rows(con, MODELS),
        crossover=optional_rows(con, "marts.crossover", CROSSOVER),
        demand=optional_rows(con, "marts.demand_profile", DEMAND),
        gaps=rows(con, GAPS),
        resets=rows(con, RESETS),
        resources=rows(con, RESOURCES),
        quarantine=quarantine_counts(con),
        reconciliation=optional_rows(con, "marts.invoice_reconciliation", RECONCILIATION),
        reconciliation_latest=optional_rows(con, "marts.invoice_reconciliation", RECONCILIATION_LATEST),
        band=band,
        checks=optional_rows(con, "marts.check_results", CHECKS_LATEST),
        check_runs=check_runs[0] if check_runs else None,
        crosscheck=optional_rows(con, "marts.token_crosscheck", CROSSCHECK_BY_RESOURCE, miss),
        crosscheck_flagged=optional_rows(con, "marts.token_crosscheck", CROSSCHECK_FLAGGED, miss),
        max_miss_pct=miss["max_miss_pct"],
    )
