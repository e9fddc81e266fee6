"""Landing a range of days, one after another or side by side (DESIGN.md "Storage": "a backfill of
many days uses every core (days ingested side by side, marts built once)").

A day's landing never opens the warehouse file, so days can land in separate processes at once
with no writer contending for DuckDB's lock. Each worker builds its own adapter from the same
configuration (the environment and working folder are inherited) and lands whole days; the
marts are built once afterwards by the caller. Workers start with `spawn`: the parent holds
threads (Dagster's, DuckDB's) that a forked child must not inherit. What a worker reads is sent
back page by page, so the progress display of the run moves while the days land.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from pipelines import progress
from pipelines.lake import Lake
from pipelines.landing import IngestResult, land
from pipelines.sources.registry import SOURCES


def ingest_workers(days: int) -> int:
    """Processes for `days` days: one per core (INVOICE_TRUE_INGEST_WORKERS caps it), never more than days."""
    configured = int(os.environ.get("INVOICE_TRUE_INGEST_WORKERS", "0") or 0)
    return max(1, min(days, configured or os.cpu_count() or 1))


def land_day(adapter, source_name: str, day: date, margin_s: int, lake: Lake, scratch: Path,
             memory_limit: str = "2GB", on_page=None) -> IngestResult:
    """One day of one source into the lake; `on_page(rows, first, last)` after every page read."""
    source = SOURCES[source_name]
    window = source.window(day, timedelta(seconds=margin_s))  # back a day where a source is refetched
    on_frame = (lambda frame: on_page(*progress.page_stats(frame, source.day_column))) if on_page else None
    try:
        return land(lake, source, adapter.read(window), window=window, adapter=adapter.name,
                    payloads=adapter.payloads, scratch=scratch, memory_limit=memory_limit, on_frame=on_frame)
    except Exception as exc:
        if hasattr(exc, "day"):
            exc.day = day  # a range run names the day that failed, not only the range
        raise
    finally:
        if hasattr(adapter, "close"):
            adapter.close()


def _land_in_worker(role: str, source_name: str, day: date, margin_s: int, lake_root: str, scratch: str,
                    memory_limit: str, pages) -> IngestResult:
    from pipelines.adapters import build_adapter
    from pipelines.config import load_config

    app = load_config()
    adapter = build_adapter(role, app.sources()[role], app)
    if hasattr(adapter, "scratch_root"):
        adapter.scratch_root = Path(scratch)
    return land_day(adapter, source_name, day, margin_s, Lake(lake_root), Path(scratch), memory_limit,
                    on_page=lambda rows, first, last: pages.put((day, rows, first, last)))


def land_days_side_by_side(role: str, source_name: str, days: list[date], margin_s: int, lake: Lake,
                           scratch: Path, workers: int, reporter=None, memory_limit_mb: int = 2048,
                           ) -> list[tuple[progress.DayCount, IngestResult]]:
    """Land `days` in `workers` processes; (count, result) per day in day order. The first failure is
    raised once the days already under way have finished (each of them is whole or untouched)."""
    source = SOURCES[source_name]
    reporter = reporter or progress.Fanout()
    per_worker = f"{max(256, memory_limit_mb // workers)}MB"  # the buffer pools share the machine's memory
    context = multiprocessing.get_context("spawn")
    counts = {day: progress.DayCount.start(source_name, source.day_column,
                                           source.window(day, timedelta(seconds=margin_s))) for day in days}
    results: dict[date, IngestResult] = {}
    with context.Manager() as manager, ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pages = manager.Queue()
        relay = threading.Thread(target=_relay, args=(pages, counts, reporter), daemon=True)
        relay.start()
        futures = {}
        for day in days:
            reporter.started(counts[day])
            futures[pool.submit(_land_in_worker, role, source_name, day, margin_s, str(lake.root), str(scratch),
                                per_worker, pages)] = day
        failure = None
        for future, day in futures.items():
            try:
                results[day] = future.result()
            except Exception as exc:  # noqa: BLE001 - the first failure, in day order, is raised below
                failure = failure or exc
                reporter.finished(counts[day], None)
                continue
            counts[day].stop()
            reporter.finished(counts[day], results[day])
        pages.put(None)
        relay.join(timeout=10)
    if failure is not None:
        raise failure
    return [(counts[day], results[day]) for day in days]


def _relay(pages, counts: dict[date, progress.DayCount], reporter) -> None:
    """Pages the workers read, onto the run's progress display, until told to stop."""
    while True:
        try:
            item = pages.get(timeout=1.0)
        except queue.Empty:
            continue
        except (EOFError, OSError):  # the manager is gone
            return
        if item is None:
            return
        day, rows, first, last = item
        counts[day].add_page(rows, first, last)
        reporter.advanced(counts[day])
