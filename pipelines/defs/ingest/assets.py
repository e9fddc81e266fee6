"""Raw assets: each UTC day of each source, read by its adapter and landed in the lake.

A run for day D reads D widened by the day-edge margin on both sides ("Day edges") and replaces
the lake's day D of that source (pipelines/landing.py); what breaks the contract is quarantined.
Landing never opens the warehouse file, so the raw steps need no warehouse pool and run side by
side. A date range runs as one run, one day after another.
"""

import os
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from pipelines.adapters.base import Window
from pipelines.adapters.contract_api import ContractApiAdapter
from pipelines.client import SourceAuthError, SourceError, SourceProtocolError
from pipelines.defs.metadata import lake_metadata
from pipelines.defs.partitions import daily, single_run
from pipelines.defs.resources import DEMO_LABEL, HttpSource, Warehouse
from pipelines.landing import IngestResult, land
from pipelines.settings import AccountingSettings
from pipelines.sources.registry import SOURCES

# A killed run's staged pages are removed by a later run once they are clearly not in use.
STALE_SCRATCH_S = 6 * 3600


class SourceDayUnavailable(Exception):
    """A source stayed unavailable for a day through all of the client's retries."""


def days_of(window: dg.TimeWindow) -> list[date]:
    first, last = window.start.date(), window.end.date()
    return [first + timedelta(days=i) for i in range((last - first).days)]


def scratch_folder(warehouse: Warehouse) -> Path:
    """Where pages are staged: beside the working file, swept of what killed runs left behind."""
    folder = warehouse.work_path.parent / "scratch"
    folder.mkdir(parents=True, exist_ok=True)
    stale = time.time() - STALE_SCRATCH_S
    for left in folder.glob("ingest-*"):
        if left.stat().st_mtime < stale:
            shutil.rmtree(left, ignore_errors=True)
    return folder


def land_days(context: dg.AssetExecutionContext, adapter, warehouse: Warehouse, adapter_name: str) -> list[IngestResult]:
    settings = AccountingSettings()
    source, lake, scratch = SOURCES[adapter.feeds], warehouse.lake, scratch_folder(warehouse)
    margin = timedelta(seconds=settings.day_edge_margin_s)
    results = []
    for day in days_of(context.partition_time_window):
        window = Window.for_day(day, margin)
        try:
            result = land(lake, source, adapter.read(window), window=window, adapter=adapter_name,
                          payloads=adapter.payloads, scratch=scratch)
        except SourceError as exc:
            exc.day = day  # a range run names the day that failed, not only the range
            raise
        finally:
            close = getattr(adapter, "close", None)
            if close is not None:
                close()
        context.log.info(
            f"{source.name} {day}: fetched {result.fetched}, kept {result.kept}, "
            f"quarantined {result.quarantined}, duplicates collapsed {result.duplicates}"
        )
        results.append(result)
    return results


def ingest(context: dg.AssetExecutionContext, http: HttpSource, warehouse: Warehouse, table: str) -> dg.MaterializeResult:
    settings = AccountingSettings()
    adapter = ContractApiAdapter(SOURCES[table], http.client, label=http.name,
                                 expected_currency=settings.currency, scratch=scratch_folder(warehouse))
    try:
        results = land_days(context, adapter, warehouse, "gateway_api" if table != "billing_snapshots" else "snapshots_api")
    except (SourceAuthError, SourceProtocolError) as exc:
        # A refused token or a broken protocol will not heal by itself: fail without retrying.
        raise dg.Failure(description=f"day {exc.day}: {exc}", allow_retries=False) from None
    except SourceError as exc:  # transient, retries exhausted: the step's retry policy may try again
        raise SourceDayUnavailable(f"day {exc.day}: {exc}") from None
    days = days_of(context.partition_time_window)
    return dg.MaterializeResult(
        metadata={
            **lake_metadata(warehouse.lake, SOURCES[table], days),
            "source": DEMO_LABEL if http.is_demo else http.name,
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
    kinds={"parquet", "http"},
    description="Billing samples (GET /v1/billing/snapshots, by sampled_at): each resource's rate and "
    "cumulative bill about once a minute. Spend is always a difference of these cumulative bills.",
    **_COMMON,
)
def raw_billing_snapshots(
    context: dg.AssetExecutionContext, billing_api: HttpSource, warehouse: Warehouse
) -> dg.MaterializeResult:
    return ingest(context, billing_api, warehouse, "billing_snapshots")


@dg.asset(
    key=["raw", "requests"],
    kinds={"parquet", "http"},
    description="Gateway usage log (GET /v1/usage/requests, by finished_at): one row per request with "
    "its OpenAI usage tokens, deduplicated on request_id.",
    **_COMMON,
)
def raw_requests(
    context: dg.AssetExecutionContext, gateway_api: HttpSource, warehouse: Warehouse
) -> dg.MaterializeResult:
    return ingest(context, gateway_api, warehouse, "requests")


@dg.asset(
    key=["raw", "fleet_events"],
    kinds={"parquet", "http"},
    description="Fleet lifecycle events (GET /v1/fleet/events, by at): wakes, hibernation, spot "
    "interruptions. Only wakes change the accounting (waking time); billing says what ran.",
    **_COMMON,
)
def raw_fleet_events(
    context: dg.AssetExecutionContext, gateway_api: HttpSource, warehouse: Warehouse
) -> dg.MaterializeResult:
    return ingest(context, gateway_api, warehouse, "fleet_events")
