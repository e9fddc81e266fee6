"""The provider's invoice, monthly: import FOCUS rows, reconcile them with snapshot spend, $/Mtok per month.

`raw/invoice_rows` reads `GET /v1/billing/invoices?billing_period=YYYY-MM` from the billing API,
plus any FOCUS CSV or Parquet exports listed in `FOCUS_INVOICE_PATHS` (os.pathsep-separated),
and replaces the month in `raw.invoice_rows`. The marts compare it with `marts.resource_hourly`
(DESIGN.md "Checks": within max(0.5 %, $0.01) per resource and period) and recompute $/Mtok
on the invoiced totals, then refresh the published DuckDB file so SQL tools see them. The
reconciliation check is ERROR severity but not blocking: a mismatch never hides data. The
schedule runs on the 5th at 06:00 UTC for the month before, once the provider's invoice is due.
"""

import os
from contextlib import nullcontext
from datetime import datetime, timedelta

import dagster as dg

from pipelines import warehouse as files
from pipelines.defs.metadata import table_metadata
from pipelines.defs.failures import record_failure
from pipelines.defs.jobs import WAREHOUSE_RUN_TAG, run_executor
from pipelines.defs.partitions import monthly, single_run
from pipelines.adapters.contract_api import ContractApi
from pipelines.defs.resources import FleetSources, Warehouse
from pipelines.invoices import (
    ABSOLUTE_TOLERANCE,
    RELATIVE_TOLERANCE,
    InvoiceImport,
    ReconciliationSummary,
    build_invoice_marts,
    import_invoices,
    reconciliation_summary,
)
from pipelines.config import load_config
from pipelines.defs.checks.common import recorded
from pipelines.findings import EXAMPLES, Finding, example, inline, line, plural
from pipelines.ledger import ledger_for, run_started_at

INVOICES_PATH = "/v1/billing/invoices"
PATHS_ENV = "FOCUS_INVOICE_PATHS"
RAW_INVOICES = dg.AssetKey(["raw", "invoice_rows"])
RECONCILIATION = dg.AssetKey(["marts", "invoice_reconciliation"])
COST_MONTHLY = dg.AssetKey(["marts", "cost_per_mtok_monthly"])
# Invoice assets have their own group: the daily job selects the groups sources/marts/publish, and
# one job cannot mix daily and monthly partitions.
GROUP = "invoices"


def billing_periods(window: dg.TimeWindow) -> list[str]:
    """'YYYY-MM' of every month in a (monthly) partition window."""
    out, at = [], window.start
    while at < window.end:
        out.append(at.strftime("%Y-%m"))
        at = datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=at.tzinfo)
    return out


def focus_paths() -> list[str]:
    return [p for p in os.environ.get(PATHS_ENV, "").split(os.pathsep) if p.strip()]


def expected_currency(con, period: str) -> str | None:
    """The configured currency, else the one currency the period's billing uses (if one): its samples,
    or its FOCUS cost rows' spend (rule 11)."""
    configured = load_config().accounting.currency
    if configured:
        return configured
    rows = con.execute(
        "SELECT DISTINCT currency FROM raw.billing_snapshots WHERE strftime(sampled_at, '%Y-%m') = $period "
        "UNION SELECT DISTINCT currency FROM raw.cost_rows "
        "WHERE skipped IS NULL AND strftime(charge_period_start, '%Y-%m') = $period",
        {"period": period},
    ).fetchall()
    return rows[0][0] if len(rows) == 1 else None


@dg.asset(
    key=RAW_INVOICES,
    partitions_def=monthly,
    backfill_policy=single_run,
    group_name=GROUP,
    kinds={"duckdb", "http"},
    owners=["team:fleet-finance"],
    pool="duckdb_warehouse",
    description="The provider's invoice as FOCUS rows (GET /v1/billing/invoices?billing_period=YYYY-MM, plus "
    f"FOCUS CSV/Parquet exports listed in {PATHS_ENV}); decimals exact, bad rows quarantined, the month replaced.",
)
def raw_invoice_rows(
    context: dg.AssetExecutionContext, sources: FleetSources, warehouse: Warehouse
) -> dg.MaterializeResult:
    paths = focus_paths()
    results: list[InvoiceImport] = []
    window = context.partition_time_window
    # The billing API answers invoices where billing is read from it; a cloud's export is files only.
    billing = sources.adapter("billing")
    api = billing if isinstance(billing, ContractApi) else None
    with (api.client() if api else nullcontext()) as client, warehouse.connect() as con:
        warehouse.attach_lake(con, window.start.date(), (window.end - timedelta(days=1)).date())
        for period in billing_periods(window):
            result = import_invoices(
                con,
                billing_period=period,
                pages=client.iter_pages(INVOICES_PATH, {"billing_period": period}) if client else [],
                paths=paths,
                expected_currency=expected_currency(con, period),
            )
            context.log.info(
                f"invoice {period}: read {result.read}, kept {result.kept}, quarantined {result.quarantined}, "
                f"other periods in files {result.other_periods}"
            )
            results.append(result)
    return dg.MaterializeResult(
        metadata={
            "source": sources.label(billing) if api else "FOCUS files",
            "files": dg.MetadataValue.json(paths),
            "billing_periods": dg.MetadataValue.json([p for r in results for p in r.billing_periods]),
            "rows_read": sum(r.read for r in results),
            "rows_kept": sum(r.kept for r in results),
            "rows_quarantined": sum(r.quarantined for r in results),
            "file_rows_of_other_periods": sum(r.other_periods for r in results),
        }
    )


RECONCILIATION_CHECK = dg.AssetCheckSpec(
    "reconciliation",
    asset=RECONCILIATION,
    blocking=False,
    description=f"Every resource's snapshot spend matches its invoiced Usage within max({RELATIVE_TOLERANCE:%}, "
    f"${ABSOLUTE_TOLERANCE}); credits, tax, adjustments and purchases are listed apart, for information.",
)


def _line(row: dict) -> str:
    pct = f" ({row['variance_pct']:+.3%})" if row.get("variance_pct") is not None else ""
    variance = f", variance {row['variance']:+}{pct}" if row.get("variance") is not None else ""
    return (
        f"{row['period']} {row['resource_id']}: {row['status']}, snapshots {row['snapshot_spend']}, "
        f"invoiced {row['invoiced_cost']}{variance}"
    )


def reconciliation_result(summaries: list[ReconciliationSummary]) -> dg.AssetCheckResult:
    outside = [{**r, "period": s.billing_period} for s in summaries for r in s.outside]
    apart = [{**r, "period": s.billing_period} for s in summaries for r in s.apart]
    periods = [s.billing_period for s in summaries]
    asset = ".".join(RECONCILIATION.path)
    query = inline(RECONCILIATION_QUERY, {"periods": periods})
    what = f"{plural(len(outside), 'resource')} outside tolerance in {', '.join(periods)}"
    finding = Finding(
        asset=asset, check_name="reconciliation", severity="ERROR", passed=not outside,
        expectation=f"every resource's snapshot spend matches its invoiced Usage within max({RELATIVE_TOLERANCE:%}, "
        f"${ABSOLUTE_TOLERANCE}) per billing period",
        failing_rows=len(outside),
        examples=tuple(example(r, ("period", "resource_id"), ("status", "snapshot_spend", "invoiced_cost", "variance"))
                       for r in outside[:EXAMPLES]),
        query=query,
        lines=(line("ERROR", asset, f"{what} ({_line(outside[0])})", asset),) if outside else (),
    )
    return finding.check_result({
        "billing_periods": dg.MetadataValue.json(periods),
        "usage_resources": sum(s.usage_rows for s in summaries),
        "reconciled": sum(s.reconciled for s in summaries),
        "outside_tolerance": dg.MetadataValue.json([_line(r) for r in outside]),
        "reported_apart (informational)": dg.MetadataValue.json([_line(r) for r in apart]),
    })


# The rows reconciliation_summary calls outside tolerance, in its order.
RECONCILIATION_QUERY = """
SELECT billing_period, resource_id, status, snapshot_spend, invoiced_cost, variance, variance_pct
FROM marts.invoice_reconciliation
WHERE list_contains($periods, billing_period) AND status IN ('mismatch', 'not_invoiced', 'not_observed')
ORDER BY billing_period, status, resource_id
"""


def mart_metadata(con, table: str, periods: list[str]) -> dict[str, dg.MetadataValue]:
    return {
        **table_metadata(con, "marts", table, where="WHERE list_contains(?, billing_period)", params=[periods]),
        "billing_periods": dg.MetadataValue.json(periods),
    }


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            RECONCILIATION,
            description="Per billing period and resource: snapshot spend beside invoiced Usage, variance and "
            "status; credits, tax, adjustments and purchases on rows of their own.",
            deps=[RAW_INVOICES, dg.AssetKey(["marts", "resource_hourly"])],
            group_name=GROUP,
            kinds={"duckdb", "sql"},
            owners=["team:fleet-finance"],
        ),
        dg.AssetSpec(
            COST_MONTHLY,
            description="Invoice-true $/Mtok per tier and billing period: invoiced Usage where the invoice "
            "exists, snapshot spend where it does not (spend_basis).",
            deps=[RAW_INVOICES, dg.AssetKey(["marts", "resource_hourly"]), dg.AssetKey(["marts", "cost_per_mtok_daily"])],
            group_name=GROUP,
            kinds={"duckdb", "sql"},
            owners=["team:fleet-finance"],
        ),
    ],
    check_specs=[RECONCILIATION_CHECK],
    partitions_def=monthly,
    backfill_policy=single_run,
    pool="duckdb_warehouse",
)
def invoice_marts(context: dg.AssetExecutionContext, warehouse: Warehouse):
    periods = billing_periods(context.partition_time_window)
    with warehouse.connect() as con:
        for period in periods:
            build_invoice_marts(con, period)
        summaries = [reconciliation_summary(con, period) for period in periods]
        # The published file is what SQL tools see: refresh it so the new marts are in it.
        path = files.publish(con, warehouse.published_path, warehouse.lake)
        yield dg.MaterializeResult(
            asset_key=RECONCILIATION,
            metadata={**mart_metadata(con, "invoice_reconciliation", periods), "published": dg.MetadataValue.path(str(path))},
        )
        yield dg.MaterializeResult(asset_key=COST_MONTHLY, metadata=mart_metadata(con, "cost_per_mtok_monthly", periods))
        result = recorded(context, warehouse, reconciliation_result(summaries))
    window = context.partition_time_window
    ledger_for(warehouse.lake).record_run(
        context.run.run_id, "published", job=context.run.job_name,
        started_at=run_started_at(context.instance, context.run.run_id),
        first_day=window.start.date(), last_day=(window.end - timedelta(days=1)).date(),
    )
    yield result


invoice_job = dg.define_asset_job(
    "invoice_reconciliation_monthly",
    selection=dg.AssetSelection.assets(RAW_INVOICES, RECONCILIATION, COST_MONTHLY),
    description="Import the month's invoice (billing API and FOCUS files), reconcile it with snapshot spend, "
    "publish invoice-true $/Mtok per tier, refresh the published DuckDB file.",
    tags=WAREHOUSE_RUN_TAG,
    executor_def=run_executor(),  # see pipelines/defs/jobs.py
    hooks={record_failure},
)

# 06:00 UTC on the 5th, for the month before: the provider's invoice is due by then. On by default.
monthly_invoice_schedule = dg.build_schedule_from_partitioned_job(
    invoice_job, day_of_month=5, hour_of_day=6, default_status=dg.DefaultScheduleStatus.RUNNING
)
