"""The quarantine-share check, through the real pipeline: a hand-made fleet with bad rows in every
source is served on loopback, fetched, landed and checked; nothing fetched is lost, and each
source's check passes or fails at its bound."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import duckdb
import pytest

from fixtures.rows import Fleet
from pipelines.contracts import CheckSettings
from pipelines.defs.checks.common import Scope
from pipelines.defs.checks.quarantine import quarantine_share_result

UTC = timezone.utc
DAY = date(2026, 10, 10)
START = datetime(2026, 10, 10, tzinfo=UTC)
WINDOW = (START - timedelta(minutes=15), START + timedelta(days=1, minutes=15))


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sample(at: datetime, cum: Decimal, **change) -> dict:
    return {
        "sampled_at": iso(at), "resource_id": "r1", "tier": "h100-class", "gpu_type": "H100-SXM-80GB",
        "gpu_count": 1, "price_model": "on_demand", "state": "running", "rate_per_hour": "4.20",
        "cumulative_cost": str(cum), "billing_period_start": "2026-10-01T00:00:00Z", "currency": "USD",
    } | change


def request(i: int, **change) -> dict:
    received = START + timedelta(minutes=2 * i + 1)
    return {
        "request_id": f"q{i}", "received_at": iso(received), "first_token_at": None,
        "finished_at": iso(received + timedelta(seconds=10)), "model": "m1", "tier": "h100-class",
        "resource_id": "r1", "status": 200, "error": None, "prompt_tokens": 10, "completion_tokens": 100,
        "cached_tokens": 0, "api_key_id": None,
    } | change


def noon(minute: int, second: int = 30) -> datetime:
    return START + timedelta(hours=12, minutes=minute, seconds=second)


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    first = START - timedelta(minutes=10)  # 2026-10-09T23:50, inside the fetched window
    snapshots = [sample(first + timedelta(minutes=5 * k), Decimal("0.35") * k) for k in range(293)]  # to 00:10
    snapshots += [
        sample(noon(0), Decimal("50"), resource_id=None),  # missing id
        sample(noon(1), Decimal("50"), state="exploded"),  # unknown state
        sample(noon(2), Decimal("50")) | {"sampled_at": "2026-10-10 12:02:30"},  # not RFC 3339
        sample(noon(3), Decimal("50"), currency="usd"),  # wrong currency
        sample(noon(4), Decimal("-1")),  # negative cumulative
    ]
    requests = [request(i) for i in range(500)]
    requests += [
        request(1),  # an identical re-delivery: collapsed, not quarantined
        request(600, request_id=None),  # missing id
        request(601, completion_tokens=-5),  # negative tokens
        request(602),  # good
        request(603) | {"received_at": iso(START + timedelta(hours=21))},  # finished before it was received
        request(604, received_at="half past ten"),  # not a timestamp
    ]
    events = [
        {"at": iso(START - timedelta(minutes=5)), "resource_id": "r1", "tier": "h100-class", "event": "launched"},
        {"at": iso(noon(30)), "resource_id": "r1", "tier": "h100-class", "event": "spot_interrupted"},
        {"at": iso(noon(40)), "resource_id": "r1", "tier": "h100-class", "event": "exploded"},  # unknown event
        {"at": "yesterday", "resource_id": "r1", "tier": "h100-class", "event": "launched"},  # bad timestamp
    ]
    return Fleet.from_rows(snapshots, requests, events)


@pytest.fixture(scope="module")
def published(fleet, tmp_path_factory):
    from fixtures.server import FixtureServer
    from pipelines.runner import run_days

    path = tmp_path_factory.mktemp("quarantine") / "invoice_true.duckdb"
    with pytest.MonkeyPatch.context() as mp, FixtureServer(fleet, token="tok") as server:
        mp.delenv("DAGSTER_HOME", raising=False)
        for name, value in {
            "BILLING_API_URL": server.url, "GATEWAY_API_URL": server.url, "BILLING_API_TOKEN": "tok",
            "GATEWAY_API_TOKEN": "tok", "WAREHOUSE_PATH": str(path),
        }.items():
            mp.setenv(name, value)
        outcome = run_days(DAY, DAY + timedelta(days=1))
    return outcome, path


def query(path, sql, params=None):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params).fetchall()


# (source, selection column, rows served in the day's window after identical copies collapse, quarantined)
FETCHED = [
    ("billing_snapshots", "sampled_at", 298, 5),
    ("requests", "finished_at", 505, 4),
    ("fleet_events", "at", 4, 2),
]


@pytest.mark.parametrize(("source", "selected_on", "fetched", "quarantined"), FETCHED)
def test_raw_plus_quarantined_rows_are_every_row_fetched_for_the_day(published, source, selected_on, fetched,
                                                                    quarantined):
    _, path = published
    raw = query(path, f'SELECT count(*) FROM raw.{source} WHERE "{selected_on}" >= ? AND "{selected_on}" < ?',
                list(WINDOW))[0][0]
    rejected = query(path, f"SELECT count(*) FROM quarantine.{source} WHERE day = ?", [DAY])[0][0]
    assert (raw, rejected) == (fetched - quarantined, quarantined)
    assert raw + rejected == fetched


def test_the_run_publishes_and_names_the_sources_over_the_bound(published):
    outcome, path = published
    assert outcome.exit_code == 2  # published; a failed check never hides data
    failed = [line for line in outcome.lines if " rows quarantined " in line]
    assert [line.split(":")[0] for line in failed] == ["ERROR raw.billing_snapshots", "ERROR raw.fleet_events"]
    assert all(line.endswith(f"— see quarantine.{source}") for line, source in
               zip(failed, ("billing_snapshots", "fleet_events")))
    assert path.exists()


def check(path, source, **bounds):
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        scope = Scope(START, START + timedelta(days=1), "2026-10-10")
        return quarantine_share_result(con, source, scope, CheckSettings(**bounds))


def test_snapshot_share_metadata_counts_by_reason_with_examples(published):
    _, path = published
    result = check(path, "billing_snapshots")
    meta = {k: v.value for k, v in result.metadata.items()}
    assert (result.passed, result.severity.value) == (False, "ERROR")
    assert (meta["raw_rows"], meta["quarantined_rows"], meta["rows"]) == (293, 5, 298)
    assert meta["quarantined_share"] == pytest.approx(5 / 298)
    assert result.description.startswith("ERROR raw.billing_snapshots: 5 of 298 rows quarantined (1.68%; bound 1.00%)")
    reasons = query(path, "SELECT field, count(*) FROM quarantine.billing_snapshots GROUP BY 1 ORDER BY 1")
    assert reasons == [("cumulative_cost", 1), ("currency", 1), ("resource_id", 1), ("sampled_at", 1), ("state", 1)]
    for field, _ in reasons:
        assert f"| {field} |" in meta["by_reason"]
    examples = meta["quarantined_examples"].splitlines()
    assert examples[0] == "| source | day | row_number | field | reason |"
    assert len(examples) == 2 + 5
    assert all(line.startswith("| billing_snapshots | 2026-10-10 |") for line in examples[2:])
    assert "| 2026-10-10 | 293 | 5 | 1.68% |" in meta["by_day"]


@pytest.mark.parametrize(
    ("source", "quarantined", "total", "default_passes"),
    [("billing_snapshots", 5, 298, False), ("requests", 4, 505, True), ("fleet_events", 2, 4, False)],
)
def test_each_source_passes_at_its_share_and_fails_just_below(published, source, quarantined, total, default_passes):
    _, path = published
    share = Decimal(quarantined) / Decimal(total)
    assert check(path, source).passed is default_passes  # the default bound, 1 %
    assert check(path, source, max_quarantine_share=share).passed
    assert not check(path, source, max_quarantine_share=share - Decimal("0.0001")).passed


def test_request_reasons_name_each_bad_row(published):
    _, path = published
    rows = query(path, "SELECT field FROM quarantine.requests ORDER BY row_number")
    assert sorted(r[0] for r in rows) == ["completion_tokens", "finished_at", "received_at", "request_id"]
    meta = {k: v.value for k, v in check(path, "requests").metadata.items()}
    assert (meta["raw_rows"], meta["quarantined_rows"]) == (501, 4)
