"""Landing a range of days, one after another or side by side (DESIGN.md "Storage": "a backfill of
many days uses every core (days ingested side by side, marts built once)").

A day's landing never opens the warehouse file, so days can land in separate processes at once
with no writer contending for DuckDB's lock. Each worker builds its own adapter from the run's
configuration (its environment and working folder travel with each task) and lands whole days; the
marts are built once afterwards by the caller. What a worker reads is sent back page by page, so
the progress display of the run moves while the days land.

Workers are forked from a `forkserver` that has imported the landing code once: the parent holds
threads (Dagster's, DuckDB's) that a child forked from it must not inherit, and a `spawn`ed worker
imported polars, DuckDB and the adapters again each time (about a second of CPU per process, three
processes per source: small ranges landed slower side by side than one after another). A forkserver
child starts with the environment of when the server started, so each task carries the run's.
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


_pages = None  # in a worker: the queue its pages go to (set once per process by `_start_worker`)


def _start_worker(pages) -> None:
    global _pages
    _pages = pages


def _land_in_worker(role: str, source_name: str, day: date, margin_s: int, lake_root: str, scratch: str,
                    memory_limit: str, environ: dict[str, str], cwd: str) -> IngestResult:
    from pipelines.adapters import build_adapter
    from pipelines.config import load_config

    if os.environ != environ:  # the run's configuration, not the one the forkserver started with
        os.environ.clear()
        os.environ.update(environ)
    os.chdir(cwd)
    load_config.cache_clear()
    app = load_config()
    adapter = build_adapter(role, app.sources()[role], app)
    if hasattr(adapter, "scratch_root"):
        adapter.scratch_root = Path(scratch)
    return land_day(adapter, source_name, day, margin_s, Lake(lake_root), Path(scratch), memory_limit,
                    on_page=lambda rows, first, last: _pages.put((day, rows, first, last)))


def land_days_side_by_side(role: str, source_name: str, days: list[date], margin_s: int, lake: Lake,
                           scratch: Path, workers: int, reporter=None, memory_limit_mb: int = 2048,
                           ) -> list[tuple[progress.DayCount, IngestResult]]:
    """Land `days` in `workers` processes; (count, result) per day in day order. The first failure is
    raised once the days already under way have finished (each of them is whole or untouched)."""
    source = SOURCES[source_name]
    reporter = reporter or progress.Fanout()
    per_worker = f"{max(256, memory_limit_mb // workers)}MB"  # the buffer pools share the machine's memory
    context = worker_context()
    counts = {day: progress.DayCount.start(source_name, source.day_column,
                                           source.window(day, timedelta(seconds=margin_s))) for day in days}
    results: dict[date, IngestResult] = {}
    pages = context.Queue()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker,
                             initargs=(pages,)) as pool:
        relay = threading.Thread(target=_relay, args=(pages, counts, reporter), daemon=True)
        relay.start()
        futures = {}
        environ, cwd = dict(os.environ), os.getcwd()
        for day in days:
            reporter.started(counts[day])
            futures[pool.submit(_land_in_worker, role, source_name, day, margin_s, str(lake.root), str(scratch),
                                per_worker, environ, cwd)] = day
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
    pages.close()
    if failure is not None:
        raise failure
    return [(counts[day], results[day]) for day in days]


def worker_context() -> multiprocessing.context.BaseContext:
    """The forkserver, its server having imported what a worker runs (started once per process)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pipelines.ingest_days", "pipelines.config", "pipelines.adapters",
                                    "pipelines.adapters.contract_api"])
    return context


def _relay(pages, counts: dict[date, progress.DayCount], reporter) -> None:
    """Pages the workers read, onto the run's progress display, until told to stop."""
    while True:
        try:
            item = pages.get(timeout=1.0)
        except queue.Empty:
            continue
        except (EOFError, OSError):  # the queue is gone
            return
        if item is None:
            return
        day, rows, first, last = item
        counts[day].add_page(rows, first, last)
        reporter.advanced(counts[day])
