"""The benchmark's yardstick and the pipeline agree (issue 6): on one small fixture day, served over
loopback HTTP, the reference (per-row pydantic, a pandas loop for busy time; bench/reference.py)
and the fast path (bulk ingest in DuckDB, `build_marts`) give the same parsed rows and exactly the
same busy microseconds per resource-hour."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import duckdb
import pytest

from bench import reference
from bench.serve import day_window
from fixtures.fleet import simulate_fleet
from fixtures.server import FixtureServer
from pipelines.accounting import DayRange, build_marts, ensure_schema
from pipelines.adapters.base import Window
from pipelines.adapters.contract_api import ContractApiAdapter
from pipelines.client import SourceClient
from pipelines.lake import Lake
from pipelines.lake_views import attach_views, sync_edges
from pipelines.landing import land
from pipelines.settings import AccountingSettings
from pipelines.sources.registry import SOURCES

DAY = date(2026, 10, 26)
TOKEN = "bench-equivalence"
PATHS = {"billing_snapshots": "/v1/billing/snapshots", "requests": "/v1/usage/requests",
         "fleet_events": "/v1/fleet/events"}
COLUMNS = ("request_id", "received_at", "first_token_at", "finished_at", "model", "tier", "resource_id",
           "status", "error", "prompt_tokens", "completion_tokens", "cached_tokens", "api_key_id")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    fleet = simulate_fleet(seed=5, start=DAY, days=1, requests_per_day=3000)
    start, end = day_window(DAY)
    params = {"start": start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "end": end.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    folder = tmp_path_factory.mktemp("bench")
    lake, window = Lake(folder / "lake"), Window(DAY, start, end)
    with FixtureServer(fleet, token=TOKEN) as server, \
            SourceClient(server.url, TOKEN, source="fixture", page_limit=700) as client, \
            duckdb.connect(str(folder / "warehouse.duckdb")) as con:
        for source in PATHS:
            adapter = ContractApiAdapter(
                SOURCES[source], lambda: SourceClient(server.url, TOKEN, source="fixture", page_limit=700), label="fixture")
            land(lake, SOURCES[source], adapter.read(window), window=window, adapter="gateway_api",
                 payloads=adapter.payloads)
            adapter.close()
        ensure_schema(con)
        sync_edges(con, lake)
        attach_views(con, lake, (DAY, DAY))
        build_marts(con, DayRange(DAY, DAY + timedelta(days=1)), AccountingSettings())
        rows = reference.parse_requests(client.iter_pages(PATHS["requests"], params))
        stored = con.execute(f"SELECT {', '.join(COLUMNS)} FROM raw.requests").fetchall()
        islands = con.execute(
            "SELECT resource_id, hour, sum(us) FROM intermediate.timeline_segments WHERE in_island GROUP BY ALL"
        ).fetchall()
        hourly = con.execute(
            "SELECT resource_id, hour, busy_s, running_s, waking_s FROM marts.resource_hourly"
        ).fetchall()
        not_busy_in_islands = {(r, h) for r, h in con.execute(
            "SELECT DISTINCT resource_id, hour FROM intermediate.timeline_segments WHERE in_island AND state <> 'busy'"
        ).fetchall()}
    return rows, stored, islands, hourly, not_busy_in_islands


def test_the_day_has_enough_traffic_to_mean_something(both):
    rows, stored, islands, _, _ = both
    assert len(rows) > 2000 and len({r.resource_id for r in rows if r.resource_id}) >= 3
    assert len(islands) > 24


def test_parsed_rows_are_the_stored_rows(both):
    rows, stored, *_ = both
    parsed = {tuple(getattr(r, c) for c in COLUMNS) for r in rows}
    assert len(parsed) == len(rows) == len(stored)
    assert parsed == set(stored)  # instants compare as instants; re-deliveries collapsed on both sides


def test_busy_time_is_the_same_union_per_resource_hour(both):
    rows, _, islands, hourly, not_busy_in_islands = both
    day_start = datetime.combine(DAY, datetime.min.time(), timezone.utc)
    expected = reference.busy_us_per_resource_hour(reference.to_frame(rows), day_start, day_start + timedelta(days=1))
    fast = {(r, h): int(us) for r, h, us in islands}
    assert fast == expected  # exactly, to the microsecond
    # and the published busy seconds are that union wherever all of it was running time
    checked = 0
    for resource_id, hour, busy_s, running_s, waking_s in hourly:
        if (resource_id, hour) not in not_busy_in_islands and (resource_id, hour) in expected:
            assert busy_s == Decimal(expected[(resource_id, hour)]) / 1_000_000
            checked += 1
    assert checked > 24
