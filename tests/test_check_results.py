"""Every failed check explained (pipelines/findings.py): in the command line's lines, in the asset
check's metadata (what the Dagster UI shows) and in `marts.check_results` of the published file,
with exact failing rows, examples, and a query that lists exactly those rows.

A two-day fleet written by hand, with one failure of each kind, goes through the real pipeline:
- gpu-h1 (h100-class) is billed $0.10 a minute and busy all day with 1,000-token requests, so both
  days are judged against the band (its token floor set to 1,000) and are far above it; its
  cumulative bill falls 4 times on 2026-10-12 (a warning each, and over the 3 a resource-day allows);
- gpu-a1 (a100-class) has no sample between 12:00 and 12:20 on 2026-10-13: a 20-minute gap, and
  1.39 % of the tier-day dark;
- one of the first day's three fleet events is not a known event: quarantined, 33 % of the source;
- no invoice is issued for October, so every resource is not_invoiced.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from fixtures.rows import Fleet
from fixtures.server import FixtureServer
from tests.conftest import TOKEN
from tests.hand_fleet import UTC, event, minutes, request, sample

D, E = date(2026, 10, 12), date(2026, 10, 13)
START = datetime(2026, 10, 12, tzinfo=UTC)
FALLS = [START + timedelta(hours=h) for h in (6, 9, 12, 15)]
GAP = (START + timedelta(days=1, hours=12), START + timedelta(days=1, hours=12, minutes=20))


def fleet() -> Fleet:
    span = minutes(START - timedelta(minutes=10), START + timedelta(days=2, minutes=10))
    h1, base = [], -1
    for k, at in enumerate(span):
        if at in FALLS:
            base = k - 1  # the cumulative starts again from $0.10
        h1.append(sample("gpu-h1", at, Decimal("0.1") * (k - base)))
    a1 = [sample("gpu-a1", at, Decimal("0.05") * k, tier="a100-class")
          for k, at in enumerate(span) if not GAP[0] < at < GAP[1]]
    requests = [request(f"q{i}", START + timedelta(minutes=10 * i), START + timedelta(minutes=10 * (i + 1)))
                for i in range(288)]
    events = [event("gpu-h1", START, "launched"), event("gpu-a1", START, "launched", tier="a100-class"),
              event("gpu-h1", START + timedelta(hours=8), "exploded")]
    return Fleet.from_rows(h1 + a1, requests, events)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from pipelines.config import load_config
    from pipelines.runner import run_days

    folder = tmp_path_factory.mktemp("check_results")
    config = folder / "invoice-true.toml"
    config.write_text("[accounting]\nband_min_completion_tokens = 1000\n")
    published = folder / "out" / "invoice_true.duckdb"
    with pytest.MonkeyPatch.context() as mp, FixtureServer(fleet(), token=TOKEN) as server:
        for name, value in {
            "BILLING_API_URL": server.url, "GATEWAY_API_URL": server.url, "BILLING_API_TOKEN": TOKEN,
            "GATEWAY_API_TOKEN": TOKEN, "WAREHOUSE_PATH": str(published), "INVOICE_TRUE_CONFIG": str(config),
            "DAGSTER_HOME": str(folder / "dagster_home"),  # the run's evaluations are kept, as the UI reads them
        }.items():
            mp.setenv(name, value)
        load_config.cache_clear()
        outcome = run_days(D, E + timedelta(days=1))
        load_config.cache_clear()
        with duckdb.connect(str(published), read_only=True) as con:
            (run_id,) = con.execute("SELECT run_id FROM marts.runs WHERE job = 'invoice_true_daily'").fetchall()[0]
        with dg.DagsterInstance.get() as instance:
            records = instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=1000).records
            evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in records]
    return outcome, published, run_id, evaluations


def query(path, sql: str, params=None) -> list[dict]:
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        cursor = con.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def result_row(run, asset: str, check: str) -> dict:
    """The check's one row (the daily run's, or the reconciliation's run's)."""
    (row,) = query(run[1], "SELECT * FROM marts.check_results WHERE asset = ? AND check_name = ?", [asset, check])
    return row


def test_the_command_line_says_what_failed_how_often_where_and_where_to_look(run):
    outcome = run[0]
    assert outcome.exit_code == 2
    assert sorted(outcome.lines) == sorted([
        "WARN raw.billing_snapshots: cumulative fell 4 times on 1 resource (gpu-h1 at 2026-10-12 06:00) "
        "— see marts.billing_resets",
        "ERROR raw.billing_snapshots: at most 3 falls of the cumulative bill per resource-day fails on 1 resource-day "
        "(gpu-h1 on 2026-10-12) — see marts.billing_resets",
        "ERROR raw.fleet_events: 1 of 3 rows quarantined (33.33%; bound 1.00%), most for event: Input should be "
        "'launched', 'wake_requested', 'engine_ready', 'hibernated', 'spot_interrupted' or 'terminated' (1) "
        "— see quarantine.fleet_events",
        "ERROR marts.observability_gaps: billing dark beyond the bound: 1 gap longer than 15 min and 1 tier-day dark "
        "over 1.00% of running time (gpu-a1 (a100-class) dark from 2026-10-13T12:00:00Z to 2026-10-13T12:20:00Z: "
        "20.0 min) — see marts.observability_gaps",
        # $144 over 143 requests of 1,000 tokens (the 144th finishes at midnight, on the next day)
        "WARN marts.band_check: 2 tier-days outside $0.30-$0.70/Mtok: 2 above (h100-class on 2026-10-12 at "
        "$1006.993/Mtok, idle 0.0%) — see marts.band_check",
        "no invoice for 2026-10 from the billing API: not reconciled",
    ])


FALL = "cumulative bill never falls within a billing period"
PER_DAY = "at most 3 falls of the cumulative bill per resource-day"
# (asset, check) -> severity, failing rows, the examples' keys, the key columns of the query's rows and their values
FAILING = {
    ("raw.billing_snapshots", "contract"): (
        "ERROR", 5,
        [{"resource_id": "gpu-h1", "sampled_at": "2026-10-12T06:00:00Z"},
         {"resource_id": "gpu-h1", "day": "2026-10-12"},
         {"resource_id": "gpu-h1", "sampled_at": "2026-10-12T09:00:00Z"}],
        ("expectation", "sampled_at", "day"),
        sorted([(FALL, at, None) for at in FALLS] + [(PER_DAY, None, D)], key=str),
    ),
    ("raw.fleet_events", "quarantine_share"): (
        "ERROR", 1, [{"day": "2026-10-12", "row_number": 3}], ("field", "row_number"), [("event", 3)],
    ),
    ("marts.observability_gaps", "dark_billing"): (
        "ERROR", 2,
        [{"resource_id": "gpu-a1", "gap_start": "2026-10-13T12:00:00Z"}, {"tier": "a100-class", "day": "2026-10-13"}],
        ("kind", "resource_id", "gap_end", "day", "tier"),
        [("gap", "gpu-a1", GAP[1], None, "a100-class"), ("tier_day", None, None, E, "a100-class")],
    ),
    ("marts.band_check", "band"): (
        "WARN", 2, [{"tier": "h100-class", "day": "2026-10-12"}, {"tier": "h100-class", "day": "2026-10-13"}],
        ("day", "verdict", "usd_per_mtok"),
        [(D, "above_band", Decimal("1006.993006993")), (E, "above_band", Decimal("1000.000000000"))],
    ),
    ("marts.invoice_reconciliation", "reconciliation"): (
        "ERROR", 2, [{"period": "2026-10", "resource_id": "gpu-a1"}, {"period": "2026-10", "resource_id": "gpu-h1"}],
        ("resource_id", "status"), [("gpu-a1", "not_invoiced"), ("gpu-h1", "not_invoiced")],
    ),
}


@pytest.mark.parametrize(("asset", "check"), list(FAILING))
def test_a_failed_check_has_its_row_and_its_query_lists_exactly_the_failing_rows(run, asset, check):
    severity, failing, keys, columns, listed = FAILING[(asset, check)]
    row = result_row(run, asset, check)
    assert (row["severity"], row["passed"], row["failing_rows"]) == (severity, False, failing)
    assert [e["key"] for e in json.loads(row["examples"])] == keys
    found = query(run[1], row["query"])  # as written, on the published file
    assert len(found) == failing
    got = [tuple(r.get(c) for c in columns) for r in found]
    got = [tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in t) for t in got]
    assert sorted(got, key=str) == sorted(listed, key=str)


def test_the_expectation_is_in_words_and_the_finding_is_the_line(run):
    row = result_row(run, "raw.billing_snapshots", "contract")
    assert row["expectation"] == f"{FALL}; {PER_DAY}"
    assert row["finding"].splitlines() == [line for line in run[0].lines if "raw.billing_snapshots" in line]
    (first, *_) = json.loads(row["examples"])
    # the 370 minutes from 10-11 23:50 to 06:00 bill $37.00; at 06:00 the cumulative is $0.10 again
    assert first == {"expectation": FALL, "key": {"resource_id": "gpu-h1", "sampled_at": "2026-10-12T06:00:00Z"},
                     "values": {"cumulative_change": "-36.900000000", "state": "running",
                                "cumulative_cost": "0.100000000", "billing_period_start": "2026-10-01T00:00:00Z"}}


def test_passed_checks_have_rows_too(run):
    _, published, run_id, _ = run
    passed = query(published, "SELECT asset, check_name, failing_rows, finding, examples FROM marts.check_results "
                              "WHERE run_id = ? AND passed ORDER BY asset, check_name", [run_id])
    assert [(r["asset"], r["check_name"]) for r in passed] == [
        ("marts.cost_per_mtok_daily", "contract"), ("marts.observability_gaps", "contract"),
        ("marts.resource_hourly", "conservation"), ("marts.resource_hourly", "contract"),
        ("marts.token_crosscheck", "token_crosscheck"), ("raw.billing_snapshots", "quarantine_share"), ("raw.cost_rows", "quarantine_share"),
        ("raw.fleet_events", "contract"),
        ("raw.requests", "contract"), ("raw.requests", "quarantine_share"),
    ]
    assert {(r["failing_rows"], r["finding"], r["examples"]) for r in passed} == {(0, None, "[]")}


def test_the_dagster_ui_shows_the_same_finding_as_the_published_row(run):
    _, published, run_id, evaluations = run
    assert len(evaluations) == 14  # the daily run's checks; the reconciliation ran in a run of its own
    for evaluation in evaluations:
        meta = {k: v.value for k, v in evaluation.metadata.items()}
        row = result_row(run, ".".join(evaluation.asset_key.path), evaluation.check_name)
        assert (meta["expectation"], meta["failing_rows"], meta["query"] or None) == (
            row["expectation"], row["failing_rows"], row["query"])
        assert meta["examples"] == json.loads(row["examples"])
        assert evaluation.description == (row["finding"] or f"passed: {row['expectation']}")


def test_the_run_is_in_marts_runs_with_how_it_ended(run):
    _, published, run_id, _ = run
    (row,) = query(published, "SELECT * FROM marts.runs WHERE run_id = ?", [run_id])
    assert (row["job"], row["first_day"], row["last_day"]) == ("invoice_true_daily", D, E)
    assert (row["checks"], row["failed_checks"], row["exit_code"], row["failure"]) == (14, 4, 2, None)
    assert row["started_at"] <= row["published_at"] <= row["finished_at"]


def test_status_tells_the_run_from_the_published_file(run):
    from pipelines.status import status_report

    outcome, published, run_id, _ = run
    report = status_report(published, E)
    assert report.exit_code == 2
    shown = [line.strip() for line in report.lines if line.strip().startswith(("ERROR ", "WARN "))]
    # the reconciliation run ended clean (no invoice is not a mismatch), so only the daily run's findings show
    assert sorted(shown) == sorted(line for line in outcome.lines if line.startswith(("ERROR ", "WARN ")))
    assert report.lines[-4:-1] == [
        "incomplete  1 day with incomplete billing: 2026-10-13 (1 resource-hour: gpu-a1)",
        "dark        no open dark stretch",
        "quarantine  fleet_events        1  event: Input should be 'launched', 'wake_requested', 'engine_ready', "
        "'hibernated', 'spot_interrupted' or 'terminated'",
    ]


# -- conservation cannot fail in a real run: break a mart by hand --------------------------------
def test_a_broken_conservation_identity_is_listed_by_its_query():
    from pipelines.accounting import DayRange
    from pipelines.defs.accounting.assets import conservation_result
    from tests.builders import build, d, load, series, t, warehouse

    con = warehouse(None)
    load(con, snapshots=series("r1", [(t("10:00"), "0"), (t("10:30"), "3"), (t("11:00"), "6")]))
    build(con, 10)
    assert conservation_result(con, DayRange(d(10), d(11))).passed
    con.execute("UPDATE marts.resource_hourly SET spend_idle = spend_idle + 1 WHERE hour = ?", [t("10:00")])
    result = conservation_result(con, DayRange(d(10), d(11)))
    meta = {k: getattr(v, "value", v) for k, v in result.metadata.items()}
    assert (result.passed, meta["failing_rows"]) == (False, 1)
    (broken,) = con.execute(meta["query"]).fetchall()
    assert broken[0].startswith("spend parts = spend, r1 2026-10-10 10:00:00")
    assert meta["examples"] == [
        {"key": {"identity": broken[0]}, "values": {"expected": broken[1], "actual": broken[2]}}]
    assert result.description == (f"ERROR marts.resource_hourly: conservation broken in 1 identity ({broken[0]}: "
                                  f"expected {broken[1]}, got {broken[2]}) — see marts.resource_hourly")


def test_a_blocking_check_that_fails_is_the_one_line_reason(monkeypatch, tmp_path):
    """Conservation cannot fail on real data: make its result fail, and see the run stop with it."""
    from fixtures.rows import Fleet as Rows
    from pipelines.defs.accounting import assets
    from pipelines.findings import Finding
    from pipelines.runner import run_days
    from tests.conftest import DATA, point_at

    said = "ERROR marts.resource_hourly: conservation broken in 1 identity (as planted) — see marts.resource_hourly"
    planted = Finding("marts.resource_hourly", "conservation", "ERROR", False, "as planted", 1, lines=(said,))
    monkeypatch.setattr(assets, "conservation_result", lambda con, days: planted.check_result())
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with FixtureServer(Rows.from_json_dir(DATA / "tiny_fleet" / "input"), token=TOKEN) as server:
        point_at(monkeypatch, server.url, tmp_path / "invoice_true.duckdb")
        outcome = run_days(date(2026, 10, 10), date(2026, 10, 11))
    assert (outcome.exit_code, outcome.lines) == (
        1, [f"nothing published: accounting_marts [2026-10-10]: blocking check failed: {said}"])
    assert not (tmp_path / "invoice_true.duckdb").exists()


# -- the order of steps does not matter --------------------------------------------------------------
@pytest.mark.slow
def test_a_multiprocess_run_publishes_every_check_result_whatever_ran_after_the_publish(tmp_path, monkeypatch):
    """The UI's runs use the multiprocess executor: check steps and the publish step are ordered by
    nothing but the pool; each check's row must be in the published file when the run ends."""
    from pipelines.instance import write_instance_config
    from tests.daily_job import daily_job

    home = tmp_path / "dagster_home"
    write_instance_config(home)  # deploy/dagster.yaml: the warehouse pool, as `make dev` uses
    published = tmp_path / "out" / "invoice_true.duckdb"
    with FixtureServer(fleet(), token=TOKEN) as server:
        for name, value in {"BILLING_API_URL": server.url, "GATEWAY_API_URL": server.url, "BILLING_API_TOKEN": TOKEN,
                            "GATEWAY_API_TOKEN": TOKEN, "WAREHOUSE_PATH": str(published),
                            "DAGSTER_HOME": str(home)}.items():
            monkeypatch.setenv(name, value)
        with dg.DagsterInstance.get() as instance:
            result = dg.execute_job(dg.reconstructable(daily_job), instance=instance,
                                    tags={"dagster/partition": str(E)})
            assert result.success
            checked = {(".".join(e.event_specific_data.asset_key.path), e.event_specific_data.check_name)
                       for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    rows = query(published, "SELECT asset, check_name, checked_at > (SELECT published_at FROM marts.runs WHERE "
                            "run_id = $run) AS after_publish FROM marts.check_results WHERE run_id = $run",
                 {"run": result.run_id})
    assert len(checked) == 14 and {(r["asset"], r["check_name"]) for r in rows} == checked
    late = sorted(f"{r['asset']} {r['check_name']}" for r in rows if r["after_publish"])
    print(f"\nchecks recorded after the publish step in this run: {late or 'none'}")

    # Whatever the order was above, a check that runs after the last publish is still seen: run one
    # alone now; the published file is not rewritten, and its row is there.
    from pipelines.definitions import defs

    before = published.read_bytes()
    key = dg.AssetCheckKey(dg.AssetKey(["marts", "observability_gaps"]), "dark_billing")
    alone = dg.define_asset_job("dark_billing_alone", selection=dg.AssetSelection.checks(key))
    with FixtureServer(fleet(), token=TOKEN), dg.DagsterInstance.get() as instance:
        job = dg.Definitions.merge(defs(), dg.Definitions(jobs=[alone])).resolve_job_def("dark_billing_alone")
        later = job.execute_in_process(instance=instance)  # no partition: the check judges every stored hour
    assert later.success and published.read_bytes() == before
    rows = query(published, "SELECT asset, check_name, passed, failing_rows FROM marts.check_results WHERE run_id = ?",
                 [later.run_id])
    assert rows == [{"asset": "marts.observability_gaps", "check_name": "dark_billing", "passed": False,
                     "failing_rows": 2}]
