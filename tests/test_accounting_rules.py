"""DESIGN.md "Accounting rules" 1-10, each on a tiny hand-computed fleet.

Every expected number below is worked out by hand in the comments and compared with
Decimal equality: published money has 9 decimals, seconds 6, ratios 9 (rounded).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipelines.accounting import CurrencyMixError
from tests.builders import (
    MARTS,
    PERIOD_START,
    TIER,
    build,
    d,
    daily,
    event,
    hourly,
    load,
    one,
    request,
    rows,
    series,
    snapshot,
    t,
    table_dump,
    warehouse,
)

M = Decimal
ZERO = M(0)


@pytest.fixture
def con(tmp_path):
    connection = warehouse(tmp_path)
    yield connection
    connection.close()


def spend_parts(row):
    return row["spend_serving"] + row["spend_idle"] + row["spend_waking"] + row["spend_parked"]


# --------------------------------------------------------------------------- rule 1


def test_spend_is_the_difference_of_cumulative_bills_and_never_rate_times_time(con):
    # The rate says $99/h (= $4.95 over 3 minutes); the bill moved by 0.300000007.
    load(con, snapshots=series("r1", [
        (t("10:00"), "1.000000000"),
        (t("10:01"), "1.250000000"),
        (t("10:02"), "1.250000007"),
        (t("10:03"), "1.300000007", "terminated"),
    ], rate="99"))
    build(con)

    hours = hourly(con, "r1")
    assert list(hours) == [t("10:00")]
    row = hours[t("10:00")]
    assert row["spend"] == M("0.300000007")
    assert row["running_s"] == M(180)
    assert row["idle_s"] == M(180)
    assert row["spend_idle"] == M("0.300000007")
    assert row["billing_complete"] is True
    assert daily(con)[(TIER, "*")]["spend"] == M("0.300000007")


def test_first_sample_of_a_resource_closes_no_interval(con):
    # The bill already stood at 50 when first sampled: none of it is this day's spend.
    load(con, snapshots=series("r1", [
        (t("10:00"), "50"),
        (t("10:01"), "50.5", "terminated"),
    ]))
    build(con)
    assert hourly(con, "r1")[t("10:00")]["spend"] == M("0.5")


def test_new_billing_period_resets_spend_to_the_new_cumulative(con):
    p2 = PERIOD_START.replace(month=11)
    load(con, snapshots=[
        snapshot("r1", t("10:00"), "5.000000000"),
        snapshot("r1", t("10:01"), "5.100000000"),
        snapshot("r1", t("10:02"), "0.020000000", period_start=p2),   # new period: 0.02
        snapshot("r1", t("10:03"), "0.050000000", period_start=p2),
        snapshot("r1", t("10:04"), "0.080000000", "terminated", period_start=p2),
        # a new period whose cumulative is higher than the old one: still a reset
        snapshot("r2", t("10:00"), "0.500000000"),
        snapshot("r2", t("10:01"), "0.700000000", "terminated", period_start=p2),
    ])
    build(con)

    # r1: 0.1 + 0.02 + 0.03 + 0.03
    assert hourly(con, "r1")[t("10:00")]["spend"] == M("0.180000000")
    assert hourly(con, "r2")[t("10:00")]["spend"] == M("0.700000000")
    resets = rows(con, "marts.billing_resets", order_by='resource_id, "at"')
    assert resets == [
        {"resource_id": "r1", "at": t("10:02"), "previous_cumulative": M("5.1"),
         "cumulative": M("0.02"), "reason": "new_period"},
        {"resource_id": "r2", "at": t("10:01"), "previous_cumulative": M("0.5"),
         "cumulative": M("0.7"), "reason": "new_period"},
    ]


def test_falling_cumulative_is_a_reset_listed_as_fell(con):
    load(con, snapshots=series("r1", [
        (t("10:00"), "5.440000000"),
        (t("10:01"), "5.480000000"),
        (t("10:02"), "0.040000000"),   # fell: the interval costs 0.04
        (t("10:03"), "0.080000000", "terminated"),
    ]))
    build(con)

    assert hourly(con, "r1")[t("10:00")]["spend"] == M("0.120000000")  # 0.04 + 0.04 + 0.04
    assert rows(con, "marts.billing_resets") == [
        {"resource_id": "r1", "at": t("10:02"), "previous_cumulative": M("5.48"),
         "cumulative": M("0.04"), "reason": "fell"},
    ]


def test_interval_across_an_hour_is_split_pro_rata_by_time(con):
    # (10:59, 11:01] costs 0.12: 60 s in each hour. (11:01, 11:02] costs 0.03.
    load(con, snapshots=series("r1", [
        (t("10:59"), "0"),
        (t("11:01"), "0.12"),
        (t("11:02"), "0.15", "terminated"),
    ]))
    build(con)

    hours = hourly(con, "r1")
    assert hours[t("10:00")]["spend"] == M("0.06")
    assert hours[t("10:00")]["running_s"] == M(60)
    assert hours[t("11:00")]["spend"] == M("0.09")
    assert hours[t("11:00")]["running_s"] == M(120)


def test_interval_across_midnight_is_split_once_over_two_separate_builds(con):
    # (23:59, 00:02] costs 10 nanodollars over 180 s: exact shares 10/3 and 20/3;
    # largest remainder gives 3 to day 10 and 7 to day 11, which add up to 10.
    load(con, snapshots=[
        snapshot("r1", t("23:58"), "1.000000000"),
        snapshot("r1", t("23:59"), "1.000000000"),
        snapshot("r1", t("00:02", day=11), "1.000000010"),
        snapshot("r1", t("00:03", day=11), "1.000000010", "terminated"),
    ])
    build(con, 10)
    build(con, 11)

    hours = hourly(con, "r1")
    assert hours[t("23:00")]["spend"] == M("0.000000003")
    assert hours[t("00:00", day=11)]["spend"] == M("0.000000007")
    assert hours[t("23:00")]["running_s"] == M(120)
    assert hours[t("00:00", day=11)]["running_s"] == M(180)
    total = con.execute("SELECT sum(spend) FROM marts.resource_hourly").fetchone()[0]
    assert total == M("0.000000010")
    per_day = {k: v["spend"] for k, v in daily(con, 10).items()} | {
        ("day11",) + k: v["spend"] for k, v in daily(con, 11).items()
    }
    assert per_day[(TIER, "*")] == M("0.000000003")
    assert per_day[("day11", TIER, "*")] == M("0.000000007")
    # both days are whole: the 23:59 sample is followed by a stored sample within 5 minutes
    assert all(r["billing_complete"] for r in hours.values())


def test_building_a_day_again_with_its_neighbour_stored_cuts_the_interval_identically(con):
    load(con, snapshots=[
        snapshot("r1", t("23:59"), "1.000000000"),
        snapshot("r1", t("00:02", day=11), "1.000000010"),
        snapshot("r1", t("00:03", day=11), "1.000000010", "terminated"),
    ])
    build(con, 10, 12)   # one call over both days
    one_call = table_dump(con, "marts.resource_hourly")
    build(con, 11)
    build(con, 10)       # two calls, in the other order
    assert table_dump(con, "marts.resource_hourly") == one_call


def test_largest_remainder_split_of_an_interval_over_three_hours_sums_exactly(con):
    # (09:00, 12:00] costs 10 nanodollars: 10/3 per hour -> parts 4, 3, 3 in some order.
    load(con, snapshots=[
        snapshot("r1", t("09:00"), "0"),
        snapshot("r1", t("12:00"), "0.000000010"),
        snapshot("r1", t("12:01"), "0.000000010", "terminated"),
    ])
    build(con)
    parts = [hourly(con, "r1")[t(h)]["spend"] for h in ("09:00", "10:00", "11:00")]
    assert sum(parts) == M("0.000000010")
    assert sorted(parts) == [M("0.000000003"), M("0.000000003"), M("0.000000004")]


def test_largest_remainder_gives_the_undistributed_nanodollar_to_the_largest_share(con):
    # (09:50, 11:10] costs 10 nanodollars over 80 min: exact 1.25 / 7.5 / 1.25;
    # floors 1 + 7 + 1 = 9, the last nanodollar goes to the largest remainder (hour 10).
    load(con, snapshots=[
        snapshot("r1", t("09:50"), "0"),
        snapshot("r1", t("11:10"), "0.000000010"),
        snapshot("r1", t("11:11"), "0.000000010", "terminated"),
    ])
    build(con)
    hours = hourly(con, "r1")
    assert [hours[t(h)]["spend"] for h in ("09:00", "10:00", "11:00")] == [
        M("0.000000001"), M("0.000000008"), M("0.000000001"),
    ]


def test_opening_interval_of_a_day_starts_at_the_last_sample_before_it_however_far_back(con):
    # The last sample before day 11 is two days earlier; the interval (10th 23:00, 11th 01:00]
    # costs 7.2 over 7200 s: 3.6 in hour 00 of day 11 (and dark, being a gap).
    load(con, snapshots=[
        snapshot("r1", t("22:59"), "0"),
        snapshot("r1", t("23:00"), "1"),
        snapshot("r1", t("01:00", day=11), "8.2"),
        snapshot("r1", t("01:01", day=11), "8.3", "terminated"),
    ])
    build(con, 11)
    hours = hourly(con, "r1")
    assert hours[t("00:00", day=11)]["spend"] == M("3.6")
    assert hours[t("01:00", day=11)]["spend"] == M("0.1")
    assert hours[t("00:00", day=11)]["billing_complete"] is False
    assert hours[t("01:00", day=11)]["billing_complete"] is True
    assert rows(con, "marts.observability_gaps") == [
        {"resource_id": "r1", "gap_start": t("23:00"), "gap_end": t("01:00", day=11), "seconds": M(7200)},
    ]


# --------------------------------------------------------------------------- rule 3


def _dark_gap_fleet(con):
    # r1 (funds model a): (10:00,10:05] is exactly 300 s; (10:05, 11:10] is a 65-minute gap
    # costing 1.3 (0.02/min: 1.1 in hour 10, 0.2 in hour 11); then (11:10, 11:11] terminated.
    # r2 (same tier, funds model b) samples every 5 minutes in hour 12: complete.
    load(
        con,
        snapshots=series("r1", [
            (t("10:00"), "0"),
            (t("10:05"), "0.05"),
            (t("11:10"), "1.35"),
            (t("11:11"), "1.36", "terminated"),
        ]) + series("r2", [
            (t("12:00"), "0"),
            (t("12:05"), "0.5"),
            (t("12:06"), "0.6", "terminated"),
        ]),
        requests=[
            request("q1", t("10:01"), t("10:02"), resource_id="r1", model="a", completion_tokens=10),
            request("q2", t("12:01"), t("12:02"), resource_id="r2", model="b", completion_tokens=10),
        ],
    )
    build(con)


def test_gap_longer_than_five_minutes_counts_its_money_and_marks_hours_incomplete(con):
    _dark_gap_fleet(con)
    hours = hourly(con, "r1")
    assert hours[t("10:00")]["spend"] == M("1.15")
    assert hours[t("11:00")]["spend"] == M("0.21")
    assert hours[t("10:00")]["running_s"] == M(3600)
    assert hours[t("10:00")]["billing_complete"] is False
    assert hours[t("11:00")]["billing_complete"] is False
    assert hourly(con, "r2")[t("12:00")]["billing_complete"] is True


def test_gap_is_listed_in_observability_gaps_with_its_full_length(con):
    _dark_gap_fleet(con)
    assert rows(con, "marts.observability_gaps") == [
        {"resource_id": "r1", "gap_start": t("10:05"), "gap_end": t("11:10"), "seconds": M(3900)},
    ]


def test_gap_flags_the_tier_day_row_and_the_model_rows_it_funds(con):
    _dark_gap_fleet(con)
    rows_ = daily(con)
    assert rows_[(TIER, "*")]["billing_complete"] is False
    assert rows_[(TIER, "a")]["billing_complete"] is False   # funded by r1
    assert rows_[(TIER, "b")]["billing_complete"] is True    # funded by r2 alone
    assert rows_[(TIER, "*")]["spend"] == M("1.96")
    assert rows_[(TIER, "a")]["spend"] == M("1.36")
    assert rows_[(TIER, "b")]["spend"] == M("0.6")


def test_interval_of_exactly_five_minutes_is_not_a_gap(con):
    load(con, snapshots=series("r1", [
        (t("10:00"), "0"),
        (t("10:05"), "0.5"),
        (t("10:10"), "1.0", "terminated"),
    ]))
    build(con)
    assert hourly(con, "r1")[t("10:00")]["billing_complete"] is True
    assert rows(con, "marts.observability_gaps") == []


def test_interval_one_microsecond_over_five_minutes_is_a_gap(con):
    load(con, snapshots=series("r1", [
        (t("10:00"), "0"),
        (t("10:05:00.000001"), "0.5"),
        (t("10:06"), "0.6", "terminated"),
    ]))
    build(con)
    assert hourly(con, "r1")[t("10:00")]["billing_complete"] is False
    assert rows(con, "marts.observability_gaps") == [
        {"resource_id": "r1", "gap_start": t("10:00"), "gap_end": t("10:05:00.000001"),
         "seconds": M("300.000001")},
    ]


def test_max_sample_gap_is_configurable(con):
    load(con, snapshots=series("r1", [
        (t("10:00"), "0"),
        (t("10:10"), "1.0", "terminated"),
    ]))
    build(con, max_sample_gap_s=600)
    assert hourly(con, "r1")[t("10:00")]["billing_complete"] is True
    build(con, max_sample_gap_s=599)
    assert hourly(con, "r1")[t("10:00")]["billing_complete"] is False


def test_time_after_last_sample_is_dark_with_zero_money_but_tokens_until_range_end(con):
    load(
        con,
        snapshots=series("r1", [(t("10:00"), "0"), (t("10:01"), "0.01")]),
        requests=[request("q1", t("15:20"), t("15:30"), resource_id="r1", completion_tokens=100,
                          prompt_tokens=7)],
    )
    build(con)

    hours = hourly(con, "r1")
    assert sorted(hours) == [t(f"{h:02d}:00") for h in range(10, 24)]   # nothing before 10:00
    assert hours[t("10:00")]["spend"] == M("0.01")
    assert hours[t("10:00")]["running_s"] == M(60)
    for h in range(10, 24):
        assert hours[t(f"{h:02d}:00")]["billing_complete"] is False
    for h in range(11, 24):
        row = hours[t(f"{h:02d}:00")]
        assert row["spend"] == ZERO and spend_parts(row) == ZERO
        assert row["running_s"] == row["busy_s"] == row["idle_s"] == row["waking_s"] == row["parked_s"] == ZERO
        assert row["idle_fraction"] is None and row["mean_concurrency"] is None
        assert row["tier"] == TIER and row["gpu_type"] == "H100-SXM-80GB"
    assert hours[t("15:00")]["completion_tokens"] == 100
    assert hours[t("15:00")]["prompt_tokens"] == 7
    assert hours[t("15:00")]["requests"] == 1
    assert rows(con, "marts.observability_gaps") == [
        {"resource_id": "r1", "gap_start": t("10:01"), "gap_end": None, "seconds": None},
    ]
    tier_day = daily(con)[(TIER, "*")]
    assert tier_day["billing_complete"] is False
    assert tier_day["spend"] == M("0.01")
    assert tier_day["completion_tokens"] == 100


def test_a_whole_day_without_samples_is_dark_for_a_watched_resource(con):
    load(con, snapshots=series("r1", [(t("23:00"), "0"), (t("23:01"), "0.01")]))
    build(con, 11)
    hours = hourly(con, "r1")
    assert sorted(hours) == [t(f"{h:02d}:00", day=11) for h in range(24)]
    assert all(r["billing_complete"] is False and r["spend"] == ZERO for r in hours.values())
    assert daily(con, 11)[(TIER, "*")]["billing_complete"] is False
    assert daily(con, 11)[(TIER, "__unallocated__")]["spend"] == ZERO


def test_day_becomes_final_once_the_first_sample_after_it_is_stored(con):
    load(con, snapshots=series("r1", [(t("23:58"), "0"), (t("23:59:30"), "0.03")]))
    build(con, 10)
    assert hourly(con, "r1")[t("23:00")]["billing_complete"] is False
    assert rows(con, "marts.observability_gaps")[0]["gap_end"] is None

    # (23:59:30, 00:00:30] costs 0.02, half of it in day 10
    load(con, snapshots=[snapshot("r1", t("00:00:30", day=11), "0.05", "terminated")])
    build(con, 10)
    row = hourly(con, "r1")[t("23:00")]
    assert row["billing_complete"] is True
    assert row["spend"] == M("0.04")
    assert row["running_s"] == M(120)
    assert rows(con, "marts.observability_gaps") == []
    assert daily(con, 10)[(TIER, "*")]["billing_complete"] is True


def test_terminated_resource_is_not_dark_after_it(con):
    load(con, snapshots=series("r1", [(t("10:00"), "0"), (t("10:01"), "0.01", "terminated")]))
    build(con)
    hours = hourly(con, "r1")
    assert list(hours) == [t("10:00")]
    assert hours[t("10:00")]["billing_complete"] is True
    assert hours[t("10:00")]["running_s"] == M(60)   # a terminated interval is running time
    assert rows(con, "marts.observability_gaps") == []


def test_sample_after_terminated_opens_a_new_history_and_charges_nothing_between(con):
    load(con, snapshots=series("r1", [
        (t("10:00"), "0"),
        (t("10:01"), "0.01", "terminated"),
        (t("14:00"), "0.50"),                   # relaunched: opens a new history
        (t("14:01"), "0.52", "terminated"),
    ]))
    build(con)
    hours = hourly(con, "r1")
    assert sorted(hours) == [t("10:00"), t("14:00")]
    assert hours[t("10:00")]["spend"] == M("0.01")
    assert hours[t("14:00")]["spend"] == M("0.02")
    assert hours[t("14:00")]["running_s"] == M(60)
    assert all(r["billing_complete"] for r in hours.values())
    assert rows(con, "marts.observability_gaps") == []
    assert rows(con, "marts.billing_resets") == []


# --------------------------------------------------------------------------- rule 4 / 6


def test_busy_time_is_the_union_of_overlapping_requests_not_their_sum(con):
    # running (10:00, 10:10], 0.5 per 5 minutes. Requests [10:01,10:03) and [10:02,10:04)
    # overlap: busy 180 s, not 240; [10:06, 10:06:30) adds 30 s. Idle 600 - 210 = 390.
    load(
        con,
        snapshots=series("r1", [(t("10:00"), "0"), (t("10:05"), "0.5"), (t("10:10"), "1.0", "terminated")]),
        requests=[
            request("a", t("10:01"), t("10:03"), completion_tokens=1),
            request("b", t("10:02"), t("10:04"), completion_tokens=1, status=500, error="upstream"),
            request("c", t("10:06"), t("10:06:30"), completion_tokens=1),
        ],
    )
    build(con)
    row = hourly(con, "r1")[t("10:00")]
    assert row["running_s"] == M(600)
    assert row["busy_s"] == M(210)
    assert row["idle_s"] == M(390)
    assert row["idle_fraction"] == M("0.65")
    # request-seconds inside busy 120 + 120 + 30 = 270 over 210 busy seconds = 9/7
    assert row["mean_concurrency"] == M("1.285714286")
    # (10:00,10:05]: 180/300 of 0.5 busy; (10:05,10:10]: 30/300 of 0.5 busy
    assert row["spend_serving"] == M("0.35")
    assert row["spend_idle"] == M("0.65")
    assert row["spend"] == M("1.0")


def test_waking_is_subtracted_from_busy_and_nothing_is_busy_or_waking_outside_running_time(con):
    # (10:00,10:05] hibernated costs 0.001; (10:05,10:10], (10:10,10:15], (10:15,10:20] run at
    # 0.5 each. Wake requested 10:04 (while parked), engine_ready 10:07: waking [10:05,10:07).
    # Request x [10:04:30, 10:08) waits through the wake: busy only [10:07,10:08).
    # Request y [10:01, 10:02) falls in parked time: parked, not busy (its tokens count).
    # A second wake at 10:16 has no engine_ready and ends at the hibernated event at 10:18.
    load(
        con,
        snapshots=series("r1", [
            (t("10:00"), "0", "hibernated"),
            (t("10:05"), "0.001", "hibernated"),
            (t("10:10"), "0.501"),
            (t("10:15"), "1.001"),
            (t("10:20"), "1.501", "terminated"),
        ]),
        requests=[
            request("x", t("10:04:30"), t("10:08"), completion_tokens=50),
            request("y", t("10:01"), t("10:02"), completion_tokens=7, status=503, error="wake_timeout"),
        ],
        events=[
            event("r1", t("10:04"), "wake_requested"),
            event("r1", t("10:07"), "engine_ready"),
            event("r1", t("10:16"), "wake_requested"),
            event("r1", t("10:18"), "hibernated"),
        ],
    )
    build(con)
    row = hourly(con, "r1")[t("10:00")]
    assert row["parked_s"] == M(300)
    assert row["running_s"] == M(900)
    assert row["waking_s"] == M(240)
    assert row["busy_s"] == M(60)
    assert row["idle_s"] == M(600)
    assert row["spend_parked"] == M("0.001")
    assert row["spend_waking"] == M("0.4")     # 120/300 * 0.5 twice
    assert row["spend_serving"] == M("0.1")    # 60/300 * 0.5
    assert row["spend_idle"] == M("1.0")       # 0.2 + 0.5 + 0.3
    assert row["spend"] == M("1.501")
    assert row["mean_concurrency"] == M(1)
    assert row["completion_tokens"] == 57 and row["requests"] == 2
    # idle fraction ignores parked time; waking is in the denominator: 600/900
    assert row["idle_fraction"] == M("0.666666667")


def test_wake_without_engine_ready_ends_at_the_end_of_running_time(con):
    # running (10:00, 10:10], hibernated (10:10, 10:15], running (10:15, 10:25]; 0.1 each.
    # Wake at 10:08, no other event: waking [10:08, 10:10) only, not after the park.
    load(
        con,
        snapshots=series("r2", [
            (t("10:00"), "0"),
            (t("10:05"), "0.1"),
            (t("10:10"), "0.2"),
            (t("10:15"), "0.3", "hibernated"),
            (t("10:20"), "0.4"),
            (t("10:25"), "0.5", "terminated"),
        ]),
        events=[event("r2", t("10:08"), "wake_requested")],
    )
    build(con)
    row = hourly(con, "r2")[t("10:00")]
    assert row["waking_s"] == M(120)
    assert row["running_s"] == M(1200)
    assert row["parked_s"] == M(300)
    assert row["idle_s"] == M(1080)
    assert row["spend_waking"] == M("0.04")
    assert row["spend_parked"] == M("0.1")
    assert row["spend"] == M("0.5")


def test_wake_from_the_day_before_ends_where_its_running_time_ended_when_a_day_is_built_alone(con):
    # Wake at 20:01 with no engine_ready; running time ends at 20:05 (the 20:10 sample is
    # hibernated). Day 11 runs again from 23:59: none of it is waking, whether day 11 is built
    # alone or together with day 10 (DESIGN.md "Day edges").
    load(
        con,
        snapshots=series("r0", [
            (t("20:00"), "0"), (t("20:05"), "0.5"), (t("20:10"), "0.6", "hibernated"),
            (t("23:59"), "0.7", "hibernated"),
        ]) + [snapshot("r0", t("00:04", day=11), "1.2"), snapshot("r0", t("00:05", day=11), "1.3", "terminated")],
        events=[event("r0", t("20:01"), "wake_requested")],
    )
    build(con, 11)
    alone = hourly(con, "r0")[t("00:00", day=11)]
    assert (alone["running_s"], alone["waking_s"], alone["idle_s"]) == (M(300), ZERO, M(300))
    build(con, 10, 12)
    together = hourly(con, "r0")
    assert together[t("00:00", day=11)] == alone
    assert together[t("20:00")]["waking_s"] == M(240)


def test_parked_spend_while_hibernated_lands_in_spend_parked_and_idle_fraction_ignores_it(con):
    # running (10:00,10:05] 0.5 with a 60 s request; hibernated (10:05,10:10] and
    # (10:10,10:15] at 0.0002 each; running (10:15,10:20] 0.5 (the terminated sample).
    load(
        con,
        snapshots=series("r1", [
            (t("10:00"), "0"),
            (t("10:05"), "0.5"),
            (t("10:10"), "0.5002", "hibernated"),
            (t("10:15"), "0.5004", "stopped"),
            (t("10:20"), "1.0004", "terminated"),
        ]),
        requests=[request("q", t("10:01"), t("10:02"), completion_tokens=10)],
    )
    build(con)
    row = hourly(con, "r1")[t("10:00")]
    assert row["parked_s"] == M(600)
    assert row["spend_parked"] == M("0.0004")
    assert row["running_s"] == M(600)
    assert row["busy_s"] == M(60)
    assert row["idle_s"] == M(540)
    assert row["spend_serving"] == M("0.1")
    assert row["spend_idle"] == M("0.9")
    assert row["idle_fraction"] == M("0.9")
    assert daily(con)[(TIER, "*")]["idle_fraction"] == M("0.9")
    assert daily(con)[(TIER, "m1")]["spend"] == M("1.0004")


def test_parked_only_hour_has_null_idle_fraction(con):
    load(con, snapshots=series("r1", [
        (t("10:00"), "0", "hibernated"),
        (t("10:05"), "0.0002", "hibernated"),
        (t("10:06"), "0.0003", "terminated"),
    ]))
    build(con)
    rows_ = hourly(con, "r1")
    assert rows_[t("10:00")]["parked_s"] == M(300)
    assert rows_[t("10:00")]["running_s"] == M(60)
    load(con, snapshots=series("r9", [
        (t("12:00"), "0", "hibernated"),
        (t("12:05"), "0.0002", "hibernated"),
        (t("12:10"), "0.0004", "stopped"),
    ]))
    build(con)
    r9 = hourly(con, "r9")[t("12:00")]
    assert r9["running_s"] == ZERO and r9["parked_s"] == M(600)
    assert r9["spend"] == r9["spend_parked"] == M("0.0004")
    assert r9["idle_fraction"] is None and r9["mean_concurrency"] is None


# --------------------------------------------------------------------------- rule 5


def test_tokens_land_in_the_hour_of_finished_at_and_busy_is_split_over_both_hours(con):
    load(
        con,
        snapshots=series("r1", [(t("09:55"), "0"), (t("10:00"), "0.5"), (t("10:05"), "1.0", "terminated")]),
        requests=[
            request("across", t("09:59"), t("10:01"), completion_tokens=100, prompt_tokens=10),
            request("errored", t("10:01:30"), t("10:02"), completion_tokens=40, prompt_tokens=5,
                    status=500, error="stream_error"),
        ],
    )
    build(con)
    hours = hourly(con, "r1")
    assert hours[t("09:00")]["busy_s"] == M(60)
    assert hours[t("09:00")]["completion_tokens"] == 0
    assert hours[t("09:00")]["requests"] == 0
    assert hours[t("10:00")]["busy_s"] == M(90)
    assert hours[t("10:00")]["completion_tokens"] == 140   # errored stream included
    assert hours[t("10:00")]["prompt_tokens"] == 15
    assert hours[t("10:00")]["requests"] == 2
    assert hours[t("09:00")]["spend_serving"] == M("0.1")
    assert hours[t("10:00")]["spend_serving"] == M("0.15")


def test_request_across_midnight_is_busy_in_both_days_and_counted_in_the_later(con):
    load(
        con,
        snapshots=series("r1", [(t("23:55"), "0"), (t("23:59"), "0.4")])
        + [snapshot("r1", t("00:03", day=11), "0.8", "terminated")],
        requests=[request("across", t("23:58"), t("00:02", day=11), completion_tokens=100)],
    )
    build(con, 10)
    build(con, 11)
    assert hourly(con, "r1")[t("23:00")]["busy_s"] == M(120)
    assert hourly(con, "r1")[t("00:00", day=11)]["busy_s"] == M(120)
    assert daily(con, 10)[(TIER, "*")]["completion_tokens"] == 0
    assert daily(con, 11)[(TIER, "m1")]["completion_tokens"] == 100
    # day 10 served no token: its spend is unallocated; 0.4 + 0.1 (60 of 240 s of 0.4)
    assert daily(con, 10)[(TIER, "__unallocated__")]["spend"] == M("0.5")
    assert daily(con, 11)[(TIER, "m1")]["spend"] == M("0.3")


def test_routed_request_counts_under_its_resources_tier(con):
    load(
        con,
        snapshots=series("r1", [(t("10:00"), "0"), (t("10:01"), "0.1", "terminated")]),
        requests=[request("q", t("10:00"), t("10:00:30"), tier="some-other-tier", completion_tokens=9)],
    )
    build(con)
    rows_ = daily(con)
    assert set(rows_) == {(TIER, "*"), (TIER, "m1")}
    assert rows_[(TIER, "m1")]["completion_tokens"] == 9


# --------------------------------------------------------------------------- rule 7


def test_spend_is_shared_among_models_by_completion_token_share(con):
    # 1.0 shared 2:1 -> 0.666666667 / 0.333333333 (largest remainder: 2/3 has the larger remainder)
    load(
        con,
        snapshots=series("r1", [(t("10:00"), "0"), (t("10:05"), "1.0", "terminated")]),
        requests=[
            request("a", t("10:01"), t("10:02"), model="a", completion_tokens=2),
            request("b", t("10:02"), t("10:03"), model="b", completion_tokens=1),
        ],
    )
    build(con)
    rows_ = daily(con)
    assert rows_[(TIER, "a")]["spend"] == M("0.666666667")
    assert rows_[(TIER, "b")]["spend"] == M("0.333333333")
    assert rows_[(TIER, "*")]["spend"] == M("1.0")
    # $/Mtok: each model's exact share over its tokens (the tiny fleet's convention):
    # (2/3)/2 * 1e6 = 333333.333333333..., and the tier 1.0/3 * 1e6
    assert rows_[(TIER, "a")]["usd_per_mtok"] == M("333333.333333333")
    assert rows_[(TIER, "b")]["usd_per_mtok"] == M("333333.333333333")
    assert rows_[(TIER, "*")]["usd_per_mtok"] == M("333333.333333333")


def test_model_shares_use_largest_remainder_and_sum_exactly_to_the_resource_day(con):
    # 10 nanodollars over three models of one token each: 4 + 3 + 3.
    load(
        con,
        snapshots=series("r1", [(t("10:00"), "0"), (t("10:05"), "0.000000010", "terminated")]),
        requests=[
            request(m, t("10:01"), t("10:02"), model=m, completion_tokens=1) for m in ("a", "b", "c")
        ],
    )
    build(con)
    rows_ = daily(con)
    parts = [rows_[(TIER, m)]["spend"] for m in ("a", "b", "c")]
    assert sum(parts) == M("0.000000010") == rows_[(TIER, "*")]["spend"]
    assert sorted(parts) == [M("0.000000003"), M("0.000000003"), M("0.000000004")]


def test_replica_that_served_nothing_goes_to_unallocated_and_zero_token_models_get_rows(con):
    load(
        con,
        snapshots=series("r1", [(t("10:00"), "0"), (t("10:05"), "0.6", "terminated")])
        + series("r2", [(t("10:00"), "0"), (t("10:05"), "0.25", "terminated")], price_model="on_demand"),
        requests=[
            request("a", t("10:01"), t("10:02"), model="a", completion_tokens=30, prompt_tokens=3),
            # a model whose only request produced no completion token
            request("z", t("10:01"), t("10:03"), model="z", completion_tokens=0, prompt_tokens=4,
                    status=499, error="client_closed"),
            # never routed (a wake that timed out): its own tier, no spend
            request("u", t("10:02"), t("10:04"), resource_id=None, model="u", tier="a100-class",
                    completion_tokens=5, prompt_tokens=2, status=503, error="wake_timeout"),
        ],
    )
    build(con)
    rows_ = daily(con)
    assert set(rows_) == {
        (TIER, "*"), (TIER, "a"), (TIER, "z"), (TIER, "__unallocated__"),
        ("a100-class", "*"), ("a100-class", "u"),
    }
    z = rows_[(TIER, "z")]
    assert (z["spend"], z["completion_tokens"], z["prompt_tokens"], z["requests"], z["usd_per_mtok"]) == (
        ZERO, 0, 4, 1, None,
    )
    assert rows_[(TIER, "a")]["spend"] == M("0.6")
    assert rows_[(TIER, "a")]["usd_per_mtok"] == M("20000")
    un = rows_[(TIER, "__unallocated__")]
    assert (un["spend"], un["completion_tokens"], un["usd_per_mtok"]) == (M("0.25"), 0, None)
    star = rows_[(TIER, "*")]
    assert (star["spend"], star["completion_tokens"], star["prompt_tokens"], star["requests"]) == (
        M("0.85"), 30, 7, 2,
    )
    assert star["usd_per_mtok"] == M("28333.333333333")
    u = rows_[("a100-class", "u")]
    assert (u["spend"], u["completion_tokens"], u["requests"], u["usd_per_mtok"]) == (ZERO, 5, 1, ZERO)
    a100 = rows_[("a100-class", "*")]
    assert (a100["spend"], a100["completion_tokens"], a100["idle_fraction"]) == (ZERO, 5, None)
    # unrouted requests have no resource-hour
    assert {r["resource_id"] for r in rows(con, "marts.resource_hourly")} == {"r1", "r2"}


# --------------------------------------------------------------------------- rule 6 (pooling)


def test_idle_fraction_is_pooled_over_seconds_and_weighted_by_token_share_for_models(con):
    # r1 runs 600 s, busy 300 (a 240 s, b 60 s): idle 300. Tokens a 30, b 10 -> shares 3/4, 1/4.
    # r2 runs 1200 s, busy 120 (a 60 s, b 60 s): idle 1080. Tokens a 10, b 30 -> 1/4, 3/4.
    load(
        con,
        snapshots=series("r1", [(t("10:00"), "0"), (t("10:05"), "0.5"), (t("10:10"), "1.0", "terminated")])
        + series("r2", [(t("10:00"), "0"), (t("10:05"), "0.1"), (t("10:10"), "0.2"),
                        (t("10:15"), "0.3"), (t("10:20"), "0.4", "terminated")]),
        requests=[
            request("1a", t("10:00"), t("10:04"), resource_id="r1", model="a", completion_tokens=30),
            request("1b", t("10:04"), t("10:05"), resource_id="r1", model="b", completion_tokens=10),
            request("2a", t("10:00"), t("10:01"), resource_id="r2", model="a", completion_tokens=10),
            request("2b", t("10:01"), t("10:02"), resource_id="r2", model="b", completion_tokens=30),
        ],
    )
    build(con)
    assert hourly(con, "r1")[t("10:00")]["idle_fraction"] == M("0.5")
    assert hourly(con, "r2")[t("10:00")]["idle_fraction"] == M("0.9")
    rows_ = daily(con)
    # pooled: (300 + 1080) / (600 + 1200) = 0.7666..., not the mean of 0.5 and 0.9
    assert rows_[(TIER, "*")]["idle_fraction"] == M("0.766666667")
    # a: (3/4*300 + 1/4*1080) / (3/4*600 + 1/4*1200) = 495 / 750
    assert rows_[(TIER, "a")]["idle_fraction"] == M("0.66")
    # b: (1/4*300 + 3/4*1080) / (1/4*600 + 3/4*1200) = 885 / 1050
    assert rows_[(TIER, "b")]["idle_fraction"] == M("0.842857143")
    # money: r1 1.0 -> a 0.75, b 0.25; r2 0.4 -> a 0.1, b 0.3
    assert rows_[(TIER, "a")]["spend"] == M("0.85")
    assert rows_[(TIER, "b")]["spend"] == M("0.55")


def test_unallocated_pools_its_resource_days_whole(con):
    load(
        con,
        snapshots=series("r1", [(t("10:00"), "0"), (t("10:05"), "0.5"), (t("10:10"), "1.0", "terminated")])
        + series("r2", [(t("10:00"), "0"), (t("10:05"), "0.1"), (t("10:10"), "0.2"),
                        (t("10:15"), "0.3"), (t("10:20"), "0.4", "terminated")]),
        requests=[request("1a", t("10:00"), t("10:01"), resource_id="r1", model="a", completion_tokens=3)],
    )
    build(con)
    rows_ = daily(con)
    assert rows_[(TIER, "__unallocated__")]["idle_fraction"] == M(1)
    assert rows_[(TIER, "a")]["idle_fraction"] == M("0.9")
    assert rows_[(TIER, "*")]["idle_fraction"] == M("0.966666667")   # (540 + 1200) / 1800


# --------------------------------------------------------------------------- band check


def _band_resource(resource_id, tier, spend, busy_until, tokens, *, gap=False):
    """Runs (10:00, 10:10] for `spend`, busy [10:00, busy_until), `tokens` completion tokens."""
    half = Decimal(spend) / 2
    points = [(t("10:00"), "0"), (t("10:10"), Decimal(spend), "terminated")] if gap else [
        (t("10:00"), "0"), (t("10:05"), half), (t("10:10"), Decimal(spend), "terminated"),
    ]
    return (
        series(resource_id, points, tier=tier),
        [request(f"q-{resource_id}", t("10:00"), busy_until, resource_id=resource_id, tier=tier,
                 completion_tokens=tokens)],
    )


BAND_CASES = {
    # tier: (spend, busy until, completion tokens, gap) -> verdict
    "t-in": (("0.5", t("10:09"), 1_000_000, False), "in_band"),
    "t-low-edge": (("0.30", t("10:09"), 1_000_000, False), "in_band"),
    "t-high-edge": (("0.70", t("10:09"), 1_000_000, False), "in_band"),
    "t-above": (("0.700000001", t("10:09"), 1_000_000, False), "above_band"),
    "t-below": (("0.299999999", t("10:09"), 1_000_000, False), "below_band"),
    "t-idle-edge": (("0.5", t("10:07:30"), 1_000_000, False), "in_band"),          # idle exactly 0.25
    "t-idle": (("0.5", t("10:07:29"), 1_000_000, False), "not_applicable"),        # idle 151/600
    "t-incomplete": (("0.5", t("10:09"), 1_000_000, True), "not_applicable"),
    "t-few": (("0.5", t("10:09"), 999_999, False), "not_applicable"),
}


def test_band_check_verdicts(con):
    snapshots, requests = [], []
    for i, (tier, ((spend, busy_until, tokens, gap), _)) in enumerate(BAND_CASES.items()):
        s, r = _band_resource(f"r{i}", tier, spend, busy_until, tokens, gap=gap)
        snapshots += s
        requests += r
    load(con, snapshots=snapshots, requests=requests)
    build(con, band_tiers=list(BAND_CASES))

    verdicts = {r["tier"]: r["verdict"] for r in rows(con, "marts.band_check")}
    assert verdicts == {tier: verdict for tier, (_, verdict) in BAND_CASES.items()}
    in_band = one(con, "marts.band_check", "tier = 't-in'")
    assert in_band == {
        "day": d(), "tier": "t-in", "usd_per_mtok": M("0.5"), "idle_fraction": M("0.1"),
        "completion_tokens": 1_000_000, "billing_complete": True, "verdict": "in_band",
    }
    assert one(con, "marts.band_check", "tier = 't-idle-edge'")["idle_fraction"] == M("0.25")
    assert one(con, "marts.band_check", "tier = 't-incomplete'")["billing_complete"] is False


def test_band_check_bounds_are_configurable_and_only_band_tiers_are_judged(con):
    s1, r1 = _band_resource("r1", TIER, "0.0005", t("10:09"), 1_000, gap=False)
    s2, r2 = _band_resource("r2", "other", "0.0005", t("10:09"), 1_000, gap=False)
    load(con, snapshots=s1 + s2, requests=r1 + r2)
    build(con)
    assert [(r["tier"], r["verdict"]) for r in rows(con, "marts.band_check")] == [(TIER, "not_applicable")]
    build(con, band_min_completion_tokens=1_000)
    assert one(con, "marts.band_check")["verdict"] == "in_band"     # 0.0005 / 1000 tokens = $0.50/Mtok
    build(con, band_min_completion_tokens=1_000, band_high_usd_per_mtok=M("0.49"))
    assert one(con, "marts.band_check")["verdict"] == "above_band"
    build(con, band_min_completion_tokens=1_000, band_max_idle_fraction=M("0.09"))
    assert one(con, "marts.band_check")["verdict"] == "not_applicable"


# --------------------------------------------------------------------------- cost_by_idle_fraction


def test_cost_by_idle_fraction_buckets_at_their_boundaries(con):
    # each resource runs (10:00, 10:10] = 600 s for 0.6; busy seconds set its idle fraction
    cases = {
        "i0": (600, "[0,.1)"),       # idle 0
        "i10": (540, "[.1,.25)"),    # idle exactly 0.1
        "i25": (450, "[.25,.5)"),    # idle exactly 0.25
        "i50": (300, "[.5,.75)"),    # idle exactly 0.5
        "i75": (150, "[.75,1]"),     # idle exactly 0.75
        "i100": (0, "[.75,1]"),      # idle 1
    }
    snapshots, requests = [], []
    for rid, (busy, _) in cases.items():
        snapshots += series(rid, [(t("10:00"), "0"), (t("10:05"), "0.3"), (t("10:10"), "0.6", "terminated")])
        if busy:
            requests.append(request(f"q-{rid}", t("10:00"), t("10:00").replace(minute=busy // 60, second=busy % 60),
                                    resource_id=rid, completion_tokens=busy))
    # a mostly parked hour: 300 s parked, then 60 s running (the terminated sample): idle 1
    snapshots += series("parked", [
        (t("12:00"), "0", "hibernated"),
        (t("12:05"), "0.001", "hibernated"),
        (t("12:06"), "0.002", "terminated"),
    ])
    load(con, snapshots=snapshots, requests=requests)
    build(con)

    for rid, (busy, _) in cases.items():
        assert hourly(con, rid)[t("10:00")]["idle_s"] == M(600 - busy)
    curve = {r["idle_bucket"]: r for r in rows(con, "marts.cost_by_idle_fraction")}
    # the parked resource's hour 12 has 60 s of running time (its terminated interval): idle 1
    assert {b: r["resource_hours"] for b, r in curve.items()} == {
        "[0,.1)": 1, "[.1,.25)": 1, "[.25,.5)": 1, "[.5,.75)": 1, "[.75,1]": 3,
    }
    assert curve["[.75,1]"]["spend"] == M("1.202")
    assert curve["[.75,1]"]["completion_tokens"] == 150
    assert curve["[.1,.25)"]["usd_per_mtok"] == M("1111.111111111")   # 0.6 / 540 * 1e6
    assert curve["[0,.1)"]["usd_per_mtok"] == M("1000")


def test_hours_without_running_time_stay_out_of_the_idle_curve(con):
    load(con, snapshots=series("p", [
        (t("10:00"), "0", "hibernated"),
        (t("10:05"), "0.001", "hibernated"),
        (t("10:10"), "0.002", "stopped"),
        (t("10:15"), "0.003", "hibernated"),
    ]))
    build(con)
    assert rows(con, "marts.cost_by_idle_fraction") == []


# --------------------------------------------------------------------------- rule 10


def test_currency_mix_is_an_error_naming_the_resources_and_leaves_the_marts_as_they_were(con):
    load(con, snapshots=series("usd-1", [(t("10:00"), "0"), (t("10:05"), "1", "terminated")]),
         requests=[request("q", t("10:01"), t("10:02"), resource_id="usd-1", completion_tokens=3)])
    build(con)
    before = {table: table_dump(con, table) for table in MARTS}
    assert before["marts.resource_hourly"]

    load(con, snapshots=series("eur-1", [(t("11:00"), "0"), (t("11:05"), "1", "terminated")], currency="EUR"))
    with pytest.raises(CurrencyMixError) as raised:
        build(con)
    message = str(raised.value)
    assert "usd-1" in message and "eur-1" in message
    assert "USD" in message and "EUR" in message
    assert {table: table_dump(con, table) for table in MARTS} == before
    # the connection is usable afterwards (the transaction was rolled back, not left open)
    assert con.execute("SELECT count(*) FROM marts.resource_hourly").fetchone()[0] == len(before["marts.resource_hourly"])


def test_configured_currency_rejects_a_single_other_currency(con):
    load(con, snapshots=series("eur-1", [(t("11:00"), "0"), (t("11:05"), "1", "terminated")], currency="EUR"))
    with pytest.raises(CurrencyMixError, match="eur-1"):
        build(con, currency="USD")
    build(con, currency="EUR")
    assert hourly(con, "eur-1")[t("11:00")]["spend"] == M(1)


def test_currency_of_a_resource_terminated_long_before_the_range_does_not_block_it(con):
    load(con, snapshots=series("old-eur", [(t("10:00", day=1), "0"), (t("10:01", day=1), "1", "terminated")],
                               currency="EUR")
         + series("usd-1", [(t("10:00"), "0"), (t("10:01"), "1", "terminated")]))
    build(con)
    assert hourly(con, "usd-1")[t("10:00")]["spend"] == M(1)


# --------------------------------------------------------------------------- idempotence


def test_rerunning_build_marts_for_the_same_range_gives_identical_tables(con):
    load(
        con,
        snapshots=series("r1", [(t("10:00"), "0"), (t("10:05"), "0.5"), (t("10:20"), "1.0"),
                                (t("10:21"), "0.01")])        # a gap, a reset, dark after
        + series("r2", [(t("23:58"), "0"), (t("23:59"), "0.1")])
        + [snapshot("r2", t("00:01", day=11), "0.2", "terminated")],
        requests=[request("q", t("10:01"), t("10:02"), completion_tokens=3),
                  request("u", t("10:01"), t("10:02"), resource_id=None, completion_tokens=4)],
        events=[event("r1", t("10:03"), "wake_requested"), event("r1", t("10:04"), "engine_ready")],
    )
    build(con, 10, 12)
    first = {table: table_dump(con, table) for table in MARTS}
    assert first["marts.resource_hourly"] and first["marts.observability_gaps"] and first["marts.billing_resets"]
    build(con, 10, 12)
    build(con, 10)
    build(con, 11)
    assert {table: table_dump(con, table) for table in MARTS} == first


def test_daily_idle_fraction_rounds_like_the_hourly_one_and_the_band_sees_the_exact_ratio(con):
    # runs 2000 s (10:00 .. 10:33:20), busy 1499.999999 s: idle 500.000001 / 2000 = 0.2500000005
    load(
        con,
        snapshots=series("r1", [
            (t("10:00"), "0"), (t("10:05"), "0.075"), (t("10:10"), "0.15"), (t("10:15"), "0.225"),
            (t("10:20"), "0.3"), (t("10:25"), "0.375"), (t("10:30"), "0.45"),
            (t("10:33:20"), "0.5", "terminated"),
        ]),
        requests=[request("q", t("10:00"), t("10:24:59.999999"), completion_tokens=1_000_000)],
    )
    build(con)
    assert hourly(con, "r1")[t("10:00")]["idle_fraction"] == M("0.250000001")
    assert daily(con)[(TIER, "*")]["idle_fraction"] == M("0.250000001")
    assert one(con, "marts.band_check")["verdict"] == "not_applicable"
