"""The benchmark's fixture server, in a process of its own (its memory and CPU are not the pipeline's).

    python -m bench.serve --seed 11 --days 1 --requests-per-day 10000000 --limit 100000

Loads the fleet through the parquet cache (simulating it on a miss), pre-renders every page of
every day's window (the day widened by the day-edge margin, for all three sources) into the
server's page cache, then prints one JSON line ``{"url": ..., "pages": ..., "rows": ...}`` and
serves until its stdin closes.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone

from fixtures.fleet import DEFAULT_START, load_fleet
from fixtures.server import FixtureServer
from pipelines.config import load_config

SOURCES = {"billing_snapshots": "snapshots", "requests": "requests", "fleet_events": "events"}


def day_window(day: date, margin_s: int | None = None) -> tuple[datetime, datetime]:
    margin = timedelta(seconds=load_config().accounting.day_edge_margin_s if margin_s is None else margin_s)
    start = datetime.combine(day, datetime.min.time(), timezone.utc) - margin
    return start, start + timedelta(days=1) + 2 * margin


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.serve")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--requests-per-day", type=int, required=True)
    ap.add_argument("--token", default="bench-token")
    ap.add_argument("--limit", type=int, action="append", help="page size(s) to pre-render")
    ap.add_argument("--serve-from", type=date.fromisoformat, help="serve only days from this one (a long history "
                    "is held a few days at a time: the day before and after are loaded for the margins)")
    ap.add_argument("--serve-days", type=int, help="how many days from --serve-from")
    ap.add_argument("--no-warm", action="store_true", help="render pages as they are asked for (a day too large "
                    "to hold pre-rendered); the server's rendering then shares the machine with the pipeline")
    args = ap.parse_args(argv)

    first = args.serve_from or args.start
    count = args.serve_days or args.days
    between = None
    if args.serve_from or args.serve_days:
        low = datetime.combine(first, datetime.min.time(), timezone.utc) - timedelta(days=1)
        between = (low, low + timedelta(days=count + 2))
    t0 = time.perf_counter()
    fleet = load_fleet(args.seed, args.start, args.days, args.requests_per_day, between=between)
    loaded_s = time.perf_counter() - t0
    server = FixtureServer(fleet, args.token, page_cache_bytes=1 << 20)
    pages: dict[str, int] = {}
    rows: dict[str, int] = {}
    t0 = time.perf_counter()
    for i in range(count):
        start, end = day_window(first + timedelta(days=i))
        for source, name in SOURCES.items():
            for limit in ([] if args.no_warm else args.limit or [100_000]):
                pages[f"{source}/{limit}"] = pages.get(f"{source}/{limit}", 0) + server.warm(name, start, end, limit=limit)
            us = lambda t: (t - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)  # noqa: E731
            rows[source] = rows.get(source, 0) + sum(b - a for a, b in fleet.source(name).window(us(start), us(end)))
    warm_s = time.perf_counter() - t0
    server.start()
    print(json.dumps({"url": server.url, "pages": pages, "rows": rows, "load_s": round(loaded_s, 2),
                      "warm_s": round(warm_s, 2), "description": fleet.description}), flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    server.close()


if __name__ == "__main__":
    main()
