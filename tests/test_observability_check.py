"""The dark-billing check (DESIGN.md rule 3, "Checks"): a gap over 15 minutes, or dark time over
1 % of a tier-day's running time, fails it (ERROR, not blocking) and names the resources and
windows; shorter gaps on a long-running day pass, while the hour flags still say incomplete."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import duckdb
import pytest

from fixtures.rows import Fleet
from pipelines.accounting import ensure_schema
from pipelines.contracts import CheckSettings
from pipelines.defs.checks.common import Scope
from pipelines.defs.checks.observability import dark_billing_result

UTC = timezone.utc
DAY = date(2026, 10, 10)
START = datetime(2026, 10, 10, tzinfo=UTC)
SCOPE = Scope(START, START + timedelta(days=1), "2026-10-10")


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fleet_with_gap(gap_minutes: int) -> Fleet:
    """r1 runs all day, sampled every minute from 23:50 the day before to 00:10 the day after,
    except that no sample is stored between 12:00 and 12:00 + gap."""
    first = START - timedelta(minutes=10)
    gap = (START + timedelta(hours=12), START + timedelta(hours=12, minutes=gap_minutes))
    minutes = [first + timedelta(minutes=k) for k in range(24 * 60 + 21)]
    samples = [
        {
            "sampled_at": iso(at), "resource_id": "r1", "tier": "h100-class", "gpu_type": "H100-SXM-80GB",
            "gpu_count": 1, "price_model": "on_demand", "state": "running", "rate_per_hour": "6.00",
            "cumulative_cost": str(Decimal("0.1") * k), "billing_period_start": "2026-10-01T00:00:00Z",
            "currency": "USD",
        }
        for k, at in enumerate(minutes)
        if not gap[0] < at < gap[1]
    ]
    return Fleet.from_rows(samples, [], [])


def published_check(pipeline, gap_minutes: int):
    outcome = pipeline.run(fleet_with_gap(gap_minutes), DAY, DAY + timedelta(days=1))
    with duckdb.connect(str(pipeline.published), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        result = dark_billing_result(con, SCOPE, CheckSettings())
        flagged = con.execute(
            "SELECT strftime(hour, '%H:%M') FROM marts.resource_hourly WHERE NOT billing_complete ORDER BY hour"
        ).fetchall()
        gaps = con.execute("SELECT resource_id, gap_start, gap_end, seconds FROM marts.observability_gaps").fetchall()
    return outcome, result, flagged, gaps


def test_a_20_minute_gap_fails_and_names_the_resource_and_window(pipeline):
    outcome, result, flagged, gaps = published_check(pipeline, 20)
    assert outcome.exit_code == 2  # published, with a failed check
    line = (
        "ERROR marts.observability_gaps: billing dark beyond the bound: 1 gap longer than 15 min and 1 tier-day "
        "dark over 1.00% of running time (r1 (h100-class) dark from 2026-10-10T12:00:00Z to 2026-10-10T12:20:00Z: "
        "20.0 min) — see marts.observability_gaps"
    )
    assert line in outcome.lines
    assert gaps == [("r1", START + timedelta(hours=12), START + timedelta(hours=12, minutes=20), Decimal("1200"))]
    assert flagged == [("12:00",)]  # the data says so too
    assert (result.passed, result.severity.value) == (False, "ERROR")
    meta = {k: v.value for k, v in result.metadata.items()}
    assert meta["dark_beyond_bound"] == [
        "r1 (h100-class) dark from 2026-10-10T12:00:00Z to 2026-10-10T12:20:00Z: 20.0 min",
        "h100-class on 2026-10-10: 20.0 dark min = 1.39% of 24.0 running h (r1)",
    ]
    assert result.description == line
    assert (meta["gaps_in_scope"], meta["gaps_over_bound"], meta["tier_days_over_bound"]) == (1, 1, 1)
    assert "| r1 | h100-class | 2026-10-10T12:00:00Z | 2026-10-10T12:20:00Z | 20.0 |" in meta["long_gaps"]


def test_a_10_minute_gap_on_a_long_running_day_passes(pipeline):
    outcome, result, flagged, gaps = published_check(pipeline, 10)
    assert not any("dark_billing" in line for line in outcome.lines)
    assert gaps == [("r1", START + timedelta(hours=12), START + timedelta(hours=12, minutes=10), Decimal("600"))]
    assert flagged == [("12:00",)]  # still flagged incomplete: the check passing hides nothing
    assert result.passed
    meta = {k: v.value for k, v in result.metadata.items()}
    assert (meta["gaps_in_scope"], meta["gaps_over_bound"], meta["tier_days_over_bound"]) == (1, 0, 0)
    assert meta["dark_beyond_bound"] == []
    assert "| r1 | h100-class | 2026-10-10T12:00:00Z | 2026-10-10T12:10:00Z | 10.0 |" in meta["longest_gaps_in_scope"]


# -- the rule on hand-made marts rows ----------------------------------------------------------
@pytest.fixture
def marts():
    con = duckdb.connect(":memory:")
    ensure_schema(con)

    def hours(resource, tier, first, count, running_s=3600):
        con.executemany(
            "INSERT INTO marts.resource_hourly (hour, resource_id, tier, running_s, busy_s, idle_s, waking_s, "
            "parked_s, spend, spend_serving, spend_idle, spend_waking, spend_parked, completion_tokens, "
            "prompt_tokens, requests, billing_complete) VALUES (?, ?, ?, ?, 0, ?, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, true)",
            [(first + timedelta(hours=h), resource, tier, running_s, running_s) for h in range(count)],
        )

    def gap(resource, start, end):
        seconds = None if end is None else Decimal((end - start).total_seconds())
        con.execute("INSERT INTO marts.observability_gaps VALUES (?, ?, ?, ?)", [resource, start, end, seconds])

    yield con, hours, gap
    con.close()


def at(hh, mm=0, day=START):
    return day + timedelta(hours=hh, minutes=mm)


def test_a_short_gap_on_a_short_running_tier_day_fails_by_its_share(marts):
    con, hours, gap = marts
    hours("a1", "a100-class", at(8), 2)  # 2 running hours
    gap("a1", at(8, 30), at(8, 36))  # 6 minutes: under 15, but 5 % of the tier-day
    result = dark_billing_result(con, SCOPE, CheckSettings())
    assert not result.passed
    assert result.metadata["dark_beyond_bound"].value == [
        "a100-class on 2026-10-10: 6.0 dark min = 5.00% of 2.0 running h (a1)"
    ]
    assert dark_billing_result(con, SCOPE, CheckSettings(max_dark_share=Decimal("0.05"))).passed


def test_dark_time_is_split_by_day_and_pooled_per_tier(marts):
    con, hours, gap = marts
    two_days = Scope(START, START + timedelta(days=2), "2 days")
    hours("b1", "h100-class", at(0), 48)
    hours("b2", "h100-class", at(0), 48)  # 48 running hours a day across the tier
    gap("b1", at(23, 50), at(0, 4, day=START + timedelta(days=1)))  # 14 min: 10 on day 1, 4 on day 2
    gap("b2", at(23, 45), at(23, 59))  # 14 min on day 1
    settings = CheckSettings(max_dark_share=Decimal("0.008"))  # 24 min / 2880 running min = 0.83 %
    result = dark_billing_result(con, two_days, settings)
    assert result.metadata["dark_beyond_bound"].value == [
        "h100-class on 2026-10-10: 24.0 dark min = 0.83% of 48.0 running h (b1, b2)"
    ]
    assert dark_billing_result(con, two_days, CheckSettings()).passed


def test_an_open_stretch_is_dark_until_the_scope_ends(marts):
    con, hours, gap = marts
    hours("c1", "h100-class", at(0), 24)
    gap("c1", at(23, 40), None)  # no sample since 23:40
    result = dark_billing_result(con, SCOPE, CheckSettings())
    assert result.metadata["dark_beyond_bound"].value == [
        "c1 (h100-class) dark since 2026-10-10T23:40:00Z, still open: 20.0 min to the scope's end",
        "h100-class on 2026-10-10: 20.0 dark min = 1.39% of 24.0 running h (c1)",
    ]
    assert dark_billing_result(con, SCOPE, CheckSettings(max_dark_gap_s=1200, max_dark_share=Decimal("0.014"))).passed


def test_gaps_outside_the_scope_are_not_judged(marts):
    con, hours, gap = marts
    hours("d1", "h100-class", at(0), 24)
    gap("d1", at(12, day=START - timedelta(days=1)), at(13, day=START - timedelta(days=1)))
    result = dark_billing_result(con, SCOPE, CheckSettings())
    assert result.passed and result.metadata["gaps_in_scope"].value == 0
