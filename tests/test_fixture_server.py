"""The fixture HTTP server: auth, half-open windows on the right field, paging that covers a
window exactly once, opaque cursors, invoices, the tiny fleet, and the fault seam."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import orjson
import pytest

from fixtures.fleet import Fleet, simulate_fleet
from fixtures.server import Fault, FixtureServer, serve_fleet

TOKEN = "s3cret-fixture"
TINY = Path("/work/shared/examples/tiny_fleet/input")
FIELD = {"snapshots": "sampled_at", "requests": "finished_at", "events": "at"}
PATH = {"snapshots": "/v1/billing/snapshots", "requests": "/v1/usage/requests", "events": "/v1/fleet/events"}


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    # Fri 30 Oct .. Sun 1 Nov: crosses the month (a reset, the October invoice), a weekend wake
    return simulate_fleet(start=date(2026, 10, 30), days=3, requests_per_day=5_000)


@pytest.fixture(scope="module")
def client(fleet):
    with serve_fleet(fleet, token=TOKEN) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as c:
            yield c


def pull(client: httpx.Client, path: str, **params) -> list[dict]:
    rows, cursors = [], set()
    while True:
        r = client.get(path, params=params)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        page = r.json()
        rows += page["data"]
        if page["next_cursor"] is None:
            return rows
        assert page["next_cursor"] not in cursors
        cursors.add(page["next_cursor"])
        params = {**params, "cursor": page["next_cursor"]}


def direct(fleet: Fleet, source: str, start: datetime, end: datetime) -> list[dict]:
    rows = [orjson.loads(t) for t in fleet.source(source).json]
    return [r for r in rows if start <= datetime.fromisoformat(r[FIELD[source]]) < end]


def rfc(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_token_required(client, fleet):
    url = str(client.base_url)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = httpx.get(url + "/v1/usage/requests", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized" and TOKEN not in r.text
    assert client.get("/v1/nope").status_code == 404


@pytest.mark.parametrize("source", ["snapshots", "requests", "events"])
def test_paging_covers_the_window_exactly_once(client, fleet, source):
    start = datetime(2026, 10, 31, 9, 30, tzinfo=timezone.utc)
    end = datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)
    want = direct(fleet, source, start, end)
    got = pull(client, PATH[source], start=rfc(start), end=rfc(end), limit=337)
    assert len(want) > (5 if source == "events" else 400)
    assert got == want


def test_whole_source_without_bounds(client, fleet):
    got = pull(client, "/v1/fleet/events", limit=100_000)
    assert got == [orjson.loads(t) for t in fleet.events.json]


def test_half_open_on_finished_at(client, fleet):
    rows = [orjson.loads(t) for t in fleet.requests.json[1000:1200]]
    r = max(rows, key=lambda x: (datetime.fromisoformat(x["finished_at"]) - datetime.fromisoformat(x["received_at"])))
    fin = datetime.fromisoformat(r["finished_at"])
    ids = lambda rows: {x["request_id"] for x in rows}  # noqa: E731
    # a row exactly at `end` is out, exactly at `start` is in; the +00:00 spelling is the same instant
    assert r["request_id"] not in ids(pull(client, "/v1/usage/requests", start=rfc(fin - timedelta(seconds=5)), end=rfc(fin)))
    for spelled in (rfc(fin), fin.isoformat(), fin.isoformat().replace("+00:00", "Z")):
        assert r["request_id"] in ids(pull(client, "/v1/usage/requests", start=spelled, end=rfc(fin + timedelta(seconds=1))))
    # selection is on finished_at: a window holding only received_at misses it
    rec = datetime.fromisoformat(r["received_at"])
    assert r["request_id"] not in ids(pull(client, "/v1/usage/requests", start=rfc(rec), end=rfc(rec + timedelta(microseconds=1))))


def test_half_open_on_sampled_at_and_at(client, fleet):
    for source in ("snapshots", "events"):
        row = orjson.loads(fleet.source(source).json[len(fleet.source(source)) // 2])
        t = datetime.fromisoformat(row[FIELD[source]])
        assert row not in pull(client, PATH[source], start=rfc(t - timedelta(minutes=2)), end=rfc(t))
        assert row in pull(client, PATH[source], start=t.isoformat(), end=rfc(t + timedelta(microseconds=1)))


@pytest.mark.parametrize("params,message", [
    ({"cursor": "garbage!"}, "invalid cursor"),
    ({"cursor": "eyJhIjoxfQ"}, "invalid cursor"),
    ({"limit": "0"}, "limit"), ({"limit": "100001"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"start": "yesterday"}, "start"), ({"start": "2026-10-31T00:00:00"}, "UTC offset"),
    ({"start": "2026-10-31T02:00:00Z", "end": "2026-10-31T01:00:00Z"}, "before"),
])
def test_bad_queries_are_400(client, params, message):
    r = client.get("/v1/usage/requests", params=params)
    assert r.status_code == 400 and message in r.json()["message"]


def test_a_cursor_belongs_to_its_query(client):
    window = {"start": "2026-10-31T00:00:00Z", "end": "2026-10-31T06:00:00Z", "limit": 10}
    cursor = client.get("/v1/usage/requests", params=window).json()["next_cursor"]
    assert client.get("/v1/usage/requests", params={**window, "cursor": cursor}).status_code == 200
    assert client.get("/v1/usage/requests", params={"cursor": cursor}).status_code == 200
    other = {**window, "end": "2026-10-31T07:00:00Z", "cursor": cursor}
    assert client.get("/v1/usage/requests", params=other).status_code == 400
    assert client.get("/v1/fleet/events", params={"cursor": cursor}).status_code == 400


def test_invoices(client, fleet):
    got = pull(client, "/v1/billing/invoices", billing_period="2026-10", limit=7)
    assert got == fleet.invoices["2026-10"] and len(got) > 7
    assert pull(client, "/v1/billing/invoices", billing_period="2026-11") == []
    assert client.get("/v1/billing/invoices").status_code == 400
    assert client.get("/v1/billing/invoices", params={"billing_period": "2026-13"}).status_code == 400


def test_tiny_fleet_dir_serves_every_row():
    fleet = Fleet.from_json_dir(TINY)
    with serve_fleet(fleet, token=TOKEN) as url, httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as c:
        for source, name in (("snapshots", "snapshots.json"), ("requests", "requests.json"), ("events", "events.json")):
            want = orjson.loads((TINY / name).read_bytes())
            key = lambda r: (datetime.fromisoformat(r[FIELD[source]]), orjson.dumps(r))  # noqa: E731
            got = pull(c, PATH[source], start="2026-10-10T00:00:00Z", end="2026-10-11T00:00:00+00:00", limit=3)
            assert sorted(got, key=key) == sorted(want, key=key)
            assert pull(c, PATH[source]) == got


def test_rows_without_an_instant_are_in_every_window():
    good = {"at": "2026-10-10T10:00:00.000000Z", "resource_id": "r1", "tier": "t", "event": "launched"}
    bad = {**good, "at": "not a time", "resource_id": "r2"}
    with serve_fleet(Fleet.from_rows([], [], [good, bad]), token=TOKEN) as url:
        h = {"Authorization": f"Bearer {TOKEN}"}
        day1 = httpx.get(url + "/v1/fleet/events", headers=h, params={"start": "2026-10-10T00:00:00Z", "end": "2026-10-11T00:00:00Z"}).json()
        day2 = httpx.get(url + "/v1/fleet/events", headers=h, params={"start": "2026-10-11T00:00:00Z", "end": "2026-10-12T00:00:00Z"}).json()
    assert day1["data"] == [bad, good] and day2["data"] == [bad]


def test_fault_hook_and_warm_pages(fleet):
    calls = []

    def faults(path, params):
        calls.append(path)
        return Fault(status=503, headers={"Retry-After": "1"}) if len(calls) == 1 else None

    with FixtureServer(fleet, token=TOKEN, faults=faults) as srv:
        assert srv.warm("requests", datetime(2026, 10, 30, tzinfo=timezone.utc),
                        datetime(2026, 10, 31, tzinfo=timezone.utc), limit=1000) >= 4
        h = {"Authorization": f"Bearer {TOKEN}"}
        params = {"start": "2026-10-30T00:00:00Z", "end": "2026-10-31T00:00:00Z"}
        first = httpx.get(srv.url + "/v1/usage/requests", headers=h, params=params)
        assert first.status_code == 503 and first.headers["retry-after"] == "1"
        again = httpx.get(srv.url + "/v1/usage/requests", headers=h, params=params)
        assert again.status_code == 200 and len(again.json()["data"]) == 1000
