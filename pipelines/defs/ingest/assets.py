"""Raw assets: each UTC day of each canonical source, read by its configured adapter into the lake.

One asset per canonical source (pipelines/sources/registry.py). A run for day D reads D widened by
the day-edge margin on both sides ("Day edges") and replaces the lake's day D of that source
(pipelines/landing.py); what breaks the contract is quarantined. Landing never opens the
warehouse file, so raw steps need no warehouse pool and run side by side. A source the
configuration does not read (cost rows while billing is sampled, say) materialises nothing and
says so. A date range runs as one run, one day after another.
"""

import os
import shutil
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from pipelines import progress
from pipelines.client import SourceAuthError, SourceError, SourceProtocolError
from pipelines.config import load_config
from pipelines.defs.checks.common import md_table
from pipelines.defs.metadata import lake_metadata
from pipelines.defs.partitions import daily, single_run
from pipelines.defs.resources import FleetSources, Warehouse
from pipelines.ingest_days import ingest_workers, land_day, land_days_side_by_side
from pipelines.landing import IngestResult
from pipelines.sources.registry import SOURCES, CanonicalSource

# A killed run's staged pages are removed by a later run once they are clearly not in use.
STALE_SCRATCH_S = 6 * 3600
# Starting a worker process costs about two seconds of imports: worth it from three days up.
PARALLEL_FROM_DAYS = 3


@dataclass(frozen=True)
class DayLanded:
    count: progress.DayCount
    result: IngestResult


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
    for left in [*folder.glob("ingest-*"), *folder.glob("staged-*")]:  # pages; staged frames (landing)
        if left.stat().st_mtime < stale:
            shutil.rmtree(left, ignore_errors=True)
    return folder


def land_days(context, adapter, source: CanonicalSource, warehouse: Warehouse, scratch: Path) -> list[DayLanded]:
    """The partition's days, one after another; a range of three days or more lands its days side by
    side in worker processes (pipelines/ingest_days.py), the marts being built once after. Either
    way the run's progress display (and the step log) follows every page."""
    margin_s = load_config().accounting.day_edge_margin_s
    days, lake = days_of(context.partition_time_window), warehouse.lake
    reporter = progress.for_step(context.log)
    workers = ingest_workers(len(days)) if len(days) >= PARALLEL_FROM_DAYS else 1
    if workers > 1:
        context.log.info(f"{source.name}: landing {len(days)} days in {workers} processes")
        return [DayLanded(count, result) for count, result in land_days_side_by_side(
            source.role, source.name, days, margin_s, lake, scratch, workers, reporter)]
    landed = []
    for day in days:
        count = progress.DayCount.start(source.name, source.day_column,
                                        source.window(day, timedelta(seconds=margin_s)))
        reporter.started(count)

        def on_page(rows, first, last, count=count) -> None:
            count.add_page(rows, first, last)
            reporter.advanced(count)

        try:
            result = land_day(adapter, source.name, day, margin_s, lake, scratch, on_page=on_page)
        except BaseException:
            reporter.finished(count, None)
            raise
        count.stop()
        reporter.finished(count, result)
        landed.append(DayLanded(count, result))
    return landed


def ingest(context: dg.AssetExecutionContext, sources: FleetSources, warehouse: Warehouse,
           source: CanonicalSource) -> dg.MaterializeResult:
    scratch = scratch_folder(warehouse)
    adapter = sources.adapter(source.role, scratch)
    if adapter is None or adapter.feeds != source.name:
        chosen = "nothing" if adapter is None else f"{adapter.name} into raw/{adapter.feeds}"
        return dg.MaterializeResult(metadata={"read": dg.MetadataValue.text(
            f"not read: the configuration's [{source.role}] reads {chosen}")})
    try:
        landed = land_days(context, adapter, source, warehouse, scratch)
    except (SourceAuthError, SourceProtocolError) as exc:
        # A refused token or a broken protocol will not heal by itself: fail without retrying.
        raise dg.Failure(description=f"day {exc.day}: {exc}", allow_retries=False) from None
    except SourceError as exc:  # transient, retries exhausted: the step's retry policy may try again
        raise SourceDayUnavailable(f"day {exc.day}: {exc}") from None
    results = [d.result for d in landed]
    return dg.MaterializeResult(
        metadata={
            **lake_metadata(warehouse.lake, source, days_of(context.partition_time_window)),
            "source": sources.label(adapter),
            "days": len(results),
            "pages": sum(d.count.pages for d in landed),
            "rows_fetched": sum(r.fetched for r in results),
            "rows_kept": sum(r.kept for r in results),
            "rows_quarantined": sum(r.quarantined for r in results),
            "duplicates_collapsed": sum(r.duplicates for r in results),
            "by_day": dg.MetadataValue.md(md_table([progress.landed_fields(d.count, d.result) for d in landed])),
            **adapter_report(adapter),
        }
    )


def adapter_report(adapter) -> dict[str, dg.MetadataValue]:
    """What an adapter says about the run beyond the rows it landed (`report()`, where it has one:
    the FOCUS adapter's rest of the bill, skipped rows summed by category). Text is markdown."""
    report = getattr(adapter, "report", None)
    if report is None:
        return {}
    return {
        key: dg.MetadataValue.md(value) if isinstance(value, str) and value.startswith(("|", "(")) else
        dg.MetadataValue.int(value) if isinstance(value, int) else dg.MetadataValue.text(str(value))
        for key, value in report().items()
    }


def raw_asset(source: CanonicalSource) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", source.name],
        kinds={"parquet"},
        description=source.description,
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
    def raw(context: dg.AssetExecutionContext, sources: FleetSources, warehouse: Warehouse) -> dg.MaterializeResult:
        return ingest(context, sources, warehouse, source)

    return raw


RAW_ASSETS = [raw_asset(source) for source in SOURCES.values()]
