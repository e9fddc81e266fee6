"""Raw assets: each UTC day of each source, fetched over HTTP and landed in DuckDB.

A run for day D reads D widened by the day-edge margin on both sides ("Day edges"),
replaces that window in the raw table in one transaction, and quarantines what breaks
the contract. A date range runs as one run, one day after another.
"""

import os
import shutil
import time
from datetime import date, datetime, timedelta, timezone
from datetime import time as midnight_time
from pathlib import Path

import dagster as dg

from pipelines.client import SourceAuthError, SourceError, SourceProtocolError
from pipelines.defs.metadata import table_metadata
from pipelines.defs.partitions import daily, single_run
from pipelines.defs.resources import DEMO_LABEL, HttpSource, Warehouse
from pipelines.ingest import IngestResult, land_source
from pipelines.config import load_config
from pipelines.settings import AccountingSettings


# A killed run's staged pages are removed by a later run once they are clearly not in use.
STALE_SCRATCH_S = 6 * 3600


class SourceDayUnavailable(Exception):
    """A source stayed unavailable for a day through all of the client's retries."""


def days_of(window: dg.TimeWindow) -> list[date]:
    first, last = window.start.date(), window.end.date()
    return [first + timedelta(days=i) for i in range((last - first).days)]


def rfc3339(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def scratch_folder(warehouse: Warehouse) -> Path:
    """Where pages are staged: beside the working file, swept of what killed runs left behind."""
    folder = warehouse.work_path.parent / "scratch"
    folder.mkdir(parents=True, exist_ok=True)
    stale = time.time() - STALE_SCRATCH_S
    for left in folder.glob("ingest-*"):
        if left.stat().st_mtime < stale:
            shutil.rmtree(left, ignore_errors=True)
    return folder


def fetch_days(context, client, con, table: str, path: str, settings: AccountingSettings, results: list,
               scratch: Path) -> None:
    margin = timedelta(seconds=settings.day_edge_margin_s)
    for day in days_of(context.partition_time_window):
        start = datetime.combine(day, midnight_time(), timezone.utc) - margin
        end = start + timedelta(days=1) + 2 * margin
        pages = client.iter_pages(path, {"start": rfc3339(start), "end": rfc3339(end)})
        try:
            result = land_source(
                con, table, pages, day=day, window=(start, end), expected_currency=settings.currency,
                scratch_root=scratch,
            )
        except SourceError as exc:
            exc.day = day  # a range run names the day that failed, not only the range
            raise
        context.log.info(
            f"{table} {day}: fetched {result.fetched}, kept {result.kept}, "
            f"quarantined {result.quarantined}, duplicates collapsed {result.duplicates}"
        )
        results.append(result)


def ingest(
    context: dg.AssetExecutionContext, source: HttpSource, warehouse: Warehouse, table: str, path: str
) -> dg.MaterializeResult:
    settings = load_config().accounting
    results: list[IngestResult] = []
    try:
        with source.client() as client, warehouse.connect() as con:
            fetch_days(context, client, con, table, path, settings, results, scratch_folder(warehouse))
            shown = table_metadata(con, "raw", table)
    except (SourceAuthError, SourceProtocolError) as exc:
        # A refused token or a broken protocol will not heal by itself: fail without retrying.
        raise dg.Failure(description=f"day {exc.day}: {exc}", allow_retries=False) from None
    except SourceError as exc:  # transient, retries exhausted: the step's retry policy may try again
        raise SourceDayUnavailable(f"day {exc.day}: {exc}") from None
    return dg.MaterializeResult(
        metadata={
            **shown,
            "source": DEMO_LABEL if source.is_demo else source.name,
            "days": len(results),
            "rows_fetched": sum(r.fetched for r in results),
            "rows_kept": sum(r.kept for r in results),
            "rows_quarantined": sum(r.quarantined for r in results),
            "duplicates_collapsed": sum(r.duplicates for r in results),
        }
    )


_COMMON = dict(
    partitions_def=daily,
    backfill_policy=single_run,
    group_name="sources",
    owners=["team:fleet-finance"],
    pool="duckdb_warehouse",
    # Transient source failures (the client's own retries exhausted) retry the step later.
    retry_policy=dg.RetryPolicy(
        max_retries=int(os.environ.get("INVOICE_TRUE_STEP_RETRIES", "2")),
        delay=30,
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    ),
)


@dg.asset(
    key=["raw", "billing_snapshots"],
    kinds={"duckdb", "http"},
    description="Billing samples (GET /v1/billing/snapshots, by sampled_at): each resource's rate and "
    "cumulative bill about once a minute. Spend is always a difference of these cumulative bills.",
    **_COMMON,
)
def raw_billing_snapshots(
    context: dg.AssetExecutionContext, billing_api: HttpSource, warehouse: Warehouse
) -> dg.MaterializeResult:
    return ingest(context, billing_api, warehouse, "billing_snapshots", "/v1/billing/snapshots")


@dg.asset(
    key=["raw", "requests"],
    kinds={"duckdb", "http"},
    description="Gateway usage log (GET /v1/usage/requests, by finished_at): one row per request with "
    "its OpenAI usage tokens, deduplicated on request_id.",
    **_COMMON,
)
def raw_requests(
    context: dg.AssetExecutionContext, gateway_api: HttpSource, warehouse: Warehouse
) -> dg.MaterializeResult:
    return ingest(context, gateway_api, warehouse, "requests", "/v1/usage/requests")


@dg.asset(
    key=["raw", "fleet_events"],
    kinds={"duckdb", "http"},
    description="Fleet lifecycle events (GET /v1/fleet/events, by at): wakes, hibernation, spot "
    "interruptions. Only wakes change the accounting (waking time); billing says what ran.",
    **_COMMON,
)
def raw_fleet_events(
    context: dg.AssetExecutionContext, gateway_api: HttpSource, warehouse: Warehouse
) -> dg.MaterializeResult:
    return ingest(context, gateway_api, warehouse, "fleet_events", "/v1/fleet/events")
