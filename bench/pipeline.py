"""The measured side: the pipeline's own code over HTTP, in a process of its own.

    python -m bench.pipeline --url URL --token T --start 2026-10-26 --days 1 --out DIR

Ingests every day (all three sources, HTTP -> the lake) through the contract adapter and `land`,
builds the marts of the last day with `build_marts`, publishes with `publish`.
Each phase is timed on its own (wall and CPU seconds: other work on the machine shows as wall
time above CPU time), with the peak resident memory of this process during it (sampled from
/proc every 5 ms) and a profile of its steps (each SQL file's wall time; the time the fetch
thread spends waiting on HTTP, which overlaps the typing). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import os
import resource
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from bench.serve import day_window
from pipelines import accounting, landing, warehouse
from pipelines.accounting import DayRange, build_marts
from pipelines.adapters.base import Window
from pipelines.adapters.contract_api import ContractApiAdapter
from pipelines.client import SourceClient
from pipelines.config import load_config
from pipelines.lake import lake_for
from pipelines.lake_views import attach_views, sync_edges
from pipelines.settings import AccountingSettings
from pipelines.sources.registry import SOURCES
from pipelines.sql_files import statements

PATHS = {"billing_snapshots": "/v1/billing/snapshots", "requests": "/v1/usage/requests",
         "fleet_events": "/v1/fleet/events"}
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """Peak resident set size of this process, per phase (VmRSS from /proc/self/statm)."""

    def __init__(self, every_s: float = 0.005) -> None:
        self.every_s, self.peak, self._stop = every_s, 0, threading.Event()
        self._statm = os.open("/proc/self/statm", os.O_RDONLY)
        threading.Thread(target=self._run, daemon=True).start()

    def rss(self) -> int:
        # pread: no shared file offset between the sampling thread and the phase boundaries
        return int(os.pread(self._statm, 256, 0).split()[1]) * PAGE_SIZE

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.peak = max(self.peak, self.rss())

    def reset(self) -> None:
        self.peak = self.rss()
        self.cpu0 = _cpu_s()
        self.load0 = os.getloadavg()[0]

    def cpu(self) -> float:
        return _cpu_s() - self.cpu0


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Profile:
    """Wall seconds per named step, accumulated."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = defaultdict(float)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.steps[name] += time.perf_counter() - t0


def instrument(profile: Profile) -> None:
    """Time each SQL file without changing what runs."""
    run_landing, run_accounting = landing.run_sql_file, accounting.run_sql_file

    def timed_landing(con, relative, params=None, names=None):
        with profile.step(f"ingest {relative}"):
            return run_landing(con, relative, params, names)

    def timed_accounting(con, relative, params=None, names=None):
        with profile.step(relative):
            return run_accounting(con, relative, params, names)

    landing.run_sql_file, accounting.run_sql_file = timed_landing, timed_accounting


class CountingClient(SourceClient):
    """The real client, timing each page's fetch (on the fetch thread, overlapping the typing)."""

    def __init__(self, *args, profile: Profile, counter: dict, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._profile, self._counter = profile, counter

    def iter_pages(self, path, params):
        pages = super().iter_pages(path, params)
        while True:
            with self._profile.step("ingest HTTP (fetch thread, overlaps typing)"):
                body = next(pages, None)
            if body is None:
                return
            self._counter["bytes"] += len(body)
            self._counter["pages"] += 1
            yield body


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.pipeline")
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--start", type=date.fromisoformat, required=True)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--page-limit", type=int, default=100_000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--marts-repeat", type=int, default=1, help="build the marts this many times (best is kept)")
    ap.add_argument("--scan-report", action="store_true",
                    help="report how many raw.requests rows the marts' request models read")
    ap.add_argument("--memory-limit", help="SET memory_limit on the connection first (an experiment; "
                    "the pipeline itself leaves DuckDB's default, 80 %% of RAM)")
    args = ap.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    published = args.out / "invoice_true.duckdb"
    sampler, profile = RssSampler(), Profile()
    instrument(profile)
    settings = load_config().accounting
    result: dict = {"phases": {}, "ingest_sources": {}}
    days = [args.start + timedelta(days=i) for i in range(args.days)]
    lake = lake_for(published)
    sampler.reset()
    t_ingest = time.perf_counter()
    for day in days:
        window = Window(day, *day_window(day))
        for source in PATHS:
            counter = {"bytes": 0, "pages": 0, "rows": 0}

            def client(counter=counter):
                return CountingClient(args.url, args.token, source="bench", page_limit=args.page_limit,
                                      timeout_s=120, profile=profile, counter=counter)

            adapter = ContractApiAdapter(SOURCES[source], client, label="bench", scratch=args.out)
            t0 = time.perf_counter()
            landed = landing.land(lake, SOURCES[source], adapter.read(window), window=window, adapter="gateway_api",
                                  payloads=adapter.payloads, scratch=args.out / "scratch")
            adapter.close()
            entry = result["ingest_sources"].setdefault(source, {"rows": 0, "seconds": 0.0, "bytes": 0, "pages": 0})
            entry["rows"] += landed.fetched
            entry["seconds"] += time.perf_counter() - t0
            entry["bytes"] += counter["bytes"]
            entry["pages"] += counter["pages"]
    ingest_s = time.perf_counter() - t_ingest
    rows = sum(e["rows"] for e in result["ingest_sources"].values())
    result["phases"]["ingest"] = {"seconds": ingest_s, "rows": rows, "peak_rss": sampler.peak,
                                 "cpu_s": sampler.cpu(), "load_before": sampler.load0, "load_after": os.getloadavg()[0]}

    with warehouse.connect(warehouse.work_path_for(published)) as con:
        if args.memory_limit:
            con.execute(f"SET memory_limit = '{args.memory_limit}'")
        marts_day = DayRange(days[-1], days[-1] + timedelta(days=1))
        best, marts_profile, marts_cpu, load0 = None, {}, 0.0, 0.0
        for _ in range(args.marts_repeat):
            before = dict(profile.steps)
            sampler.reset()
            t0 = time.perf_counter()
            with profile.step("lake: edges and views"):
                sync_edges(con, lake)
                attach_views(con, lake, (marts_day.start, marts_day.last))
            build_marts(con, marts_day, settings)
            seconds = time.perf_counter() - t0
            if best is None or seconds < best:
                best, marts_cpu, load0 = seconds, sampler.cpu(), sampler.load0
                marts_profile = {k: v - before.get(k, 0.0) for k, v in profile.steps.items()
                                 if not k.startswith("ingest") and v - before.get(k, 0.0) > 0}
        requests_in_day = con.execute(
            "SELECT count(*) FROM raw.requests WHERE finished_at >= ? AND finished_at < ?",
            [marts_day.start_at, marts_day.end_at]).fetchall()[0][0]
        result["phases"]["marts"] = {"seconds": best, "rows": requests_in_day, "peak_rss": sampler.peak,
                                    "cpu_s": marts_cpu, "load_before": load0, "load_after": os.getloadavg()[0]}
        if args.scan_report:
            result["scan"] = scan_report(con, marts_day, settings)

        sampler.reset()
        t0 = time.perf_counter()
        warehouse.publish(con, published, lake)
        result["phases"]["publish"] = {"seconds": time.perf_counter() - t0, "peak_rss": sampler.peak,
                                       "cpu_s": sampler.cpu(), "load_before": sampler.load0,
                                       "load_after": os.getloadavg()[0],
                                       "bytes": published.stat().st_size, "lake_bytes": lake.stored_bytes()}
    result["profile"] = {k: round(v, 3) for k, v in sorted(profile.steps.items(), key=lambda kv: -kv[1])}
    result["marts_profile"] = {k: round(v, 3) for k, v in sorted(marts_profile.items(), key=lambda kv: -kv[1])}
    result["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result["duckdb_threads"] = int(duckdb_setting("threads"))
    print(json.dumps(result), flush=True)


def scan_report(con, days: DayRange, settings: AccountingSettings) -> dict:
    """Rows of raw.requests the marts' request models actually scan (DuckDB's profiler), beside
    the rows stored: a nightly run must read its day and margins, not the history."""
    out = {"raw_requests_stored": con.execute("SELECT count(*) FROM raw.requests").fetchall()[0][0]}
    params = {"range_start": days.start_at, "range_end": days.end_at, **settings.sql_params()}
    for model in ("intermediate/int_routed_requests.sql", "intermediate/int_request_tokens.sql"):
        statement = next(s for s in statements(model) if " AS\n" in s.upper())
        select = statement[statement.upper().index(" AS\n") + 4:]
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            con.execute("SET enable_profiling = 'json'")
            con.execute(f"SET profiling_output = '{f.name}'")
            con.execute("SET profiling_mode = 'detailed'")
            wanted = {k: v for k, v in params.items() if f"${k}" in select}
            con.execute(select, wanted).fetchall()
            con.execute("SET enable_profiling = 'no_output'")
            con.execute("RESET profiling_output")
            tree = json.loads(Path(f.name).read_text())
        scans = [n for n in _nodes(tree.get("operator", [tree]))
                 if n.get("type") == "TABLE_SCAN" and "requests" in str(n.get("extra_info", {}).get("Table", ""))]
        out[model] = {"rows_scanned": sum(n.get("rows_scanned", 0) for n in scans),
                      "row_groups_scanned": sum(n.get("row_groups_scanned", 0) for n in scans),
                      "row_groups_in_table": sum(n.get("total_row_groups_to_scan", 0) for n in scans)}
    return out


def _nodes(nodes: list[dict]):
    for node in nodes:
        yield node
        yield from _nodes(node.get("children", []))


def duckdb_setting(name: str) -> str:
    import duckdb

    with duckdb.connect() as c:
        return c.execute(f"SELECT current_setting('{name}')").fetchall()[0][0]


def _rfc3339(at) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


if __name__ == "__main__":
    main()
