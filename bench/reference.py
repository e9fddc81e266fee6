"""The obvious implementation a user writes first, kept as the benchmark's yardstick.

* parse: every page through pydantic, one ``RequestLog`` per row
  (``TypeAdapter(Page[RequestLog]).validate_json``), then drop exact re-deliveries by request_id;
* busy time: a pandas frame of the routed requests, ``groupby('resource_id')``, and a Python loop
  over each resource's requests sorted by start that merges overlapping intervals into islands
  (rule 4's *union*, never a sum) and cuts each island at hour boundaries.

Both follow the pipeline's definitions (sql/intermediate/int_routed_requests.sql,
int_busy_islands.sql) so `tests/test_bench_equivalence.py` can demand exactly equal answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

import pandas as pd
from pydantic import TypeAdapter

from models.sources import Page, RequestLog

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
US = timedelta(microseconds=1)
HOUR_US = 3_600_000_000
PAGE = TypeAdapter(Page[RequestLog])


def parse_requests(pages: Iterable[bytes]) -> list[RequestLog]:
    """Every row of every page as a validated ``RequestLog``; identical re-deliveries collapse."""
    rows: list[RequestLog] = []
    for body in pages:
        rows.extend(PAGE.validate_json(body).data)
    seen: dict[str, RequestLog] = {}
    for row in rows:
        earlier = seen.setdefault(row.request_id, row)
        if earlier != row:  # frozen models compare by value; datetimes compare as instants
            raise ValueError(f"conflicting copies of request_id {row.request_id}")
    return list(seen.values())


def to_frame(rows: list[RequestLog]) -> pd.DataFrame:
    return pd.DataFrame([r.model_dump() for r in rows])


def busy_us_per_resource_hour(requests: pd.DataFrame, range_start: datetime, range_end: datetime
                              ) -> dict[tuple[str, datetime], int]:
    """Microseconds of the union of routed requests' [received_at, finished_at) per resource and
    UTC hour, clipped to [range_start, range_end)."""
    df = requests[requests["resource_id"].notna()].copy()
    df["received_at"] = pd.to_datetime(df["received_at"], utc=True)
    df["finished_at"] = pd.to_datetime(df["finished_at"], utc=True)
    lo, hi = pd.Timestamp(range_start), pd.Timestamp(range_end)
    df = df[(df["finished_at"] > lo) & (df["received_at"] < hi) & (df["finished_at"] > df["received_at"])]
    df["start"] = df["received_at"].clip(lower=lo)
    df["end"] = df["finished_at"].clip(upper=hi)
    busy: dict[tuple[str, datetime], int] = defaultdict(int)
    for resource_id, group in df.groupby("resource_id"):
        island_start = island_end = None
        for row in group.sort_values("start").itertuples():
            start, end = _us(row.start), _us(row.end)
            if island_end is not None and start <= island_end:
                island_end = max(island_end, end)
                continue
            if island_end is not None:
                _add_island(busy, resource_id, island_start, island_end)
            island_start, island_end = start, end
        if island_end is not None:
            _add_island(busy, resource_id, island_start, island_end)
    return dict(busy)


def _us(ts: pd.Timestamp) -> int:
    return ts.value // 1000  # .value is nanoseconds whatever the unit; the sources carry microseconds


def _add_island(busy: dict, resource_id: str, start: int, end: int) -> None:
    hour = start - start % HOUR_US
    while hour < end:
        busy[(resource_id, EPOCH + timedelta(microseconds=hour))] += min(end, hour + HOUR_US) - max(start, hour)
        hour += HOUR_US


def main(argv: list[str] | None = None) -> None:
    """Time the reference on the first ``--sample`` requests of a served day (a process of its own)."""
    import argparse
    import json
    import resource
    import time
    from datetime import date

    from bench.serve import day_window
    from pipelines.client import SourceClient

    ap = argparse.ArgumentParser(prog="python -m bench.reference")
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--day", type=date.fromisoformat, required=True)
    ap.add_argument("--sample", type=int, default=200_000)
    ap.add_argument("--page-limit", type=int, default=100_000)
    args = ap.parse_args(argv)

    window = day_window(args.day)
    params = {"start": window[0].strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "end": window[1].strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    pages: list[bytes] = []
    t0 = time.perf_counter()
    with SourceClient(args.url, args.token, source="bench", page_limit=args.page_limit, timeout_s=120) as client:
        fetched = 0
        for body in client.iter_pages("/v1/usage/requests", params):
            pages.append(body)
            fetched += body.count(b'"request_id"')
            if fetched >= args.sample:
                break
    http_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = parse_requests(pages)
    parse_s = time.perf_counter() - t0
    del pages
    t0 = time.perf_counter()
    frame = to_frame(rows)
    frame_s = time.perf_counter() - t0
    range_start = datetime.combine(args.day, datetime.min.time(), timezone.utc)
    t0 = time.perf_counter()
    busy = busy_us_per_resource_hour(frame, range_start, range_start + timedelta(days=1))
    busy_s = time.perf_counter() - t0
    print(json.dumps({
        "rows": len(rows), "http_s": http_s, "parse_s": parse_s, "frame_s": frame_s, "busy_s": busy_s,
        "resource_hours": len(busy), "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }), flush=True)


if __name__ == "__main__":
    main()
