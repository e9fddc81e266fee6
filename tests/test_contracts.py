"""The data contracts (pipelines/contracts/): every expectation passes on clean data and fails on
the row planted to break it, with the exact count, under both engines (Great Expectations on a
pandas batch, and its DuckDB SQL twin), which must agree."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import duckdb
import pytest

from pipelines.sources.registry import create_raw_tables
from pipelines.accounting import ensure_schema
from pipelines.contracts import SUITES, CheckSettings, run_suite
from pipelines.defs.checks.common import Scope
from pipelines.defs.checks.contracts import contract_result

UTC = timezone.utc
DAY = datetime(2026, 10, 10, tzinfo=UTC)
SCOPE = (DAY, DAY + timedelta(days=1))
PERIOD = datetime(2026, 10, 1, tzinfo=UTC)
NEW_PERIOD = datetime(2026, 10, 10, 10, 3, tzinfo=UTC)
ENGINES = ("gx", "sql")


def at(hh: int, mm: int, day: datetime = DAY) -> datetime:
    return day + timedelta(hours=hh, minutes=mm)


def snapshot(resource, when, cum, *, state="running", period=PERIOD, currency="USD"):
    return (when, resource, "h100-class", "H100-SXM-80GB", 1, "spot", state, Decimal("1.2"),
            Decimal(cum), period, currency)


def clean_rows() -> dict[str, list[tuple]]:
    snapshots = [snapshot("r1", at(10, m), f"{5 + m / 100:.2f}") for m in range(6)]
    # r2 starts a new billing period at 10:03: its cumulative falls, which is a reset, not a fall.
    snapshots += [snapshot("r2", at(10, m), f"{9 + m / 100:.2f}") for m in range(3)]
    snapshots += [snapshot("r2", at(10, m), f"{(m - 2) / 100:.2f}", period=NEW_PERIOD) for m in range(3, 6)]
    requests = [
        (f"q{i}", at(10, i), None, at(10, i + 1), "m1", "h100-class", "r1", 200, None, 10, 100 + i, 0, None)
        for i in range(5)
    ]
    events = [(at(9, 50), "r1", "h100-class", "wake_requested"), (at(9, 55), "r1", "h100-class", "engine_ready")]
    hourly = [
        (at(h, 0), "r1", "h100-class", "H100-SXM-80GB", "spot", Decimal("3600"), Decimal("1000"), Decimal("2500"),
         Decimal("100"), Decimal("0"), Decimal("1.2"), Decimal("0.3"), Decimal("0.8"), Decimal("0.1"), Decimal("0"),
         5000, 100, 10, Decimal("0.694444444"), Decimal("1.5"), True, 60)
        for h in range(3)
    ]
    daily = [
        (DAY.date(), "h100-class", "m1", Decimal("3.6"), 15000, 300, 30, Decimal("240"), Decimal("0.69"), True),
        (DAY.date(), "h100-class", "*", Decimal("3.6"), 15000, 300, 30, Decimal("240"), Decimal("0.69"), True),
        (DAY.date(), "h100-class", "__unallocated__", Decimal("0"), 0, 0, 0, None, None, True),
    ]
    gaps = [
        ("r1", at(11, 0), at(11, 10), Decimal("600")),
        ("r2", at(23, 0), None, None),  # still open
    ]
    return {
        "raw.billing_snapshots": snapshots, "raw.requests": requests, "raw.fleet_events": events,
        "marts.resource_hourly": hourly, "marts.cost_per_mtok_daily": daily, "marts.observability_gaps": gaps,
    }


@pytest.fixture
def con():
    con = duckdb.connect(":memory:")
    ensure_schema(con)
    create_raw_tables(con)
    for table, rows in clean_rows().items():
        # Drop NOT NULL and keys, so that the rows the contracts must catch can be planted.
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table} LIMIT 0")
        con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    con.execute("ALTER TABLE marts.cost_per_mtok_daily ALTER usd_per_mtok TYPE DOUBLE")  # to plant inf
    yield con
    con.close()


def outcome(con, key, engine, settings=None, scope=SCOPE):
    settings = settings or CheckSettings()
    return run_suite(con, SUITES[key](settings), scope, engine=engine, examples=settings.examples)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("key", list(SUITES))
def test_every_expectation_passes_on_clean_data(con, key, engine):
    result = outcome(con, key, engine)
    assert result.passed, [(o.rule, o.unexpected, o.observed, o.examples) for o in result.failed]
    assert all(o.checked_rows > 0 for o in result.outcomes if o.unexpected is not None), key


SNAP = ("raw", "billing_snapshots")
REQ = ("raw", "requests")
EVT = ("raw", "fleet_events")
HOUR = ("marts", "resource_hourly")
DAILY = ("marts", "cost_per_mtok_daily")
GAPS = ("marts", "observability_gaps")

# (table, planting SQL, {failed expectation: unexpected count (None: batch-level)}, example column, value)
PLANTED = {
    "snapshot resource_id missing": (
        SNAP, "UPDATE raw.billing_snapshots SET resource_id = NULL WHERE resource_id = 'r1' AND sampled_at = '2026-10-10 10:05+00'",
        {"resource_id present": 1}, "sampled_at", "2026-10-10T10:05:00+00:00"),
    "snapshot resource_id empty": (
        SNAP, "UPDATE raw.billing_snapshots SET resource_id = '' WHERE resource_id = 'r1' AND sampled_at = '2026-10-10 10:05+00'",
        {"resource_id not empty": 1}, "resource_id", ""),
    "snapshot negative cumulative": (
        SNAP, "UPDATE raw.billing_snapshots SET cumulative_cost = -1 WHERE resource_id = 'r2' AND sampled_at = '2026-10-10 10:00+00'",
        {"cumulative_cost >= 0": 1}, "cumulative_cost", "-1.000000000"),
    "snapshot unknown state": (
        SNAP, "UPDATE raw.billing_snapshots SET state = 'exploded' WHERE resource_id = 'r1' AND sampled_at = '2026-10-10 10:02+00'",
        {"state is a known state": 1}, "state", "exploded"),
    "snapshot second currency": (
        SNAP, "UPDATE raw.billing_snapshots SET currency = 'EUR' WHERE resource_id = 'r2'",
        {"one currency": None}, "currency", "EUR"),
    "snapshot duplicate key": (
        SNAP, "INSERT INTO raw.billing_snapshots SELECT * FROM raw.billing_snapshots WHERE resource_id = 'r1' AND sampled_at = '2026-10-10 10:01+00'",
        {"one sample per (resource_id, sampled_at)": 2}, "resource_id", "r1"),
    "snapshot before its billing period": (
        SNAP, "UPDATE raw.billing_snapshots SET billing_period_start = '2026-10-11 00:00+00' WHERE resource_id = 'r1' AND sampled_at = '2026-10-10 10:00+00'",
        {"sampled_at >= billing_period_start": 1}, "resource_id", "r1"),
    "cumulative falls within a period": (
        SNAP, "UPDATE raw.billing_snapshots SET cumulative_cost = 4 WHERE resource_id = 'r1' AND sampled_at = '2026-10-10 10:03+00'",
        {"cumulative bill never falls within a billing period": 1}, "sampled_at", "2026-10-10T10:03:00+00:00"),
    "request_id missing": (
        REQ, "UPDATE raw.requests SET request_id = NULL WHERE request_id = 'q3'", {"request_id present": 1},
        "completion_tokens", 103),
    "request_id empty": (
        REQ, "UPDATE raw.requests SET request_id = '' WHERE request_id = 'q3'", {"request_id not empty": 1},
        "request_id", ""),
    "request_id repeated after dedupe": (
        REQ, "UPDATE raw.requests SET request_id = 'q1' WHERE request_id = 'q2'",
        {"request_id unique after dedupe": 2}, "request_id", "q1"),
    "negative completion tokens": (
        REQ, "UPDATE raw.requests SET completion_tokens = -5 WHERE request_id = 'q4'", {"completion_tokens >= 0": 1},
        "request_id", "q4"),
    "negative prompt tokens": (
        REQ, "UPDATE raw.requests SET prompt_tokens = -1 WHERE request_id = 'q0'", {"prompt_tokens >= 0": 1},
        "request_id", "q0"),
    "finished before received": (
        REQ, "UPDATE raw.requests SET finished_at = received_at - INTERVAL 1 SECOND WHERE request_id = 'q2'",
        {"finished_at >= received_at": 1}, "request_id", "q2"),
    "status not HTTP": (
        REQ, "UPDATE raw.requests SET status = 700 WHERE request_id = 'q1'", {"status is an HTTP status": 1},
        "request_id", "q1"),
    "event resource missing": (
        EVT, "UPDATE raw.fleet_events SET resource_id = NULL WHERE event = 'engine_ready'", {"resource_id present": 1},
        "event", "engine_ready"),
    "unknown event": (
        EVT, "UPDATE raw.fleet_events SET event = 'exploded' WHERE event = 'engine_ready'",
        {"event is a known event": 1}, "event", "exploded"),
    "duplicate event": (
        EVT, "INSERT INTO raw.fleet_events SELECT * FROM raw.fleet_events WHERE event = 'engine_ready'",
        {"one event per (resource_id, at, event)": 2}, "event", "engine_ready"),
    "busy + idle + waking != running": (
        HOUR, "UPDATE marts.resource_hourly SET busy_s = busy_s + 0.000001 WHERE hour = '2026-10-10 01:00+00'",
        {"busy + idle + waking = running": 1}, "hour", "2026-10-10T01:00:00+00:00"),
    "spend parts != spend": (
        HOUR, "UPDATE marts.resource_hourly SET spend_idle = spend_idle + 0.000000001 WHERE hour = '2026-10-10 02:00+00'",
        {"spend parts = spend": 1}, "hour", "2026-10-10T02:00:00+00:00"),
    "idle fraction above 1": (
        HOUR, "UPDATE marts.resource_hourly SET idle_fraction = 1.5 WHERE hour = '2026-10-10 00:00+00'",
        {"idle_fraction in [0, 1]": 1}, "hour", "2026-10-10T00:00:00+00:00"),
    "resource-hour repeated": (
        HOUR, "INSERT INTO marts.resource_hourly SELECT * FROM marts.resource_hourly WHERE hour = '2026-10-10 00:00+00'",
        {"one row per (hour, resource_id)": 2}, "resource_id", "r1"),
    "usd_per_mtok null with tokens": (
        DAILY, "UPDATE marts.cost_per_mtok_daily SET usd_per_mtok = NULL WHERE model = 'm1'",
        {"usd_per_mtok present where completion tokens > 0": 1}, "model", "m1"),
    "usd_per_mtok infinite": (
        DAILY, "UPDATE marts.cost_per_mtok_daily SET usd_per_mtok = 'inf'::DOUBLE WHERE model = 'm1'",
        {"usd_per_mtok finite and >= 0 where completion tokens > 0": 1}, "model", "m1"),
    "usd_per_mtok without tokens": (
        DAILY, "UPDATE marts.cost_per_mtok_daily SET usd_per_mtok = 1 WHERE model = '__unallocated__'",
        {"usd_per_mtok null where completion tokens = 0": 1}, "model", "__unallocated__"),
    "negative spend": (
        DAILY, "UPDATE marts.cost_per_mtok_daily SET spend = -1 WHERE model = '*'", {"spend >= 0": 1}, "model", "*"),
    "gap length wrong": (
        GAPS, "UPDATE marts.observability_gaps SET seconds = 700 WHERE resource_id = 'r1'",
        {"seconds = gap_end - gap_start": 1}, "resource_id", "r1"),
    "open stretch with a length": (
        GAPS, "UPDATE marts.observability_gaps SET seconds = 60 WHERE resource_id = 'r2'",
        {"seconds null while the stretch is open": 1}, "resource_id", "r2"),
    "gap ends before it starts": (
        GAPS, "UPDATE marts.observability_gaps SET gap_end = gap_start - INTERVAL 10 MINUTE, seconds = -600 "
        "WHERE resource_id = 'r1'",
        {"gap_end >= gap_start": 1, "seconds > 0": 1}, "resource_id", "r1"),
}


@pytest.mark.parametrize("case", list(PLANTED))
def test_each_expectation_fails_on_its_planted_row_under_both_engines(con, case):
    key, plant, expected, column, value = PLANTED[case]
    con.execute(plant)
    seen = {}
    for engine in ENGINES:
        result = outcome(con, key, engine)
        failed = {o.rule: o.unexpected for o in result.failed}
        assert failed == expected, (engine, [(o.rule, o.unexpected, o.examples) for o in result.failed])
        first = next(o for o in result.failed if o.rule == next(iter(expected)))
        assert first.examples, engine
        assert first.examples[0][column] == value, (engine, first.examples)
        seen[engine] = [(o.rule, o.passed, o.unexpected, o.checked_rows) for o in result.outcomes]
    assert seen["gx"] == seen["sql"]


@pytest.mark.parametrize("case", list(PLANTED))
def test_each_planted_failure_has_a_query_that_lists_exactly_its_rows(con, case):
    """The check's published query (pipelines/contracts/explain.py), run as written: one row per
    unexpected row of each broken expectation (per value seen, for a batch-level one)."""
    key, plant, expected, column, value = PLANTED[case]
    con.execute(plant)
    result = contract_result(con, key, Scope(*SCOPE, "2026-10-10"), CheckSettings())
    meta = {k: v.value for k, v in result.metadata.items()}
    listed = con.sql(meta["query"]).pl()
    assert listed["expectation"].value_counts(sort=True).rows() == sorted(
        ((rule, 2 if n is None else n) for rule, n in expected.items()), key=lambda r: -r[1])  # 2: USD and EUR
    assert meta["failing_rows"] == listed.height
    assert str(value) in {v.isoformat() if hasattr(v, "isoformat") else str(v) for v in listed[column].to_list()}
    assert len(result.description.splitlines()) == len(expected)


def test_a_second_currency_names_both_with_their_row_counts(con):
    con.execute("UPDATE raw.billing_snapshots SET currency = 'EUR' WHERE resource_id = 'r2'")
    for engine in ENGINES:
        (failure,) = outcome(con, SNAP, engine).failed
        assert failure.observed == 2
        assert failure.examples == [{"currency": "EUR", "rows": 6}, {"currency": "USD", "rows": 6}]


def test_a_configured_currency_is_the_only_one_accepted(con):
    settings = CheckSettings(currency="EUR")
    for engine in ENGINES:
        failed = {o.rule: o.unexpected for o in outcome(con, SNAP, engine, settings).failed}
        assert failed == {"currency is EUR": 12}


def test_many_falls_in_a_resource_day_are_an_error_a_single_fall_a_warning(con):
    con.execute("UPDATE raw.billing_snapshots SET cumulative_cost = 4 WHERE resource_id = 'r1' AND sampled_at = '2026-10-10 10:03+00'")
    assert outcome(con, SNAP, "gx").severity == "WARN"
    # r3 falls four times in one day: 1, 0.5, 1, 0.5, ... within one billing period.
    con.executemany(
        "INSERT INTO raw.billing_snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [snapshot("r3", at(12, m), "1" if m % 2 == 0 else "0.5") for m in range(9)],
    )
    for engine in ENGINES:
        result = outcome(con, SNAP, engine)
        failed = {o.rule: o.unexpected for o in result.failed}
        assert failed == {
            "cumulative bill never falls within a billing period": 5,
            "at most 3 falls of the cumulative bill per resource-day": 1,
        }
        assert result.severity == "ERROR"
        day_rule = next(o for o in result.failed if o.batch == "resource_days")
        assert [(e["resource_id"], e["day"], e["falls"], e["samples"]) for e in day_rule.examples] == [
            ("r3", "2026-10-10", 4, 9)
        ]
    # The bound is configurable: four falls are allowed at 4.
    assert {o.rule for o in outcome(con, SNAP, "sql", CheckSettings(max_falls_per_resource_day=4)).failed} == {
        "cumulative bill never falls within a billing period"
    }


def test_a_fall_across_midnight_is_seen_from_the_sample_before_the_scope(con):
    con.execute("INSERT INTO raw.billing_snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                list(snapshot("r1", DAY - timedelta(minutes=1), "7")))
    con.execute("UPDATE raw.billing_snapshots SET sampled_at = '2026-10-10 00:00:30+00' "
                "WHERE resource_id = 'r1' AND sampled_at = '2026-10-10 10:00+00'")
    for engine in ENGINES:
        (fall,) = outcome(con, SNAP, engine).failed
        assert (fall.rule, fall.unexpected, fall.examples[0]["sampled_at"]) == (
            "cumulative bill never falls within a billing period", 1, "2026-10-10T00:00:30+00:00")


def test_rows_outside_the_scope_are_not_judged(con):
    con.execute("INSERT INTO raw.requests SELECT 'late', received_at + INTERVAL 1 DAY, NULL, "
                "finished_at + INTERVAL 1 DAY, model, tier, resource_id, status, error, -1, -1, 0, NULL "
                "FROM raw.requests WHERE request_id = 'q0'")
    for engine in ENGINES:
        assert outcome(con, REQ, engine).passed
        whole = outcome(con, REQ, engine, scope=(datetime(1900, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)))
        assert {o.rule: o.unexpected for o in whole.failed} == {"prompt_tokens >= 0": 1, "completion_tokens >= 0": 1}


def test_the_size_threshold_picks_the_sql_twin(con):
    small = run_suite(con, SUITES[REQ](CheckSettings()), SCOPE, max_pandas_rows=5)
    large = run_suite(con, SUITES[REQ](CheckSettings()), SCOPE, max_pandas_rows=4)
    assert small.engine["requests"].startswith("great_expectations ")
    assert large.engine == {"requests": "duckdb sql (5 rows > max_pandas_rows 4)"}


def test_the_check_result_shows_what_failed_with_counts_and_examples(con):
    con.execute("UPDATE raw.requests SET completion_tokens = -5 WHERE request_id IN ('q3', 'q4')")
    result = contract_result(con, REQ, Scope(*SCOPE, "2026-10-10 to 2026-10-11"), CheckSettings())
    assert (result.passed, result.severity.value, result.check_name) == (False, "ERROR", "contract")
    meta = {k: v.value for k, v in result.metadata.items()}
    assert meta["failed_expectations"] == 1
    assert meta["unexpected_by_expectation"] == {"completion_tokens >= 0": 2}
    assert meta["rows_checked"] == {"requests": 5}
    assert "| ERROR | requests | completion_tokens >= 0 | 2 | 5 |" in meta["failures"]
    assert "| q3 |" in meta["examples_by_expectation"] and "| q4 |" in meta["examples_by_expectation"]
    assert [e["key"] for e in meta["examples"]] == [{"request_id": "q3"}, {"request_id": "q4"}]
    assert meta["failing_rows"] == 2
    assert result.description == (
        "ERROR raw.requests: completion_tokens >= 0 fails on 2 requests (q3) — see raw.requests")


def test_gx_is_imported_only_when_a_check_runs_and_stays_quiet(tmp_path):
    script = textwrap.dedent(f"""
        import logging, sys, duckdb
        from pipelines.definitions import defs
        defs()
        assert "great_expectations" not in sys.modules, "GX imported at load time"
        logging.basicConfig(level=logging.INFO)  # any INFO line of GX would reach stderr
        from pipelines.accounting import ensure_schema
        from pipelines.contracts import SUITES, CheckSettings, run_suite
        con = duckdb.connect()
        ensure_schema(con)
        con.execute("INSERT INTO marts.resource_hourly (hour, resource_id, tier, running_s, busy_s, idle_s, "
                    "waking_s, parked_s, spend, spend_serving, spend_idle, spend_waking, spend_parked, "
                    "completion_tokens, prompt_tokens, requests, billing_complete) VALUES "
                    "('2026-10-10 00:00+00', 'r1', 't', 3600, 1, 3599, 0, 0, 1, 0.5, 0.5, 0, 0, 1, 1, 1, true)")
        result = run_suite(con, SUITES[("marts", "resource_hourly")](CheckSettings()), engine="gx")
        assert result.passed and "great_expectations" in sys.modules
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert done.stderr == ""  # no progress bars, no INFO lines
