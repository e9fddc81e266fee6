"""Rule 11 conservation, as a property: for random cost rows and fleet events, the published spend
sums exactly to the mapped Usage rows' BilledCost (per resource, per day's models, in total), the
rest of the bill never reaches a replica, and a resource-hour's state seconds are the seconds its
rows cover, each second once, parked exactly where the events say.

The expected seconds are computed here in Python from the rows and events themselves (interval
unions), independently of the SQL.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.sql_files import statements
from tests.builders import build, cost_row, event, load, request, rows, t, warehouse

BASE = t("00:00", day=9)
SPAN_S = 3 * 86400  # rows and events inside [9 Oct, 12 Oct): the build covers them whole
RESOURCES = ("r1", "r2", "r3")
WAKES = {"launched", "wake_requested", "engine_ready"}
NANO = Decimal("0.000000001")


def at(seconds: int) -> datetime:
    return BASE + timedelta(seconds=seconds)


@st.composite
def fleets(draw):
    cost_rows, events, requests = [], [], []
    for _ in range(draw(st.integers(1, 10))):
        start = draw(st.integers(0, SPAN_S - 1))
        end = min(SPAN_S, start + draw(st.integers(1, 2 * 86400)))
        nanos = draw(st.integers(-10**11, 10**12))
        resource = draw(st.sampled_from((*RESOURCES, None)))
        if resource is None:  # the rest of the bill: another resource's usage, a tax, a credit
            category, skipped = draw(st.sampled_from((("Usage", "outside_map"), ("Tax", "no_resource"),
                                                      ("Credit", "not_usage"))))
            cost_rows.append(cost_row(None, at(start), at(end), Decimal(nanos) * NANO, category=category,
                                      skipped=skipped))
        else:
            cost_rows.append(cost_row(resource, at(start), at(end), Decimal(nanos) * NANO,
                                      charge_class=draw(st.sampled_from((None, "Correction")))))
    for resource in RESOURCES:
        for _ in range(draw(st.integers(0, 4))):
            name = draw(st.sampled_from(("launched", "wake_requested", "engine_ready", "hibernated", "hibernated",
                                         "spot_interrupted")))
            # often on a coarse grid, so events share instants (a wake at the instant of a hibernation)
            when = draw(st.one_of(st.integers(0, 3).map(lambda k: k * 64800), st.integers(0, SPAN_S - 1)))
            events.append(event(resource, at(when), name))
    for number in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, SPAN_S - 60))
        requests.append(request(f"q{number}", at(start), at(start + draw(st.integers(1, 3600))),
                                resource_id=draw(st.sampled_from(RESOURCES)), model=draw(st.sampled_from(("m1", "m2"))),
                                completion_tokens=draw(st.integers(0, 1000))))
    # daily rows of another resource: the export covers the whole span, so every hour is complete
    cost_rows += [cost_row(None, at(d * 86400), at((d + 1) * 86400), "1", skipped="outside_map") for d in range(3)]
    return cost_rows, events, requests


def union(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[list[datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def overlap_s(intervals, lo: datetime, hi: datetime) -> Decimal:
    total = timedelta(0)
    for a, b in intervals:
        if b > lo and a < hi:
            total += min(b, hi) - max(a, lo)
    return Decimal(total // timedelta(microseconds=1)) / 1_000_000


def intersect(xs, ys):
    out = []
    for a, b in xs:
        for c, d in ys:
            lo, hi = max(a, c), min(b, d)
            if hi > lo:
                out.append((lo, hi))
    return out


def parked_stretches(events: list[dict], resource: str) -> list[tuple[datetime, datetime]]:
    """Parked is [hibernated, the next launched | wake_requested | engine_ready); at one instant a
    wake follows a hibernation."""
    decisive = sorted(((e["at"], e["event"] != "hibernated") for e in events
                       if e["resource_id"] == resource and e["event"] != "spot_interrupted"))
    out, since = [], None
    for when, wakes in decisive:
        if not wakes and since is None:
            since = when
        elif wakes and since is not None:
            out.append((since, when))
            since = None
    if since is not None:
        out.append((since, at(SPAN_S)))
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_published_spend_sums_exactly_to_the_mapped_billed_cost(fleet):
    cost_rows, events, requests = fleet
    con = warehouse(None)
    try:
        load(con, cost_rows=cost_rows, events=events, requests=requests)
        build(con, 9, 12)

        mapped = [r for r in cost_rows if r["resource_id"] is not None]
        hourly = rows(con, "marts.resource_hourly")
        by_resource = defaultdict(Decimal)
        for r in hourly:
            by_resource[r["resource_id"]] += r["spend"]
        for resource in RESOURCES:
            assert by_resource[resource] == sum((r["billed_cost"] for r in mapped if r["resource_id"] == resource),
                                                Decimal(0))
        total = sum((r["billed_cost"] for r in mapped), Decimal(0))
        assert sum((r["spend"] for r in hourly), Decimal(0)) == total
        models = rows(con, "marts.cost_per_mtok_daily", "model <> '*'")
        assert sum((r["spend"] for r in models), Decimal(0)) == total
        params = {"range_start": at(0), "range_end": at(SPAN_S)}
        assert [row for sql in statements("checks/conservation.sql") for row in con.execute(sql, params).fetchall()] == []

        for r in hourly:
            covered = union([(c["charge_period_start"], c["charge_period_end"]) for c in mapped
                             if c["resource_id"] == r["resource_id"]])
            lo, hi = r["hour"], r["hour"] + timedelta(hours=1)
            assert r["running_s"] + r["parked_s"] == overlap_s(covered, lo, hi)  # each second once
            parked = intersect(covered, parked_stretches(events, r["resource_id"]))
            assert r["parked_s"] == overlap_s(parked, lo, hi)
            assert r["spend_serving"] + r["spend_idle"] + r["spend_waking"] + r["spend_parked"] == r["spend"]
            assert r["billing_complete"] is True
    finally:
        con.close()
