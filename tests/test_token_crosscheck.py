"""marts.token_crosscheck and its check (DESIGN.md "Token cross-check", "Cross-check arithmetic").

First the arithmetic on hand-made evaluations (what Prometheus returns per step); then the demo
fleet's first day end to end: its engines' counters backfilled into a real Prometheus (with a
replica restart), read by the adapter, beside logs that lost 5 % of one replica's rows in one hour.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import polars as pl
import pytest

from fixtures.fleet import default_week
from fixtures.rows import SourceRows
from fixtures.wires.openmetrics import Restart, drop_rows, engine_counters, instances, openmetrics, requests_before
from pipelines.accounting import DayRange, build_marts
from pipelines.adapters.base import Window
from pipelines.adapters.prometheus import PrometheusAdapter, PrometheusConfig
from pipelines.config import ResourceMapEntry
from pipelines.sources.resource_map import ResourceMap


def MapEntry(source, source_id, resource_id):  # noqa: N802 - reads like the entry it builds
    return ResourceMapEntry(source=source, source_id=source_id, resource_id=resource_id)
from pipelines.defs.checks.common import Scope
from pipelines.defs.checks.token_crosscheck import token_crosscheck_result
from pipelines.settings import AccountingSettings
from pipelines.sources.frames import PAYLOAD, PROBLEM_FIELD, PROBLEM_REASON, ROW
from pipelines.token_crosscheck import build_token_crosscheck, ensure_crosscheck_schema
from tests.builders import d, land_pages, rows, t, warehouse
from tests.servers.prometheus import prometheus_servers  # noqa: F401 - the session fixture

UTC = timezone.utc
SCOPE = Scope(t("00:00"), t("00:00", day=11), "2026-10-10")


# -- the arithmetic, by hand ----------------------------------------------------------------
@pytest.fixture
def con():
    con = warehouse(None)  # in memory
    ensure_crosscheck_schema(con)
    yield con
    con.close()


def counter(con, resource: str, points: list[tuple[str, int]], *, instance: str | None = None,
            series: str = 'engine="0",model_name="m1"') -> None:
    con.executemany(
        "INSERT INTO raw.engine_token_samples VALUES (?, ?, ?, ?, ?)",
        [(t(hms), resource, instance or f"{resource}:8000", series, value) for hms, value in points],
    )


def logged(con, resource: str, hms: str, tokens: int) -> None:
    """A marts.resource_hourly row holding only the tokens the logs hold for the hour."""
    con.execute(
        "INSERT INTO marts.resource_hourly VALUES (?, ?, 'h100-class', NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "
        "?, 0, 1, NULL, NULL, true, NULL)",
        [t(hms), resource, tokens],
    )


def crosscheck(con) -> dict[tuple[str, str], dict]:
    build_token_crosscheck(con, DayRange(d(10), d(11)))
    return {(r["resource_id"], r["hour"].strftime("%H:%M")): r for r in rows(con, "marts.token_crosscheck")}


def test_series_are_summed_per_resource_and_the_bound_is_strict(con):
    counter(con, "r1", [("10:00", 1000), ("10:30", 1200), ("11:00", 1500)])
    counter(con, "r1", [("10:00", 0), ("11:00", 300)], instance="r1:8001", series='engine="0",model_name="m2"')
    logged(con, "r1", "10:00", 792)  # 8 of 800 missing: exactly -1 %, not below it
    row = crosscheck(con)[("r1", "10:00")]
    assert (row["logged_tokens"], row["counted_tokens"], row["difference"]) == (792, 800, -8)
    assert row["difference_pct"] == Decimal("-1.000000000")
    assert (row["series_counted"], row["series_incomplete"], row["counter_resets"]) == (2, 0, 0)
    assert token_crosscheck_result(con, SCOPE).passed

    con.execute("UPDATE marts.resource_hourly SET completion_tokens = 791")  # 9 of 800: -1.125 %
    row = crosscheck(con)[("r1", "10:00")]
    assert row["difference_pct"] == Decimal("-1.125000000")
    result = token_crosscheck_result(con, SCOPE)
    assert not result.passed and result.severity.value == "WARN"
    assert result.metadata["over_bound"].value == ["r1 2026-10-10T10:00:00Z: logged 791 of 800 counted (-1.125 %)"]


def test_a_reset_counts_the_value_after_it(con):
    # fell inside the hour and ended below the hour's start: counts value(11:00)
    counter(con, "r2", [("10:00", 5000), ("10:30", 5200), ("10:31", 40), ("11:00", 300)])
    # fell, but ended above the hour's start: the pinned rule counts value(h+1) - value(h)
    counter(con, "r3", [("10:00", 100), ("10:20", 180), ("10:21", 0), ("11:00", 150)])
    logged(con, "r2", "10:00", 500)
    out = crosscheck(con)
    assert (out[("r2", "10:00")]["counted_tokens"], out[("r2", "10:00")]["difference"]) == (300, 200)
    assert out[("r2", "10:00")]["difference_pct"] == Decimal("66.666666667")
    assert out[("r3", "10:00")]["counted_tokens"] == 50
    assert out[("r2", "10:00")]["counter_resets"] == out[("r3", "10:00")]["counter_resets"] == 1


def test_a_fall_seen_on_the_boundary_belongs_to_the_hour_it_closes(con):
    counter(con, "r5", [("10:00", 900), ("10:59", 950), ("11:00", 20), ("12:00", 80)])
    out = crosscheck(con)
    assert (out[("r5", "10:00")]["counted_tokens"], out[("r5", "10:00")]["counter_resets"]) == (20, 1)
    assert (out[("r5", "11:00")]["counted_tokens"], out[("r5", "11:00")]["counter_resets"]) == (60, 0)


def test_no_value_within_five_minutes_of_an_end_leaves_the_hour_uncounted(con):
    # the series went stale: Prometheus's last evaluation is 10:54, none at 11:00
    counter(con, "r3", [("10:00", 10), ("10:54", 35)])
    counter(con, "r3", [("10:00", 0), ("11:00", 9)], instance="r3:8001", series='engine="0",model_name="m2"')
    logged(con, "r3", "10:00", 40)
    logged(con, "r3", "12:00", 7)  # logged, but no counter at all that hour
    out = crosscheck(con)
    row = out[("r3", "10:00")]
    assert (row["counted_tokens"], row["difference"], row["difference_pct"]) == (None, None, None)
    assert (row["series_counted"], row["series_incomplete"]) == (1, 1)
    row = out[("r3", "12:00")]
    assert (row["logged_tokens"], row["counted_tokens"], row["series_counted"], row["series_incomplete"]) == (7, None, 0, 0)
    assert token_crosscheck_result(con, SCOPE).passed  # unknown is not judged


def test_nothing_counted_has_no_percentage(con):
    counter(con, "r4", [("10:00", 70), ("11:00", 70)])
    logged(con, "r9", "10:00", 12)  # never scraped: not cross-checked at all
    out = crosscheck(con)
    row = out[("r4", "10:00")]
    assert (row["logged_tokens"], row["counted_tokens"], row["difference"], row["difference_pct"]) == (0, 0, 0, None)
    assert [key for key in out if key[0] == "r9"] == []


def test_a_rerun_replaces_the_range(con):
    counter(con, "r1", [("10:00", 0), ("11:00", 10)])
    crosscheck(con)
    con.execute("UPDATE raw.engine_token_samples SET value = 30 WHERE value = 10")
    # 11:00 holds the series' last value: with none at 12:00 that hour cannot be counted
    assert {hour: r["counted_tokens"] for (_, hour), r in crosscheck(con).items()} == {"10:00": 30, "11:00": None}


def test_unmapped_instances_are_counted_and_named(con):
    counter(con, "r1", [("10:00", 0), ("11:00", 10)])
    logged(con, "r1", "10:00", 10)
    con.executemany(
        "INSERT INTO quarantine.engine_token_samples VALUES ('prometheus', ?, ?, 'instance', ?, '{}', NULL)",
        [(d(10), n, f"unmapped_resource: instance x:9999 is not mapped at 2026-10-10T10:0{n}:00Z") for n in (1, 2)],
    )
    crosscheck(con)
    result = token_crosscheck_result(con, SCOPE)
    assert not result.passed
    assert result.metadata["description_detail"].value == (
        "1 unmapped counter instance(s): instance x:9999 is not mapped (2 samples)")
    assert result.description == ("WARN raw.engine_token_samples: 1 unmapped counter instance (instance x:9999 is "
                                  "not mapped (2 samples)) — see quarantine.engine_token_samples")
    assert result.metadata["unmapped_samples"].value == 2


def test_an_empty_scope_is_reported_not_failed(con):
    crosscheck(con)
    result = token_crosscheck_result(con, SCOPE)
    assert result.passed and result.metadata["description_detail"].value == (
        "no engine counter in scope: nothing to cross-check")


# -- the demo fleet's first day, end to end ---------------------------------------------------
DAY = date(2026, 10, 26)
WINDOW = Window.for_day(DAY, timedelta(minutes=15))
RESTART_AT = datetime(2026, 10, 26, 14, 20, 7, tzinfo=UTC)
LOST_HOUR = datetime(2026, 10, 26, 16, tzinfo=UTC)


def land_page(con, fleet, source: str, name: str) -> None:
    start_us, end_us = (int(x.timestamp() * 1_000_000) for x in WINDOW.bounds)
    held: SourceRows = fleet.source(source)
    text, _ = held.render(held.window(start_us, end_us), 0, len(held))
    land_pages(con, name, [b'{"data":[' + text + b'],"next_cursor":null}'], WINDOW)


def land_samples(con, frames: list[pl.DataFrame]) -> None:
    """Stand-in for landing: good rows into raw, rejected rows into quarantine."""
    frame = pl.concat(frames)
    good = frame.filter(pl.col(PROBLEM_FIELD).is_null()).select("at", "resource_id", "instance", "series", "value")
    bad = frame.filter(pl.col(PROBLEM_FIELD).is_not_null()).select(
        pl.lit("prometheus").alias("source"), pl.lit(DAY).alias("day"), pl.col(ROW).alias("row_number"),
        pl.col(PROBLEM_FIELD).alias("field"), pl.col(PROBLEM_REASON).alias("reason"),
        pl.col(PAYLOAD).alias("raw_payload"))
    for table, held in (("raw.engine_token_samples", good), ("quarantine.engine_token_samples", bad)):
        con.register("landing", held)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM landing")
        con.unregister("landing")


@pytest.fixture(scope="module")
def fleet_day(prometheus_servers, tmp_path_factory):  # noqa: F811
    fleet = default_week()
    requests = requests_before(fleet, WINDOW.end)
    engines = instances(requests)
    spot = sorted(r for r in engines["resource_id"].unique() if r.startswith("h100x2-spot"))
    restarted, lossy = spot[0], spot[1]
    counters = engine_counters(fleet, WINDOW.start - timedelta(minutes=10), WINDOW.end,
                               restarts=[Restart(restarted, RESTART_AT)], requests=requests)
    server = prometheus_servers(openmetrics(counters))
    logs, lost = drop_rows(fleet, lossy, LOST_HOUR, 0.05)

    con = warehouse(tmp_path_factory.mktemp("crosscheck"))
    for source, name in (("snapshots", "billing_snapshots"), ("requests", "requests"), ("events", "fleet_events")):
        land_page(con, logs, source, name)
    build_marts(con, DayRange(DAY, DAY + timedelta(days=1)), AccountingSettings())
    resource_map = ResourceMap(MapEntry("prometheus", i, r) for i, r in engines.select("instance", "resource_id").iter_rows())
    adapter = PrometheusAdapter(PrometheusConfig(adapter="prometheus", url=server.url), resource_map)
    ensure_crosscheck_schema(con)
    land_samples(con, list(adapter.read(WINDOW)))
    build_token_crosscheck(con, DayRange(DAY, DAY + timedelta(days=1)))
    yield {"con": con, "requests": requests, "lost": lost, "restarted": restarted, "lossy": lossy,
           "engines": engines, "read": adapter.last_read}
    con.close()


def tokens(requests: pl.DataFrame, resource: str, start: datetime, end: datetime) -> int:
    return requests.filter((pl.col("resource_id") == resource) & (pl.col("finished_at") >= start)
                           & (pl.col("finished_at") < end))["completion_tokens"].sum()


def test_the_check_flags_exactly_the_replica_hour_that_lost_rows(fleet_day):
    con, lossy, lost = fleet_day["con"], fleet_day["lossy"], fleet_day["lost"]
    scope = Scope(WINDOW.start + timedelta(minutes=15), WINDOW.end - timedelta(minutes=15), str(DAY))
    result = token_crosscheck_result(con, scope)
    counted = tokens(fleet_day["requests"], lossy, LOST_HOUR, LOST_HOUR + timedelta(hours=1))
    missing = lost["completion_tokens"].sum()
    assert lost.height == round(0.05 * fleet_day["requests"].filter(
        (pl.col("resource_id") == lossy) & (pl.col("finished_at") >= LOST_HOUR)
        & (pl.col("finished_at") < LOST_HOUR + timedelta(hours=1))).height)
    assert not result.passed
    pct = Decimal(-100 * missing) / counted
    assert result.metadata["over_bound"].value == [
        f"{lossy} 2026-10-26T16:00:00Z: logged {counted - missing:,} of {counted:,} counted ({pct:+.3f} %)"]
    row = rows(con, "marts.token_crosscheck", "resource_id = ? AND hour = ?", [lossy, LOST_HOUR])[0]
    assert (row["logged_tokens"], row["counted_tokens"], row["difference"]) == (counted - missing, counted, -missing)
    assert row["difference_pct"] == round(pct, 9)


def test_every_other_counted_hour_matches_the_logs_exactly(fleet_day):
    con = fleet_day["con"]
    counted = rows(con, "marts.token_crosscheck", "counted_tokens IS NOT NULL", order_by="hour, resource_id")
    others = [(r["resource_id"], r["hour"], r["difference"]) for r in counted
              if (r["resource_id"], r["hour"]) not in {(fleet_day["lossy"], LOST_HOUR),
                                                       (fleet_day["restarted"], RESTART_AT.replace(minute=0, second=0))}]
    # four always-on replicas x 23 hours, the on-demand one 08:00-19:00; see the test below
    assert len(others) == 4 * 23 + 12 - 2
    assert {difference for *_, difference in others} == {0}


def test_the_restart_hour_counts_only_what_came_after_it(fleet_day):
    con, restarted, requests = fleet_day["con"], fleet_day["restarted"], fleet_day["requests"]
    hour = RESTART_AT.replace(minute=0, second=0)
    row = rows(con, "marts.token_crosscheck", "resource_id = ? AND hour = ?", [restarted, hour])[0]
    after = tokens(requests, restarted, RESTART_AT, hour + timedelta(hours=1))
    before = tokens(requests, restarted, hour, RESTART_AT)
    assert (row["counted_tokens"], row["difference"], row["counter_resets"]) == (after, before, 2)
    assert row["difference"] > 0  # a reset never reads as lost logs


def test_hours_that_cannot_be_counted(fleet_day):
    con = fleet_day["con"]
    uncounted = {(r["resource_id"], r["hour"].hour) for r in
                 rows(con, "marts.token_crosscheck", "counted_tokens IS NULL")}
    ondemand = next(r for r in fleet_day["engines"]["resource_id"] if r.startswith("h100x1-od"))
    always_on = sorted(set(fleet_day["engines"]["resource_id"]) - {ondemand})
    # 00:00: every engine first answers a few minutes after the fleet goes live; the on-demand
    # replica launches at 06:50 (engine ready 07:00:01) and hibernates at 20:39: nothing to read
    # at 07:00 nor at 21:00, and no counter at all in between its nights
    assert uncounted == ({(r, 0) for r in always_on}
                         | {(ondemand, h) for h in (6, 7, 20, 21, 22, 23)})
