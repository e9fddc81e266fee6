"""The simulated fixture fleet: deterministic, valid against the source contracts, and holding
every planted feature the accounting rules are exercised by."""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal

import orjson
import polars as pl
import pytest

from fixtures.fleet import Fleet, default_week, load_fleet, simulate_fleet
from models.focus import FocusInvoiceRow
from models.sources import BillingSnapshot, FleetEvent, RequestLog, first_error


def parsed(fleet: Fleet, source: str) -> list[dict]:
    return [orjson.loads(t) for t in fleet.source(source).json]


def ts(s: str) -> datetime:
    return datetime.fromisoformat(s)


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return simulate_fleet(requests_per_day=8_000)


@pytest.fixture(scope="module")
def rows(fleet):
    return {s: parsed(fleet, s) for s in ("snapshots", "requests", "events")}


@pytest.fixture(scope="module")
def samples(rows) -> pl.DataFrame:
    return pl.DataFrame(rows["snapshots"]).with_columns(
        pl.col("sampled_at").str.to_datetime(time_zone="UTC"),
        pl.col("cumulative_cost").cast(pl.Decimal(38, 9)),
        pl.col("rate_per_hour").cast(pl.Decimal(38, 9)),
    ).sort("resource_id", "sampled_at")


def test_same_seed_same_fleet_other_seed_other_fleet():
    a, b = simulate_fleet(seed=3, days=2, requests_per_day=3_000), simulate_fleet(seed=3, days=2, requests_per_day=3_000)
    for s in ("snapshots", "requests", "events"):
        assert a.source(s).json.equals(b.source(s).json)
        assert a.source(s).at.equals(b.source(s).at)
    assert a.invoices == b.invoices and a.description == b.description
    c = simulate_fleet(seed=4, days=2, requests_per_day=3_000)
    assert not a.requests.json.equals(c.requests.json)


def test_selection_column_is_sorted_and_matches_the_row(fleet, rows):
    for source, field in (("snapshots", "sampled_at"), ("requests", "finished_at"), ("events", "at")):
        at = fleet.source(source).at
        assert at.null_count() == 0 and at.is_sorted()
        for i in random.Random(1).sample(range(len(at)), min(200, len(at))):
            assert at[i] == ts(rows[source][i][field])


@pytest.mark.parametrize("source,model", [("snapshots", BillingSnapshot), ("requests", RequestLog),
                                          ("events", FleetEvent)])
def test_served_rows_validate_against_the_contract(rows, source, model):
    sample = random.Random(2).sample(rows[source], min(3000, len(rows[source])))
    for row in sample:
        assert first_error(model, row) is None, row


def test_request_counts_per_day_and_tier(rows):
    df = pl.DataFrame(rows["requests"], infer_schema_length=None).unique("request_id").with_columns(
        day=pl.col("finished_at").str.slice(0, 10))
    per_day = dict(df.group_by("day").len().iter_rows())
    weekdays = [per_day[f"2026-10-{d}"] for d in (26, 27, 28, 29, 30)]
    assert all(6_800 < n < 9_400 for n in weekdays), weekdays
    assert per_day["2026-10-31"] < 0.6 * min(weekdays) and per_day["2026-11-01"] < 0.6 * min(weekdays)
    assert per_day.get("2026-11-02", 0) < 400  # only the 30-minute tail past the last day
    tiers = df.filter(pl.col("day") == "2026-10-27").group_by("tier").len()
    assert dict(tiers.iter_rows()).keys() == {"h100-class", "h100-ondemand", "l40s-class"}


def test_one_spot_interruption_with_a_replacement(rows, samples):
    ev = rows["events"]
    notice = [e for e in ev if e["event"] == "spot_interrupted"]
    assert len(notice) == 1 and notice[0]["tier"] == "h100-class"
    victim, at = notice[0]["resource_id"], ts(notice[0]["at"])
    term = [e for e in ev if e["event"] == "terminated" and e["resource_id"] == victim]
    assert len(term) == 1 and ts(term[0]["at"]) > at
    last = samples.filter(pl.col("resource_id") == victim).row(-1, named=True)
    assert last["state"] == "terminated" and last["sampled_at"] >= ts(term[0]["at"])
    launched = [e for e in ev if e["event"] == "launched" and e["tier"] == "h100-class"
                and 0 < (ts(e["at"]) - ts(term[0]["at"])).total_seconds() < 600]
    assert len(launched) == 1 and launched[0]["resource_id"] != victim
    assert samples.filter(pl.col("resource_id") == launched[0]["resource_id"]).height > 1000


def test_one_wake_timeout_never_routed(rows):
    ev = [e for e in rows["events"] if e["tier"] == "h100-ondemand"]
    wakes = [(ts(a["at"]), ts(b["at"])) for a, b in zip(ev, ev[1:])
             if a["event"] == "wake_requested" and b["event"] == "engine_ready"]
    assert len(wakes) == 7  # 4 weekday mornings after the launch, 2 on Saturday, 1 on Sunday
    assert all(240 <= (b - a).total_seconds() <= 480 for a, b in wakes)
    timeouts = [r for r in rows["requests"] if r["error"] == "wake_timeout"]
    assert len(timeouts) == 1
    t = timeouts[0]
    assert t["status"] == 504 and t["resource_id"] is None and t["completion_tokens"] == 0
    assert t["first_token_at"] is None and t["tier"] == "h100-ondemand"
    assert any(a <= ts(t["received_at"]) < b for a, b in wakes)
    waiting = [r for r in rows["requests"] if r["resource_id"] and r["tier"] == "h100-ondemand" and
               any(a <= ts(r["received_at"]) < b for a, b in wakes)]
    assert len(waiting) >= 2
    assert all(ts(r["first_token_at"]) >= next(b for a, b in wakes if a <= ts(r["received_at"]) < b)
               for r in waiting)


def test_one_billing_gap_longer_than_five_minutes(samples):
    gaps = samples.with_columns(gap=pl.col("sampled_at").diff().over("resource_id")).filter(
        pl.col("gap") > pl.duration(minutes=5))
    assert gaps.height == 1
    g = gaps.row(0, named=True)
    assert g["tier"] == "h100-ondemand" and 12 <= g["gap"].total_seconds() / 60 < 14
    prev = samples.filter(pl.col("resource_id") == g["resource_id"], pl.col("sampled_at") < g["sampled_at"])
    assert g["cumulative_cost"] - prev["cumulative_cost"][-1] > Decimal("0.80")  # the money shows up


def test_billing_period_reset_at_the_month(samples):
    od = samples.filter(pl.col("tier") == "h100-class")
    starts = set(od["billing_period_start"])
    assert starts == {"2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"}
    for rid, g in od.group_by("resource_id"):
        for period, p in g.group_by("billing_period_start"):
            assert p["cumulative_cost"].is_sorted(), (rid, period)  # never falls within a period
    first_nov = od.filter(pl.col("billing_period_start") == "2026-11-01T00:00:00Z").group_by(
        "resource_id").agg(pl.col("cumulative_cost").first())
    assert (first_nov["cumulative_cost"] < Decimal("0.1")).all()


def test_cumulative_is_not_rate_times_time(samples):
    s = samples.filter(pl.col("tier") == "h100-class", pl.col("state") == "running").with_columns(
        dt=(pl.col("sampled_at").diff().dt.total_microseconds() / 3.6e9).over("resource_id"),
        spend=pl.col("cumulative_cost").diff().over("resource_id"),
    ).drop_nulls("dt").filter(pl.col("spend") > 0)
    naive = (s["rate_per_hour"].cast(pl.Float64) * s["dt"]).round(9)
    assert (naive != s["spend"].cast(pl.Float64)).mean() > 0.9
    assert s["rate_per_hour"].n_unique() > 20  # the spot price drifts
    assert all(3 <= len(c.split(".")[1]) <= 9 for c in samples["cumulative_cost"].cast(pl.String)[:50])


def test_duplicates_and_errored_streams(rows):
    by_id: dict[str, list[dict]] = {}
    for r in rows["requests"]:
        by_id.setdefault(r["request_id"], []).append(r)
    dups = [v for v in by_id.values() if len(v) > 1]
    assert len(dups) == 28  # four a day
    assert all(RequestLog.model_validate(a) == RequestLog.model_validate(b) for a, b in dups)
    assert sum(a["finished_at"] != b["finished_at"] for a, b in dups) == 14  # +00:00 vs Z
    errored = [r for r in rows["requests"] if r["status"] == 500 and r["completion_tokens"] > 0]
    assert len(errored) >= 20 and all(r["error"] for r in errored)


def test_events_agree_with_snapshots(rows, samples):
    for e in rows["events"]:
        after = samples.filter(pl.col("resource_id") == e["resource_id"], pl.col("sampled_at") > ts(e["at"]))
        if after.is_empty():
            continue
        want = {"hibernated": "hibernated", "wake_requested": "running", "launched": "running",
                "terminated": "terminated"}.get(e["event"])
        if want:
            assert after["state"][0] == want, e
    first = samples.group_by("resource_id").agg(pl.col("sampled_at").min())
    launched = {e["resource_id"]: ts(e["at"]) for e in rows["events"] if e["event"] == "launched"}
    assert set(launched) == set(first["resource_id"])
    for rid, t in first.iter_rows():
        assert 0 <= (t - launched[rid]).total_seconds() < 65


def test_invoice_validates_and_reconciles_except_the_credit(fleet, samples):
    assert set(fleet.invoices) == {"2026-10"}
    rows = [FocusInvoiceRow.model_validate(r) for r in fleet.invoices["2026-10"]]
    assert all(isinstance(r["BilledCost"], str) for r in fleet.invoices["2026-10"])
    credits = [r for r in rows if r.ChargeCategory == "Credit"]
    assert len(credits) == 1 and credits[0].BilledCost < 0
    assert {r.ChargeCategory for r in rows} == {"Usage", "Credit"}
    usage: dict[str, Decimal] = {}
    for r in rows:
        if r.ChargeCategory == "Usage":
            usage[r.ResourceId] = usage.get(r.ResourceId, Decimal(0)) + r.BilledCost
    octo = samples.filter(pl.col("billing_period_start") == "2026-10-01T00:00:00Z").group_by(
        "resource_id").agg(spend=pl.col("cumulative_cost").last() - pl.col("cumulative_cost").first())
    seen = dict(octo.iter_rows())
    assert set(seen) == set(usage)
    for rid, billed in usage.items():
        assert abs(billed - seen[rid]) <= max(Decimal("0.005") * billed, Decimal("0.01")), rid
    assert sum(usage.values()) > Decimal(1000)


def test_scale_adds_spot_replicas():
    f = simulate_fleet(requests_per_day=500_000, days=1)
    assert 520_000 < len(f.requests) < 580_000
    ids = {orjson.loads(t)["resource_id"] for t in f.events.json}
    assert sum(i.startswith("h100x2-spot") for i in ids) == 6  # 5 replicas + the replacement


def test_load_fleet_caches_as_parquet(tmp_path, monkeypatch):
    monkeypatch.setenv("INVOICE_TRUE_CACHE", str(tmp_path))
    a = load_fleet(days=1, requests_per_day=2_000)
    (entry,) = [p for p in tmp_path.iterdir() if p.name.startswith("fleet-")]
    assert (entry / "requests.parquet").exists()
    b = load_fleet(days=1, requests_per_day=2_000)
    assert a.requests.json.equals(b.requests.json) and a.invoices == b.invoices and a.days == b.days


def test_from_rows_keeps_bad_rows(tmp_path):
    good = {"at": "2026-10-10T10:00:00+00:00", "resource_id": "r", "tier": "t", "event": "launched"}
    naive = {**good, "at": "2026-10-10 11:00:00"}
    bad = {**good, "at": "yesterday"}
    f = Fleet.from_rows([], [], [good, naive, bad, {"at": None}])
    assert len(f.events) == 4 and f.events.n_unplaced == 2
    assert f.events.json[0] == orjson.dumps(bad).decode()
    assert f.days == [date(2026, 10, 10)]


def test_default_week_smoke():
    f = default_week()
    assert f.days[0] == date(2026, 10, 26) and len(f.days) == 7
    assert 1_000_000 < len(f.requests) < 1_500_000
    assert sum(r["ChargeCategory"] == "Credit" for r in f.invoices["2026-10"]) == 1
    cut = f.requests.json.filter(f.requests.json.str.contains('"replica_terminated"'))
    assert 1 <= len(cut) < 100  # streams in flight when the spot replica was terminated
