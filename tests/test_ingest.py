"""Landing contract-API pages into the lake: typing, exact decimals, rule 9 duplicates, quarantine,
re-runs. Pages are typed by the gateway adapter (pipelines/adapters/contract_api.py), landed as a
day of Parquet (pipelines/landing.py) and read back through the lake's views, as a build reads them."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import duckdb
import pytest

from pipelines.adapters.base import Window
from pipelines.adapters.contract_api import ContractApiAdapter
from pipelines.lake import Lake
from pipelines.lake_views import attach_views
from pipelines.landing import IngestResult, land
from pipelines.sources.registry import SOURCES

DAY = date(2026, 3, 1)
WINDOW = (datetime(2026, 2, 28, 23, 45, tzinfo=timezone.utc), datetime(2026, 3, 2, 0, 15, tzinfo=timezone.utc))
UTC = timezone.utc


class LakeConnection:
    """A DuckDB connection whose raw.* and quarantine.* views are refreshed over the lake before
    each statement, so a test reads what a build would read."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, lake: Lake) -> None:
        self.connection, self.lake = connection, lake

    def execute(self, sql, params=None):
        attach_views(self.connection, self.lake)
        return self.connection.execute(sql, params)


class PagesClient:
    def __init__(self, pages):
        self.pages = pages

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def iter_pages(self, path, params):
        return iter(self.pages)


def land_source(con: LakeConnection, source, pages, *, day, window, expected_currency=None) -> IngestResult:
    adapter = ContractApiAdapter(SOURCES[source], lambda: PagesClient(pages), label="test API",
                                 expected_currency=expected_currency)
    try:
        window = Window(day, *window)
        return land(con.lake, SOURCES[source], adapter.read(window), window=window, adapter="gateway_api",
                    payloads=adapter.payloads)
    finally:
        adapter.close()


@pytest.fixture
def con(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        yield LakeConnection(connection, Lake(tmp_path / "lake"))


def page(rows: list[dict], cursor: str | None = None) -> bytes:
    return json.dumps({"data": rows, "next_cursor": cursor}).encode()


def request(request_id="r1", **changes) -> dict:
    row = {
        "request_id": request_id, "received_at": "2026-03-01T10:00:00Z",
        "first_token_at": "2026-03-01T10:00:00.250Z", "finished_at": "2026-03-01T10:00:05Z",
        "model": "llama-3.1-70b", "tier": "h100-class", "resource_id": "i-1", "status": 200,
        "error": None, "prompt_tokens": 100, "completion_tokens": 250, "cached_tokens": 10, "api_key_id": "k1",
    }
    return {**row, **changes}


def snapshot(resource_id="i-1", **changes) -> dict:
    row = {
        "sampled_at": "2026-03-01T10:00:00Z", "resource_id": resource_id, "tier": "h100-class",
        "gpu_type": "H100-SXM-80GB", "gpu_count": 2, "price_model": "spot", "state": "running",
        "rate_per_hour": "4.10", "cumulative_cost": "12.5", "billing_period_start": "2026-03-01T00:00:00Z",
        "currency": "USD",
    }
    return {**row, **changes}


def event(**changes) -> dict:
    return {"at": "2026-03-01T10:00:00Z", "resource_id": "i-1", "tier": "h100-class", "event": "launched", **changes}


def quarantine(con, source) -> list[tuple]:
    return con.execute(f"SELECT row_number, field, reason FROM quarantine.{source} ORDER BY row_number").fetchall()


def test_typed_request_rows_land(con):
    result = land_source(con, "requests", [page([request()], "c"), page([request("r2", first_token_at=None)])],
                         day=DAY, window=WINDOW)
    assert result == IngestResult("requests", fetched=2, duplicates=0, kept=2, quarantined=0)
    assert con.execute("SELECT * FROM raw.requests ORDER BY request_id").fetchall() == [
        ("r1", datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 10, 0, 0, 250000, tzinfo=UTC),
         datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC), "llama-3.1-70b", "h100-class", "i-1", 200, None,
         100, 250, 10, "k1"),
        ("r2", datetime(2026, 3, 1, 10, tzinfo=UTC), None, datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC),
         "llama-3.1-70b", "h100-class", "i-1", 200, None, 100, 250, 10, "k1"),
    ]


def test_decimals_arrive_exactly_whether_sent_as_numbers_or_strings(con):
    body = (
        b'{"data": [' + json.dumps(snapshot("i-1"))[:-1].encode().replace(b'"12.5"', b'"0"')
        + b', "x": 1}, {"sampled_at": "2026-03-01T10:01:00Z", "resource_id": "i-1", "tier": "h100-class",'
        b' "gpu_type": null, "gpu_count": 0, "price_model": "on_demand", "state": "hibernated",'
        b' "rate_per_hour": 0.000000001, "cumulative_cost": 12345678901.123456789,'
        b' "billing_period_start": "2026-03-01T00:00:00Z", "currency": "USD"},'
        + json.dumps(snapshot("i-2", cumulative_cost="98765432109876543210.987654321")).encode()
        + b'], "next_cursor": null}'
    )
    result = land_source(con, "billing_snapshots", [body], day=DAY, window=WINDOW, expected_currency="USD")
    assert result == IngestResult("billing_snapshots", fetched=3, duplicates=0, kept=3, quarantined=0)
    assert con.execute(
        "SELECT resource_id, rate_per_hour, cumulative_cost FROM raw.billing_snapshots ORDER BY ALL"
    ).fetchall() == [
        ("i-1", Decimal("0.000000001"), Decimal("12345678901.123456789")),
        ("i-1", Decimal("4.100000000"), Decimal("0E-9")),
        ("i-2", Decimal("4.100000000"), Decimal("98765432109876543210.987654321")),
    ]


def test_three_spellings_of_one_instant_are_one_row(con):
    copies = [request(received_at=t) for t in
              ("2026-03-01T10:00:00Z", "2026-03-01T10:00:00.000000Z", "2026-03-01T10:00:00+00:00")]
    result = land_source(con, "requests", [page(copies)], day=DAY, window=WINDOW)
    assert result == IngestResult("requests", fetched=3, duplicates=2, kept=1, quarantined=0)
    assert con.execute("SELECT request_id, received_at FROM raw.requests").fetchall() == [
        ("r1", datetime(2026, 3, 1, 10, tzinfo=UTC))
    ]


def test_frames_are_staged_as_files_and_none_is_left_after_the_day_lands(con, tmp_path):
    scratch = tmp_path / "scratch"
    pages = [page([request("r1")], "c1"), page([request("r2"), request("r3")], "c2"), page([request("r4")])]
    adapter = ContractApiAdapter(SOURCES["requests"], lambda: PagesClient(pages), label="test API")
    staged_when_each_frame_landed = []
    window = Window(DAY, *WINDOW)
    try:
        result = land(con.lake, SOURCES["requests"], adapter.read(window), window=window, adapter="gateway_api",
                      payloads=adapter.payloads, scratch=scratch, on_frame=lambda frame: staged_when_each_frame_landed
                      .append(sorted(p.name for p in scratch.glob("staged-requests-*/*.parquet"))))
    finally:
        adapter.close()
    assert result == IngestResult("requests", fetched=4, duplicates=0, kept=4, quarantined=0)
    assert staged_when_each_frame_landed == [
        ["frame-000000.parquet"],
        ["frame-000000.parquet", "frame-000001.parquet"],
        ["frame-000000.parquet", "frame-000001.parquet", "frame-000002.parquet"],
    ]
    assert list(scratch.glob("staged-*")) == []
    assert con.execute("SELECT list(request_id ORDER BY request_id) FROM raw.requests").fetchall() == [
        (["r1", "r2", "r3", "r4"],)]

    def broken_source():
        yield from adapter.read(window)
        raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError, match="went away"):
        land(con.lake, SOURCES["requests"], broken_source(), window=window, adapter="gateway_api", scratch=scratch)
    adapter.close()
    assert list(scratch.glob("staged-*")) == []  # and the day stored before is untouched
    assert con.execute("SELECT count(*) FROM raw.requests").fetchall() == [(4,)]


def test_copies_that_disagree_are_all_quarantined(con):
    rows = [request(), request(completion_tokens=251), request(), request("r2")]
    result = land_source(con, "requests", [page(rows)], day=DAY, window=WINDOW)
    assert result == IngestResult("requests", fetched=4, duplicates=1, kept=1, quarantined=2)
    assert quarantine(con, "requests") == [
        (1, "request_id", "conflicting copies of request_id r1"),
        (2, "request_id", "conflicting copies of request_id r1"),
    ]
    assert con.execute("SELECT request_id FROM raw.requests").fetchall() == [("r2",)]
    payload = con.execute("SELECT raw_payload FROM quarantine.requests WHERE row_number = 2").fetchall()[0][0]
    assert json.loads(payload) == request(completion_tokens=251)


def test_conflicting_snapshots_name_their_key(con):
    rows = [snapshot(), snapshot(sampled_at="2026-03-01T10:00:00+00:00", cumulative_cost="13")]
    land_source(con, "billing_snapshots", [page(rows)], day=DAY, window=WINDOW)
    assert quarantine(con, "billing_snapshots") == [
        (1, "resource_id, sampled_at", "conflicting copies of resource_id, sampled_at i-1 at 2026-03-01T10:00:00.000000Z"),
        (2, "resource_id, sampled_at", "conflicting copies of resource_id, sampled_at i-1 at 2026-03-01T10:00:00.000000Z"),
    ]


BAD_REQUESTS = [
    ({"request_id": None}, "request_id", "Input should be a valid string"),
    ({"request_id": ""}, "request_id", "String should have at least 1 character"),
    ({"completion_tokens": -3}, "completion_tokens", "Input should be greater than or equal to 0"),
    ({"prompt_tokens": 1.5}, "prompt_tokens", "Input should be a valid integer, got a number with a fractional part"),
    ({"finished_at": "2026-03-01T09:59:59Z"}, "finished_at",
     "finished_at 2026-03-01T09:59:59Z is before received_at 2026-03-01T10:00:00Z"),
    ({"received_at": "yesterday"}, "received_at", "Input should be a valid datetime or date, input is too short"),
    ({"received_at": "2026-03-01T10:00:00"}, "received_at", "Input should have timezone info"),
    ({"received_at": 1772359200}, "received_at", "received_at is not an RFC 3339 timestamp with offset"),
    ({"status": 42}, "status", "Input should be greater than or equal to 100"),
    ({"finished_at": "2026-03-02T00:15:00Z"}, "finished_at", "finished_at is outside the fetched window"),
]


@pytest.mark.parametrize(("change", "field", "reason"), BAD_REQUESTS)
def test_a_bad_request_row_is_quarantined_with_its_field(con, change, field, reason):
    bad = {**request("bad"), **change}
    result = land_source(con, "requests", [page([request("ok"), bad])], day=DAY, window=WINDOW)
    assert result == IngestResult("requests", fetched=2, duplicates=0, kept=1, quarantined=1)
    assert quarantine(con, "requests") == [(2, field, reason)]
    assert con.execute("SELECT source, day, raw_payload FROM quarantine.requests").fetchall() == [
        ("requests", DAY, json.dumps(bad))
    ]


def test_a_missing_id_is_quarantined_as_required(con):
    row = request()
    del row["request_id"]
    land_source(con, "requests", [page([row])], day=DAY, window=WINDOW)
    assert quarantine(con, "requests") == [(1, "request_id", "Field required")]


BAD_SNAPSHOTS = [
    ({"state": "sleeping"}, "state", "Input should be 'running', 'hibernated', 'stopped' or 'terminated'"),
    ({"price_model": "free"}, "price_model", "Input should be 'spot', 'on_demand' or 'reserved'"),
    ({"cumulative_cost": "12,5"}, "cumulative_cost", "Input should be a valid decimal"),
    ({"rate_per_hour": "NaN"}, "rate_per_hour", "Input should be a finite number"),
    ({"cumulative_cost": "-1"}, "cumulative_cost", "Input should be greater than or equal to 0"),
    ({"sampled_at": "2026-03-01 10:00"}, "sampled_at", "Input should have timezone info"),
    ({"currency": "EUR"}, "currency", "currency is EUR, expected USD"),
    ({"gpu_count": -1}, "gpu_count", "Input should be greater than or equal to 0"),
]


@pytest.mark.parametrize(("change", "field", "reason"), BAD_SNAPSHOTS)
def test_a_bad_snapshot_is_quarantined_with_its_field(con, change, field, reason):
    rows = [snapshot("ok"), snapshot("bad", **change)]
    result = land_source(con, "billing_snapshots", [page(rows)], day=DAY, window=WINDOW, expected_currency="USD")
    assert (result.kept, result.quarantined) == (1, 1)
    assert quarantine(con, "billing_snapshots") == [(2, field, reason)]


def test_an_unknown_event_is_quarantined(con):
    rows = [event(), event(event="exploded"), event(at="2026-03-01T10:00:00.000Z")]
    result = land_source(con, "fleet_events", [page(rows)], day=DAY, window=WINDOW)
    assert result == IngestResult("fleet_events", fetched=3, duplicates=1, kept=1, quarantined=1)
    assert quarantine(con, "fleet_events") == [
        (2, "event", "Input should be 'launched', 'wake_requested', 'engine_ready', 'hibernated', "
                     "'spot_interrupted' or 'terminated'")
    ]


def test_rerunning_a_day_leaves_identical_tables(con):
    pages = [page([request("a"), request("b", completion_tokens=-1)], "c"), page([request("a"), request("c")])]
    first = land_source(con, "requests", pages, day=DAY, window=WINDOW)
    before = (con.execute("SELECT * FROM raw.requests ORDER BY ALL").fetchall(),
              con.execute("SELECT * FROM quarantine.requests ORDER BY ALL").fetchall())
    second = land_source(con, "requests", pages, day=DAY, window=WINDOW)
    after = (con.execute("SELECT * FROM raw.requests ORDER BY ALL").fetchall(),
             con.execute("SELECT * FROM quarantine.requests ORDER BY ALL").fetchall())
    assert first == second == IngestResult("requests", fetched=4, duplicates=1, kept=2, quarantined=1)
    assert before == after and len(after[0]) == 2 and len(after[1]) == 1


def test_the_window_is_replaced_and_rows_outside_it_stay(con):
    land_source(con, "requests", [page([request("gone"), request("kept")])], day=DAY, window=WINDOW)
    earlier = (datetime(2026, 2, 27, 23, 45, tzinfo=UTC), datetime(2026, 3, 1, 0, 15, tzinfo=UTC))
    land_source(con, "requests", [page([request("yesterday", finished_at="2026-02-28T12:00:00Z",
                                                 received_at="2026-02-28T11:00:00Z", first_token_at=None)])],
                day=date(2026, 2, 28), window=earlier)
    result = land_source(con, "requests", [page([request("kept")])], day=DAY, window=WINDOW)
    assert result.kept == 1
    assert con.execute("SELECT request_id FROM raw.requests ORDER BY 1").fetchall() == [("kept",), ("yesterday",)]


def test_a_copy_conflicting_with_one_stored_from_another_window_is_quarantined(con):
    yesterday = (datetime(2026, 2, 27, 23, 45, tzinfo=UTC), datetime(2026, 3, 1, 0, 15, tzinfo=UTC))
    land_source(con, "requests", [page([request("r9", received_at="2026-02-28T23:00:00Z", first_token_at=None,
                                                finished_at="2026-02-28T23:00:05Z")])],
                day=date(2026, 2, 28), window=yesterday)
    result = land_source(con, "requests", [page([request("r9")])], day=DAY, window=WINDOW)
    assert result == IngestResult("requests", fetched=1, duplicates=0, kept=0, quarantined=1)
    assert quarantine(con, "requests") == [
        (1, "request_id", "conflicting copies of request_id r9: a different copy is already stored from outside this window")
    ]
    assert con.execute("SELECT finished_at FROM raw.requests").fetchall() == [(datetime(2026, 2, 28, 23, 0, 5, tzinfo=UTC),)]


def test_fetched_equals_kept_plus_quarantined_plus_collapsed_copies(con):
    rows = [request("a"), request("a"), request("b"), request("b", model="other"), request("c", tier=""),
            request("d", finished_at="bad")]
    result = land_source(con, "requests", [page(rows[:3], "x"), page(rows[3:])], day=DAY, window=WINDOW)
    assert result == IngestResult("requests", fetched=6, duplicates=1, kept=1, quarantined=4)
    assert result.fetched == result.kept + result.quarantined + result.duplicates
    assert con.execute("SELECT count(*) FROM quarantine.requests").fetchall() == [(4,)]


def test_no_rows_is_a_clean_empty_landing(con):
    assert land_source(con, "fleet_events", [page([])], day=DAY, window=WINDOW) == IngestResult(
        "fleet_events", 0, 0, 0, 0
    )
