"""DESIGN.md rule 11, spend from cost rows (a cloud's FOCUS export), on tiny hand-computed fleets.

Rows are landed cost rows (what the focus_cost_rows adapter stores: mapped Usage rows summed per
resource and period, the rest of the bill with no resource). Every expected number is worked out
in the comments; money is compared as exact Decimals (9 decimals), seconds as exact Decimals.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from pipelines.accounting import BillingSourceMixError, CurrencyMixError
from pipelines.sql_files import statements
from tests.builders import (
    PERIOD_START,
    TIER,
    build,
    cost_row,
    d,
    daily,
    event,
    hourly,
    load,
    request,
    rows,
    series,
    t,
    warehouse,
)

M = Decimal
ZERO = M(0)
HOUR = timedelta(hours=1)


@pytest.fixture
def con(tmp_path):
    connection = warehouse(tmp_path)
    yield connection
    connection.close()


def hour_rows(resource_id: str, first: int, last: int, billed: str, day: int = 10) -> list[dict]:
    """Hourly Usage rows [h, h+1) for hours first..last of October <day>, each worth `billed`."""
    start = t("00:00", day=day)
    return [cost_row(resource_id, start + h * HOUR, start + (h + 1) * HOUR, billed) for h in range(first, last + 1)]


def covering_rest(day: int = 10, days: int = 1) -> list[dict]:
    """Another resource's daily Usage rows (the rest of the bill) over whole days: the export covers them."""
    return [cost_row(None, t("00:00", day=day + i), t("00:00", day=day + i + 1), "7.000000000", skipped="outside_map")
            for i in range(days)]


def conservation(con, start: int = 10, end: int = 11) -> list[tuple]:
    params = {"range_start": t("00:00", day=start), "range_end": t("00:00", day=end)}
    return [row for sql in statements("checks/conservation.sql") for row in con.execute(sql, params).fetchall()]


# --------------------------------------------------------------------------- daily rows, states from events


def test_a_daily_row_over_a_hibernation_spreads_its_money_by_seconds_and_takes_states_from_events(con):
    # 48.00 over the day: 86,400 s, so every hour holds 3,600/86,400 of it = 2.00.
    # Events: running since yesterday; hibernated 06:00 (parked until the next wake event);
    # wake_requested 18:00, engine_ready 18:10 (waking 600 s). A request 19:00-19:30, 1,000 tokens.
    load(con,
         cost_rows=[cost_row("r1", t("00:00"), t("00:00", day=11), "48.000000000")],
         events=[event("r1", t("20:00", day=9), "launched"), event("r1", t("20:05", day=9), "engine_ready"),
                 event("r1", t("06:00"), "hibernated"), event("r1", t("18:00"), "wake_requested"),
                 event("r1", t("18:10"), "engine_ready")],
         requests=[request("q1", t("19:00"), t("19:30"), completion_tokens=1000)])
    build(con)

    hours = hourly(con, "r1")
    assert list(hours) == [t("00:00") + h * HOUR for h in range(24)]
    for row in hours.values():
        assert row["spend"] == M("2.000000000")
        assert row["spend_resolution_s"] == 86400  # a daily row funds every hour
        assert row["billing_complete"] is True
        assert row["running_s"] + row["parked_s"] == M(3600)  # the row covers every second once
    for h in range(0, 6):
        assert hours[t(f"{h:02d}:00")]["idle_s"] == M(3600)
        assert hours[t(f"{h:02d}:00")]["spend_idle"] == M(2)
    for h in range(6, 18):  # parked from hibernated until the next wake event
        row = hours[t(f"{h:02d}:00")]
        assert (row["parked_s"], row["running_s"], row["spend_parked"]) == (M(3600), ZERO, M(2))
        assert row["idle_fraction"] is None
    # 18:00: waking 600 s, idle 3,000 s. In nanodollars 2e9 x 600/3600 = 333,333,333.33 and
    # 2e9 x 3000/3600 = 1,666,666,666.67: one nanodollar left over goes to the larger remainder (idle).
    wake = hours[t("18:00")]
    assert (wake["waking_s"], wake["idle_s"]) == (M(600), M(3000))
    assert (wake["spend_waking"], wake["spend_idle"]) == (M("0.333333333"), M("1.666666667"))
    # 19:00: busy 1,800 s of 3,600: half the hour's money serves the request
    busy = hours[t("19:00")]
    assert (busy["busy_s"], busy["spend_serving"], busy["spend_idle"]) == (M(1800), M(1), M(1))
    assert busy["completion_tokens"] == 1000

    tier = daily(con)[(TIER, "*")]
    assert tier["spend"] == M(48)
    assert tier["usd_per_mtok"] == M("48000")  # 48 / 1,000 tokens x 1e6
    # running = 6 + 6 hours of 3,600 s = 43,200; idle = 21,600 + 3,000 + 1,800 + 14,400 = 40,800
    assert tier["idle_fraction"] == M("0.944444444")  # 40,800 / 43,200 = 0.94444…
    assert daily(con)[(TIER, "m1")]["spend"] == M(48)
    assert conservation(con) == []


def test_a_row_across_midnight_is_split_over_its_whole_length_whichever_day_is_built(con):
    # 1.000000001 over (23:20, 00:50): 5,400 s. Before midnight 2,400 s: 444,444,444.89 nano;
    # after 3,000 s: 555,555,556.11 nano. The nanodollar left over goes to the larger remainder
    # (before midnight): 0.444444445 + 0.555555556 = 1.000000001, cut alike by either day's build.
    load(con, cost_rows=[
        cost_row("r1", t("23:20", day=9), t("00:50"), "1.000000001"),
        *covering_rest(day=9, days=2),
    ])
    build(con, 10)
    hours = hourly(con, "r1")
    assert hours[t("00:00")]["spend"] == M("0.555555556")
    assert hours[t("00:00")]["running_s"] == M(3000)  # no events: every covered second runs
    assert hours[t("00:00")]["idle_s"] == M(3000)
    assert hours[t("00:00")]["spend_resolution_s"] == 5400
    # A watched hour inside the export's coverage with no row: complete, spend 0, no seconds.
    assert len(hours) == 24
    for h in range(1, 24):
        row = hours[t(f"{h:02d}:00")]
        assert (row["spend"], row["running_s"], row["parked_s"]) == (ZERO, ZERO, ZERO)
        assert row["billing_complete"] is True and row["spend_resolution_s"] is None
    assert daily(con)[(TIER, "__unallocated__")]["spend"] == M("0.555555556")

    build(con, 9)
    day9 = hourly(con, "r1")
    # watched from its first row's hour: nothing before 23:00 on the 9th
    assert [h for h in day9 if h < t("00:00")] == [t("23:00", day=9)]
    assert day9[t("23:00", day=9)]["spend"] == M("0.444444445")
    assert day9[t("23:00", day=9)]["running_s"] == M(2400)
    assert sum(r["spend"] for r in day9.values()) == M("1.000000001")
    build(con, 9, 11)  # both days at once cut it the same way
    assert hourly(con, "r1") == day9
    assert conservation(con, 9, 11) == []


def test_a_correction_lands_in_its_own_charge_period_and_rebuilding_the_day_restates_it(con):
    load(con, cost_rows=[cost_row("r1", t("10:00"), t("11:00"), "2.000000000"), *covering_rest()])
    build(con)
    assert hourly(con, "r1")[t("10:00")]["spend"] == M(2)

    # Invoiced in November, correcting 10:00-11:00 and 12:00-12:30 of 10 October.
    november = PERIOD_START.replace(month=11)
    load(con, cost_rows=[
        cost_row("r1", t("10:00"), t("11:00"), "-0.500000000", charge_class="Correction", period_start=november),
        cost_row("r1", t("12:00"), t("12:30"), "-0.250000000", charge_class="Correction", period_start=november),
    ])
    build(con)
    hours = hourly(con, "r1")
    assert hours[t("10:00")]["spend"] == M("1.5")  # 2.00 - 0.50: rows of one resource and period add up
    refund = hours[t("12:00")]
    # a negative row counts as it is, split over its seconds like any other
    assert (refund["spend"], refund["running_s"], refund["spend_idle"]) == (M("-0.25"), M(1800), M("-0.25"))
    assert refund["spend_resolution_s"] == 1800
    assert hours[t("11:00")]["spend"] == ZERO and hours[t("11:00")]["billing_complete"] is True
    assert daily(con)[(TIER, "*")]["spend"] == M("1.25")
    assert conservation(con) == []


def test_a_negative_resource_day_is_shared_among_its_models_exactly(con):
    # Only a correction on the 10th: -0.100000001, tokens 1 (m1) and 2 (m2). Magnitude shares:
    # 100,000,001 x 1/3 = 33,333,333.67 and x 2/3 = 66,666,667.33; the nanodollar left over goes
    # to the larger remainder (m1), and the sign is put back.
    load(con,
         cost_rows=[cost_row("r1", t("03:00"), t("04:00"), "-0.100000001", charge_class="Correction"),
                    *covering_rest()],
         requests=[request("a", t("03:10"), t("03:11"), model="m1", completion_tokens=1),
                   request("b", t("03:20"), t("03:21"), model="m2", completion_tokens=2)])
    build(con)
    models = daily(con)
    assert models[(TIER, "m1")]["spend"] == M("-0.033333334")
    assert models[(TIER, "m2")]["spend"] == M("-0.066666667")
    assert models[(TIER, "*")]["spend"] == M("-0.100000001")
    assert conservation(con) == []


# --------------------------------------------------------------------------- rows that add up or overlap


def test_two_rows_of_one_hour_add_up_and_its_seconds_count_once(con):
    # compute 1.20 and the attached volume 0.05, both Usage of r1 for 10:00-11:00
    load(con, cost_rows=[cost_row("r1", t("10:00"), t("11:00"), "1.200000000"),
                         cost_row("r1", t("10:00"), t("11:00"), "0.050000000"), *covering_rest()])
    build(con)
    row = hourly(con, "r1")[t("10:00")]
    assert (row["spend"], row["running_s"], row["spend_resolution_s"]) == (M("1.25"), M(3600), 3600)


def test_overlapping_rows_split_their_own_money_over_their_own_seconds(con):
    # An hourly row (1.00 for 10:00-11:00) over a daily row (2.40 for the day: 0.10 an hour).
    # Parked 10:30-10:45 (hibernated, then engine_ready). Hour 10: the hourly row's 1.00 splits
    # 2,700 idle / 900 parked = 0.75 / 0.25; the daily row's 0.10 splits 0.075 / 0.025.
    load(con,
         cost_rows=[cost_row("r1", t("10:00"), t("11:00"), "1.000000000"),
                    cost_row("r1", t("00:00"), t("00:00", day=11), "2.400000000")],
         events=[event("r1", t("08:00", day=9), "launched"), event("r1", t("10:30"), "hibernated"),
                 event("r1", t("10:45"), "engine_ready")])
    build(con)
    hours = hourly(con, "r1")
    ten = hours[t("10:00")]
    assert ten["spend"] == M("1.1")
    assert (ten["running_s"], ten["idle_s"], ten["parked_s"]) == (M(2700), M(2700), M(900))  # each second once
    assert (ten["spend_idle"], ten["spend_parked"]) == (M("0.825"), M("0.275"))
    assert ten["spend_resolution_s"] == 86400  # the longest row overlapping the hour
    assert (hours[t("09:00")]["spend"], hours[t("09:00")]["running_s"]) == (M("0.1"), M(3600))
    assert hours[t("11:00")]["spend"] == M("0.1")
    assert sum(r["spend"] for r in hours.values()) == M("3.4")
    assert conservation(con) == []


# --------------------------------------------------------------------------- coverage


def test_an_hour_the_export_does_not_cover_yet_is_dark_until_it_does(con):
    load(con, cost_rows=hour_rows("r1", 0, 9, "0.500000000"))  # the export reaches 10:00
    build(con)
    hours = hourly(con, "r1")
    assert len(hours) == 24
    for h in range(10):
        assert hours[t(f"{h:02d}:00")]["billing_complete"] is True
    for h in range(10, 24):  # dark as in rule 3: no money known, no seconds, not complete
        row = hours[t(f"{h:02d}:00")]
        assert (row["spend"], row["running_s"], row["billing_complete"]) == (ZERO, ZERO, False)
    assert rows(con, "marts.observability_gaps") == [
        {"resource_id": "r1", "gap_start": t("10:00"), "gap_end": None, "seconds": None}]
    tier = daily(con)[(TIER, "*")]
    assert (tier["spend"], tier["billing_complete"]) == (M(5), False)

    # Half an hour more: the hour 10:00 has money, but is complete only once covered to 11:00.
    load(con, cost_rows=[cost_row("r1", t("10:00"), t("10:30"), "0.250000000")])
    build(con)
    ten = hourly(con, "r1")[t("10:00")]
    assert (ten["spend"], ten["running_s"], ten["billing_complete"]) == (M("0.25"), M(1800), False)
    assert [g["gap_start"] for g in rows(con, "marts.observability_gaps")] == [t("10:30")]

    # The rest of the day arrives: every hour is complete and the stretch is gone.
    load(con, cost_rows=[cost_row("r1", t("10:30"), t("11:00"), "0.250000000"), *hour_rows("r1", 11, 23, "0.5")])
    build(con)
    hours = hourly(con, "r1")
    assert all(r["billing_complete"] for r in hours.values())
    assert rows(con, "marts.observability_gaps") == []
    tier = daily(con)[(TIER, "*")]
    assert (tier["spend"], tier["billing_complete"]) == (M(12), True)


def test_hours_whose_rows_were_never_landed_stay_dark_though_later_days_are_stored(con):
    # The 10th was fetched when the export reached 10:00; the 11th was fetched whole later, but the
    # 10th's late rows never were. Coverage comes from rows starting before an hour ends, so the
    # 11th's rows do not make 10:00-24:00 of the 10th look complete with no money.
    load(con, cost_rows=[*hour_rows("r1", 0, 9, "1"), *hour_rows("r1", 0, 23, "1", day=11)])
    build(con)
    hours = hourly(con, "r1")
    assert [h.hour for h, r in hours.items() if not r["billing_complete"]] == list(range(10, 24))
    # the export reaches past the day, so the stretch is closed at the day's end, with its length
    assert rows(con, "marts.observability_gaps") == [
        {"resource_id": "r1", "gap_start": t("10:00"), "gap_end": t("00:00", day=11), "seconds": M(50400)}]


def test_an_hour_in_which_the_account_has_no_usage_row_is_dark(con):
    # Nothing of the account starts in 10:00-12:00: the export says nothing about those hours.
    load(con, cost_rows=[*hour_rows("r1", 0, 9, "1"), *hour_rows("r1", 12, 23, "1")])
    build(con)
    hours = hourly(con, "r1")
    assert [h.hour for h, r in hours.items() if not r["billing_complete"]] == [10, 11]
    assert rows(con, "marts.observability_gaps") == [
        {"resource_id": "r1", "gap_start": t("10:00"), "gap_end": t("12:00"), "seconds": M(7200)}]


def test_a_row_longer_than_a_day_says_nothing_of_how_far_the_export_has_got(con):
    load(con, cost_rows=[*hour_rows("r1", 0, 9, "1"),
                         cost_row(None, t("00:00"), t("00:00", day=12), "30", skipped="outside_map")])
    build(con)
    assert [h.hour for h, r in hourly(con, "r1").items() if not r["billing_complete"]] == list(range(10, 24))


def test_coverage_is_per_billing_account(con):
    # r2's account is exported to midnight, r1's only to noon.
    load(con, cost_rows=[*hour_rows("r1", 0, 11, "1"), cost_row("r2", t("00:00"), t("00:00", day=11), "24",
                                                                  account="acct-2")])
    build(con)
    assert hourly(con, "r1")[t("12:00")]["billing_complete"] is False
    assert all(r["billing_complete"] for r in hourly(con, "r2").values())


def test_a_terminated_event_ends_watching(con):
    load(con, cost_rows=[*hour_rows("r1", 0, 5, "1"), *covering_rest()],
         events=[event("r1", t("09:00", day=9), "launched"), event("r1", t("05:30"), "terminated")])
    build(con)
    assert list(hourly(con, "r1")) == [t(f"{h:02d}:00") for h in range(6)]
    assert rows(con, "marts.observability_gaps") == []


# --------------------------------------------------------------------------- the rest of the bill


def test_the_rest_of_the_bill_never_reaches_a_replica(con):
    load(con, cost_rows=[
        *hour_rows("r1", 0, 23, "1"),
        cost_row(None, t("00:00"), t("00:00", day=11), "3.1", skipped="outside_map"),  # another resource
        cost_row(None, t("00:00"), t("00:00", day=11), "0.9", category="Tax", skipped="no_resource"),
        cost_row(None, t("00:00"), t("00:00", day=11), "-5", category="Credit", skipped="not_usage"),
    ])
    build(con)
    assert sum(r["spend"] for r in rows(con, "marts.resource_hourly")) == M(24)
    assert daily(con)[(TIER, "*")]["spend"] == M(24)
    assert conservation(con) == []


# --------------------------------------------------------------------------- beside sampled billing


def test_an_hourly_export_beside_the_same_fleets_samples_gives_equal_hours_and_cost_per_mtok(tmp_path):
    # Sampled: r1 bills 0.01 a minute from 10:00 to 13:00, terminated at 13:00: 0.60 an hour.
    samples = series("r1", [(t("10:00") + timedelta(minutes=m), M("0.01") * m,
                             "terminated" if m == 180 else "running") for m in range(181)])
    requests = [request("q1", t("11:05"), t("11:20"), completion_tokens=900, model="m1"),
                request("q2", t("12:40"), t("12:50"), completion_tokens=300, model="m2")]
    sampled = warehouse(tmp_path, "sampled.duckdb")
    load(sampled, snapshots=samples, requests=requests)
    build(sampled)
    # The same hours as an hourly export, states from the fleet's events.
    exported = warehouse(tmp_path, "exported.duckdb")
    load(exported, cost_rows=hour_rows("r1", 10, 12, "0.600000000"), requests=requests,
         events=[event("r1", t("09:55"), "launched"), event("r1", t("13:00"), "terminated")])
    build(exported)

    a, b = hourly(sampled, "r1"), hourly(exported, "r1")
    assert list(a) == list(b) == [t("10:00"), t("11:00"), t("12:00")]
    for hour in a:
        for column in ("spend", "running_s", "busy_s", "idle_s", "spend_serving", "spend_idle", "completion_tokens"):
            assert a[hour][column] == b[hour][column], (hour, column)
        assert (a[hour]["spend_resolution_s"], b[hour]["spend_resolution_s"]) == (60, 3600)
    for key in (("h100-class", "*"), ("h100-class", "m1"), ("h100-class", "m2")):
        assert daily(sampled)[key]["usd_per_mtok"] == daily(exported)[key]["usd_per_mtok"]
    assert daily(exported)[(TIER, "*")]["usd_per_mtok"] == M(1500)  # 1.80 / 1,200 tokens x 1e6
    sampled.close()
    exported.close()


def test_a_resource_billed_by_samples_and_cost_rows_at_once_is_refused(con):
    load(con, snapshots=series("r1", [(t("10:00"), "0"), (t("10:01"), "0.01")]),
         cost_rows=[cost_row("r1", t("10:00"), t("11:00"), "0.6")])
    with pytest.raises(BillingSourceMixError, match="r1"):
        build(con)


def test_cost_rows_in_two_currencies_are_refused_naming_the_resources(con):
    load(con, cost_rows=[cost_row("r1", t("10:00"), t("11:00"), "1"),
                         cost_row("r2", t("10:00"), t("11:00"), "1", currency="EUR")])
    with pytest.raises(CurrencyMixError, match=r"FOCUS cost rows mix currencies .*EUR: r2; USD: r1"):
        build(con)
    assert d(10)  # nothing published: the build rolled back
    assert rows(con, "marts.resource_hourly") == []
