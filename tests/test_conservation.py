"""Rule 8, conservation: every nanodollar of snapshot spend lands in exactly one resource-hour
and exactly one model row, and the parts of every whole add up to it.

The expected money is computed here, independently of the SQL, with exact fractions from
the samples themselves; first on hand-made fleets, then on random small fleets (hypothesis).
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import (
    MARTS,
    PERIOD_START,
    UTC,
    build,
    d,
    event,
    load,
    request,
    rows,
    series,
    snapshot,
    t,
    table_dump,
    warehouse,
)

NANO = Fraction(1, 10**9)
HOUR = timedelta(hours=1)
RUNNING_STATES = {"running", "terminated"}
TINY_FLEET = Path("/work/shared/examples/tiny_fleet")


# --------------------------------------------------------------------------- the independent model


def us(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def spend_intervals(snapshots):
    """Rule 1 from the samples, in Python: (resource, start, end, state, spend as Fraction)."""
    by_resource = defaultdict(list)
    for s in snapshots:
        by_resource[s["resource_id"]].append(s)
    for resource_id, samples in by_resource.items():
        samples.sort(key=lambda s: s["sampled_at"])
        for prev, cur in zip(samples, samples[1:]):
            if prev["state"] == "terminated":
                continue   # a sample after `terminated` opens a new history
            reset = (cur["billing_period_start"] != prev["billing_period_start"]
                     or cur["cumulative_cost"] < prev["cumulative_cost"])
            spend = cur["cumulative_cost"] if reset else cur["cumulative_cost"] - prev["cumulative_cost"]
            yield resource_id, prev["sampled_at"], cur["sampled_at"], cur["state"], Fraction(spend)


def hours_between(start: datetime, end: datetime):
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        yield hour
        hour += HOUR


def overlap_us(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> int:
    return max(0, us(min(a1, b1)) - us(max(a0, b0)))


def expected_hours(snapshots, range_start: datetime, range_end: datetime):
    """Per (resource, hour) inside the range: exact spend, running us, parked us, and how many
    of the intervals touching it were split (each split part may be off by < 1 nanodollar)."""
    out = defaultdict(lambda: {"spend": Fraction(0), "running_us": 0, "parked_us": 0, "split": 0})
    for resource_id, start, end, state, spend in spend_intervals(snapshots):
        length = us(end) - us(start)
        pieces = list(hours_between(start, end))
        for hour in pieces:
            if not (range_start <= hour < range_end):
                continue
            piece = overlap_us(start, end, hour, hour + HOUR)
            cell = out[(resource_id, hour)]
            cell["spend"] += spend * piece / length
            cell["running_us" if state in RUNNING_STATES else "parked_us"] += piece
            cell["split"] += len(pieces) > 1
    return out


def union_measure(spans: list[tuple[int, int]], lo: int, hi: int) -> int:
    """Length of the union of half-open spans, clipped to [lo, hi)."""
    clipped = sorted((max(a, lo), min(b, hi)) for a, b in spans if min(b, hi) > max(a, lo))
    total, cursor = 0, lo
    for a, b in clipped:
        a = max(a, cursor)
        if b > a:
            total += b - a
            cursor = b
    return total


def expected_busy_us(snapshots, requests, range_start, range_end):
    """Without fleet events nothing wakes: busy = union of routed requests inside running time."""
    spans = defaultdict(list)
    for r in requests:
        if r["resource_id"] is not None:
            spans[r["resource_id"]].append((us(r["received_at"]), us(r["finished_at"])))
    busy = defaultdict(int)
    for resource_id, start, end, state, _ in spend_intervals(snapshots):
        if state not in RUNNING_STATES:
            continue
        for hour in hours_between(start, end):
            if range_start <= hour < range_end:
                lo, hi = us(max(start, hour)), us(min(end, hour + HOUR))
                busy[(resource_id, hour)] += union_measure(spans[resource_id], lo, hi)
    return busy


# --------------------------------------------------------------------------- the check


def assert_conserved(con, snapshots, requests, events, first_day: date, n_days: int) -> None:
    range_start = datetime.combine(first_day, datetime.min.time(), UTC)
    range_end = range_start + timedelta(days=n_days)
    hourly = rows(con, "marts.resource_hourly", order_by="resource_id, hour")
    daily = rows(con, "marts.cost_per_mtok_daily", order_by="day, tier, model")
    by_key = {(r["resource_id"], r["hour"]): r for r in hourly}
    assert len(by_key) == len(hourly)

    # every interval spend that falls in the built days, exactly (rule 8)
    exact = expected_hours(snapshots, range_start, range_end)
    total = sum(cell["spend"] for cell in exact.values())
    published_total = sum((Fraction(r["spend"]) for r in hourly), Fraction(0))
    inside = all(range_start <= s["sampled_at"] < range_end for s in snapshots)
    if inside:
        # every interval lies wholly in the built days: every nanodollar is there, exactly
        assert published_total == total
    else:
        assert abs(published_total - total) < 2 * NANO

    for key, cell in exact.items():
        if cell["spend"] or cell["running_us"] or cell["parked_us"]:
            assert key in by_key, f"no resource-hour for {key}"
        row = by_key[key]
        assert abs(Fraction(row["spend"]) - cell["spend"]) < max(cell["split"], 1) * NANO, key
        if not cell["split"]:
            assert Fraction(row["spend"]) == cell["spend"], key
        assert row["running_s"] == Decimal(cell["running_us"]) / 1_000_000, key
        assert row["parked_s"] == Decimal(cell["parked_us"]) / 1_000_000, key
    for key, row in by_key.items():
        if key not in exact:
            assert row["spend"] == 0 and row["running_s"] == 0 and row["parked_s"] == 0, key

    for row in hourly:
        assert range_start <= row["hour"] < range_end
        assert row["busy_s"] + row["idle_s"] + row["waking_s"] == row["running_s"], row
        parts = (row["spend_serving"], row["spend_idle"], row["spend_waking"], row["spend_parked"])
        assert sum(parts) == row["spend"], row
        assert row["spend"] >= 0 and all(p >= 0 for p in parts), row
        for seconds in ("running_s", "busy_s", "idle_s", "waking_s", "parked_s"):
            assert row[seconds] >= 0, row
        if row["parked_s"] == 0:
            assert row["spend_parked"] == 0, row
        if row["running_s"] == 0:
            assert row["spend_serving"] == row["spend_idle"] == row["spend_waking"] == 0, row

    if not events:
        busy = expected_busy_us(snapshots, requests, range_start, range_end)
        for key, row in by_key.items():
            assert row["busy_s"] == Decimal(busy.get(key, 0)) / 1_000_000, key
            assert row["waking_s"] == 0, key

    # ... and exactly one model row of cost_per_mtok_daily
    model_rows = [r for r in daily if r["model"] != "*"]
    assert sum((Fraction(r["spend"]) for r in model_rows), Fraction(0)) == published_total
    tier_days = defaultdict(list)
    for r in model_rows:
        tier_days[(r["day"], r["tier"])].append(r)
    stars = {(r["day"], r["tier"]): r for r in daily if r["model"] == "*"}
    assert set(stars) == set(tier_days)
    for key, star in stars.items():
        parts = tier_days[key]
        for column in ("spend", "completion_tokens", "prompt_tokens", "requests"):
            assert star[column] == sum(p[column] for p in parts), (key, column)
        if any(not p["billing_complete"] for p in parts):
            assert star["billing_complete"] is False, key
    for r in daily:
        assert r["spend"] >= 0
        assert (r["usd_per_mtok"] is None) == (r["completion_tokens"] == 0), r

    # per resource-day, the money of the hours is the money the models get
    per_day_hourly = defaultdict(Fraction)
    for r in hourly:
        per_day_hourly[(r["hour"].date(), r["tier"])] += Fraction(r["spend"])
    for (day, tier), money in per_day_hourly.items():
        assert Fraction(stars[(day, tier)]["spend"]) == money, (day, tier)

    # tokens: every request that finished in the range, once
    finished = [r for r in requests if range_start <= r["finished_at"] < range_end]
    assert sum(r["completion_tokens"] for r in model_rows) == sum(r["completion_tokens"] for r in finished)
    assert sum(r["requests"] for r in model_rows) == len(finished)
    routed = [r for r in finished if r["resource_id"] is not None]
    assert sum(r["completion_tokens"] for r in hourly) == sum(r["completion_tokens"] for r in routed)
    assert sum(r["requests"] for r in hourly) == len(routed)

    # the utilisation curve holds every resource-hour with running time, once
    curve = rows(con, "marts.cost_by_idle_fraction")
    running_hours = [r for r in hourly if r["running_s"] > 0]
    assert sum(c["resource_hours"] for c in curve) == len(running_hours)
    assert sum(c["spend"] for c in curve) == sum(r["spend"] for r in running_hours)


# --------------------------------------------------------------------------- (a) hand-made fleets


def _parse_time(value):
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def tiny_fleet():
    snapshots = json.loads((TINY_FLEET / "input/snapshots.json").read_text())
    for s in snapshots:
        s["sampled_at"] = _parse_time(s["sampled_at"])
        s["billing_period_start"] = _parse_time(s["billing_period_start"])
        s["rate_per_hour"] = Decimal(s["rate_per_hour"])
        s["cumulative_cost"] = Decimal(s["cumulative_cost"])
    requests = {}
    for r in json.loads((TINY_FLEET / "input/requests.json").read_text()):
        for column in ("received_at", "first_token_at", "finished_at"):
            r[column] = _parse_time(r[column])
        requests[r["request_id"]] = r          # the raw layer is deduplicated upstream
    events = json.loads((TINY_FLEET / "input/events.json").read_text())
    for e in events:
        e["at"] = _parse_time(e["at"])
    return snapshots, list(requests.values()), events


@pytest.fixture
def con(tmp_path):
    connection = warehouse(tmp_path)
    yield connection
    connection.close()


@pytest.mark.skipif(not TINY_FLEET.exists(), reason="the shared tiny fleet example is not here")
def test_tiny_fleet_conserves_every_nanodollar(con):
    snapshots, requests, events = tiny_fleet()
    load(con, snapshots=snapshots, requests=requests, events=events)
    build(con)
    assert_conserved(con, snapshots, requests, events, d(10), 1)
    total = con.execute("SELECT sum(spend) FROM marts.resource_hourly").fetchone()[0]
    assert total == Decimal("12.825533")


def test_two_day_fleet_with_gap_reset_park_and_wake_conserves_over_two_builds(con):
    p2 = PERIOD_START.replace(month=11)
    snapshots = (
        series("a", [
            (t("22:00"), "100.000000000"),
            (t("22:01"), "100.123456789"),
            (t("22:40"), "101.000000001"),           # 39-minute gap
            (t("23:58:59.999999"), "101.5", "hibernated"),
        ])
        + [snapshot("a", t("00:03:30", day=11), "0.000000007", period_start=p2),   # new period, gap
           snapshot("a", t("00:04", day=11), "0.000000001"),                      # fell
           snapshot("a", t("01:00", day=11), "3.333333334", "terminated")]
        + series("b", [(t("23:59:59"), "0"), (t("00:00:01", day=11), "0.000000002", "stopped")],
                 tier="a100-class")
        + [snapshot("b", t("00:05", day=11), "0.000000002", "terminated", tier="a100-class")]
    )
    requests = [
        request("q1", t("22:00:30"), t("23:59:30"), resource_id="a", model="x", completion_tokens=7),
        request("q2", t("23:59"), t("00:02", day=11), resource_id="a", model="y", completion_tokens=3),
        request("q3", t("00:00", day=11), t("00:01", day=11), resource_id="b", model="x",
                tier="a100-class", completion_tokens=0),
        request("q4", t("00:10", day=11), t("00:20", day=11), resource_id=None, model="z",
                tier="a100-class", completion_tokens=11),
    ]
    events = [event("a", t("00:03:40", day=11), "wake_requested"),
              event("a", t("00:03:50", day=11), "engine_ready")]
    load(con, snapshots=snapshots, requests=requests, events=events)
    build(con, 10)
    build(con, 11)
    assert_conserved(con, snapshots, requests, events, d(10), 2)
    total = con.execute("SELECT sum(spend) FROM marts.resource_hourly").fetchone()[0]
    # a: 0.123456789 + 0.876543212 + 0.499999999 + 0.000000007 + 0.000000001 + 3.333333333; b: 0.000000002
    assert total == Decimal("4.833333343")


def test_fleet_that_only_parks_conserves_its_storage_cents(con):
    snapshots = series("v", [
        (t("09:59:59"), "0.000000000", "hibernated"),
        (t("10:04:59"), "0.000000003", "hibernated"),
        (t("10:09:59"), "0.000000007", "stopped"),
        (t("10:10:01"), "0.000000009", "terminated"),
    ], gpu_type=None, gpu_count=0)
    load(con, snapshots=snapshots)
    build(con)
    assert_conserved(con, snapshots, [], [], d(10), 1)
    rows_ = rows(con, "marts.resource_hourly", order_by="hour")
    assert [(r["hour"].hour, r["spend"], r["spend_parked"]) for r in rows_] == [
        (9, Decimal("0E-9"), Decimal("0E-9")),            # 1 s of 3 nanodollars over 300 s -> 0.01
        (10, Decimal("0.000000009"), Decimal("0.000000007")),
    ]


# --------------------------------------------------------------------------- (b) random fleets

RANGE_START = datetime(2026, 10, 10, tzinfo=UTC)
STATES = ["running"] * 6 + ["hibernated", "stopped", "terminated"]


@st.composite
def fleets(draw):
    n_days = draw(st.integers(1, 2))
    horizon_us = n_days * 86_400 * 10**6
    midnight_us = 86_400 * 10**6
    snapshots = []
    resource_ids = [f"r{i}" for i in range(draw(st.integers(1, 3)))]
    for resource_id in resource_ids:
        tier = draw(st.sampled_from(["h100-class", "a100-class"]))
        # start anywhere, or close before a midnight or an hour so intervals cross it
        at_us = draw(st.one_of(
            st.integers(0, horizon_us - 1),
            st.integers(midnight_us - 900 * 10**6, midnight_us - 1) if n_days == 2
            else st.integers(10 * 3600 * 10**6 - 600 * 10**6, 10 * 3600 * 10**6),
        ))
        cumulative = draw(st.integers(0, 10**10))
        period = 0
        for _ in range(draw(st.integers(1, 12))):
            at = RANGE_START + timedelta(microseconds=at_us)
            snapshots.append(snapshot(
                resource_id, at, Decimal(cumulative) / 10**9, draw(st.sampled_from(STATES)),
                tier=tier, period_start=PERIOD_START + timedelta(days=period),
            ))
            at_us += draw(st.one_of(
                st.sampled_from([60 * 10**6, 300 * 10**6, 300 * 10**6 + 1, 3_600 * 10**6]),
                st.integers(1, 7_200 * 10**6),
            ))
            if at_us >= horizon_us:
                break
            change = draw(st.sampled_from(["add"] * 6 + ["fell", "new_period"]))
            if change == "add":
                cumulative += draw(st.integers(0, 10**9))
            elif change == "fell" and cumulative > 0:
                cumulative = draw(st.integers(0, cumulative - 1))
            elif change == "new_period":
                period += 1
                cumulative = draw(st.integers(0, 10**9))
    requests = []
    for i in range(draw(st.integers(0, 8))):
        received_us = draw(st.integers(0, horizon_us - 1))
        duration_us = draw(st.integers(0, 1_800 * 10**6))
        resource_id = draw(st.sampled_from(resource_ids + [None]))
        requests.append(request(
            f"q{i}",
            RANGE_START + timedelta(microseconds=received_us),
            RANGE_START + timedelta(microseconds=received_us + duration_us),
            resource_id=resource_id,
            model=draw(st.sampled_from(["m1", "m2", "m3"])),
            tier=draw(st.sampled_from(["h100-class", "a100-class"])),
            completion_tokens=draw(st.integers(0, 1_000)),
            prompt_tokens=draw(st.integers(0, 100)),
            status=draw(st.sampled_from([200, 200, 500])),
        ))
    events = []
    for _ in range(draw(st.integers(0, 2))):
        resource_id = draw(st.sampled_from(resource_ids))
        wake_us = draw(st.integers(0, horizon_us - 1))
        events.append(event(resource_id, RANGE_START + timedelta(microseconds=wake_us), "wake_requested"))
        ending = draw(st.sampled_from([None, "engine_ready", "hibernated"]))
        if ending:
            end_us = wake_us + draw(st.integers(1, 900 * 10**6))
            events.append(event(resource_id, RANGE_START + timedelta(microseconds=end_us), ending))
    split = n_days == 2 and draw(st.booleans())
    return snapshots, requests, events, n_days, split


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_random_fleets_conserve_every_nanodollar(fleet):
    snapshots, requests, events, n_days, split = fleet
    with tempfile.TemporaryDirectory() as directory:
        con = warehouse(Path(directory))
        try:
            load(con, snapshots=snapshots, requests=requests, events=events)
            if split:
                build(con, 10)
                build(con, 11)
            else:
                build(con, 10, 10 + n_days)
            assert_conserved(con, snapshots, requests, events, d(10), n_days)
        finally:
            con.close()


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets().filter(lambda fleet: fleet[3] == 2))
def test_one_build_over_two_days_equals_two_builds_of_one_day_in_either_order(fleet):
    """DESIGN.md "Day edges": day D's figures are the parts that lie inside D, however built."""
    snapshots, requests, events, _, _ = fleet
    dumps = []
    for calls in ([(10, 12)], [(10, 11), (11, 12)], [(11, 12), (10, 11)]):
        con = warehouse(None)
        load(con, snapshots=snapshots, requests=requests, events=events)
        for start, end in calls:
            build(con, start, end)
        dumps.append({table: table_dump(con, table) for table in MARTS})
        con.close()
    assert dumps[0] == dumps[1] == dumps[2]
