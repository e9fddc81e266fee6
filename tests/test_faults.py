"""A source that misbehaves (DESIGN.md "Sources"): transient faults are survived with the same tables
as a clean run; permanent faults stop the run at once with one line naming the source and the day,
leave the published file byte for byte as it was, and leave raw with whole days per source.

Every run here is the real pipeline (fixture server on loopback -> Dagster -> DuckDB), in-process,
with short client timeouts and backoff and small pages (env knobs of pipelines/defs/resources.py)."""

from __future__ import annotations

import functools
import hashlib
import shutil
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from fixtures.faults import (
    CutBodies,
    DroppedConnections,
    FaultPlan,
    MalformedPages,
    RateLimited,
    RepeatedCursor,
    RevokedToken,
    ServerErrors,
    SlowResponses,
    UnknownCursor,
    transient_mix,
)
from fixtures.fleet import simulate_fleet
from pipelines.runner import RunOutcome, run_days
from pipelines.lake import Lake, lake_for
from pipelines.warehouse import work_path_for

TOKEN = "fault-token-8d2e91c4"
START, END = date(2026, 10, 26), date(2026, 10, 28)
DAYS = [START, START + timedelta(days=1)]
CLIENT_TIMEOUT_S = 2.0  # above any honest page, even on a loaded machine
FAST_HTTP = {
    "INVOICE_TRUE_HTTP_TIMEOUT_S": str(CLIENT_TIMEOUT_S),
    "INVOICE_TRUE_HTTP_BACKOFF_S": "0.05",
    "INVOICE_TRUE_HTTP_BACKOFF_MAX_S": "1.0",  # Retry-After: 1 is honoured in full
    "INVOICE_TRUE_HTTP_ATTEMPTS": "6",
    "INVOICE_TRUE_PAGE_LIMIT": "400",  # several pages (and cursors) per source-day
}
RAW = ("billing_snapshots", "requests", "fleet_events")
SELECTED_ON = {"billing_snapshots": "sampled_at", "requests": "finished_at", "fleet_events": '"at"'}
PATHS = {"billing_snapshots": "/v1/billing/snapshots", "requests": "/v1/usage/requests",
         "fleet_events": "/v1/fleet/events"}
MARGIN = timedelta(minutes=15)


# -- helpers shared with test_crash_safety.py --------------------------------------------------------
def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The run ledger's views (pipelines/ledger.py) record runs, not data: their run ids and instants
# differ from run to run by design.
LEDGER_VIEWS = ("marts.check_results", "marts.runs")


def dump_tables(path: Path, schemas: tuple[str, ...] = ("raw", "quarantine", "marts")) -> dict[str, list[tuple]]:
    """Every row of every table and view of ``schemas`` (raw and quarantine are views over the
    lake), sorted: whole tables, not counts; the run ledger aside."""
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        tables = [r[0] for r in con.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
            "WHERE list_contains(?, schema_name) AND NOT temporary "
            "UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views() "
            "WHERE list_contains(?, schema_name) AND NOT internal AND NOT temporary ORDER BY 1",
            [list(schemas), list(schemas)]).fetchall()]
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables if t not in LEDGER_VIEWS}


def table_names(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return [r[0] for r in con.execute(
            "SELECT database_name || '.' || schema_name || '.' || table_name FROM duckdb_tables() ORDER BY 1"
        ).fetchall()]


def fast_env(monkeypatch, url: str, published: Path, token: str = TOKEN) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for name, value in {**FAST_HTTP, "BILLING_API_URL": url, "GATEWAY_API_URL": url,
                        "BILLING_API_TOKEN": token, "GATEWAY_API_TOKEN": token,
                        "WAREHOUSE_PATH": str(published)}.items():
        monkeypatch.setenv(name, value)


def run_through(plan: FaultPlan, fleet, published: Path, start=START, end=END) -> tuple[RunOutcome, float]:
    with pytest.MonkeyPatch.context() as mp, plan.server(fleet, TOKEN) as server:
        fast_env(mp, server.url, published)
        began = time.monotonic()
        outcome = run_days(start, end)
        return outcome, time.monotonic() - began


# -- fleets and clean references (module scope: each is one real run) -------------------------------
@pytest.fixture(scope="module")
def fleet_a():
    return simulate_fleet(seed=11, start=START, days=2, requests_per_day=3_000)


@pytest.fixture(scope="module")
def fleet_b():
    """The same days, another fleet: every source-day differs from fleet A's."""
    return simulate_fleet(seed=12, start=START, days=2, requests_per_day=3_000)


@contextmanager
def _clean(fleet, folder: Path):
    published = folder / "invoice_true.duckdb"
    plan = FaultPlan()
    outcome, seconds = run_through(plan, fleet, published)
    assert outcome.exit_code in (0, 2), outcome.lines
    yield published, outcome, plan, seconds


@pytest.fixture(scope="module")
def clean_a(fleet_a, tmp_path_factory):
    with _clean(fleet_a, tmp_path_factory.mktemp("clean_a")) as ref:
        yield ref


@pytest.fixture(scope="module")
def clean_b(fleet_b, tmp_path_factory):
    with _clean(fleet_b, tmp_path_factory.mktemp("clean_b")) as ref:
        yield ref


def copy_warehouse(published: Path, folder: Path) -> Path:
    """The published file, the working file and the lake beside them, as a previous run left them."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / published.name
    shutil.copy2(published, target)
    shutil.copy2(work_path_for(published), work_path_for(target))
    shutil.copytree(lake_root(published), lake_root(target))
    return target


# -- 1. the fault schedules themselves ----------------------------------------------------------------
def test_schedules_are_seeded_composable_and_counted():
    def drive(plan, n=200):
        answers = []
        for i in range(n):
            params = {"start": "a", "end": "b"} | ({"cursor": f"c{i}"} if i % 3 else {})
            fault = plan(PATHS["requests"] if i % 2 else PATHS["billing_snapshots"], params)
            answers.append(None if fault is None else (fault.status, fault.delay_s, fault.drop, fault.truncate))
        return answers

    runs = [transient_mix(seed=5, slow_s=2.0) for _ in range(2)]
    assert drive(runs[0]) == drive(runs[1])  # same seed, same requests: same faults
    assert runs[0].counts == runs[1].counts and runs[0].injected == len(runs[0].log) > 0
    assert drive(transient_mix(seed=6, slow_s=2.0)) != drive(transient_mix(seed=5, slow_s=2.0))

    burst = FaultPlan(ServerErrors(statuses=[503], burst=3, after=2, limit=6))
    assert [f is not None for f in (burst("/v1/fleet/events", {}) for _ in range(10))] == (
        [False, False] + [True] * 6 + [False, False])
    assert burst.counts == {"503": 6}

    capped = FaultPlan(ServerErrors(burst=10), max_consecutive=3)  # one request never fails > 3 times in a row
    assert [capped("/p", {"x": "1"}) is not None for _ in range(5)] == [True, True, True, False, True]

    revoked = FaultPlan(RevokedToken(after=3), ServerErrors(rate=0.0))
    assert [getattr(revoked("/p", {}), "status", None) for _ in range(6)] == [None, None, None, 401, 401, 401]
    assert revoked.counts == {"401": 3}

    loop, missing = FaultPlan(RepeatedCursor()), FaultPlan(UnknownCursor())
    assert loop("/p", {}) is None and missing("/p", {}) is None  # the first page is fine
    assert b'"next_cursor":"abc"' in loop("/p", {"cursor": "abc"}).body
    assert missing("/p", {"cursor": "abc"}).status == 404
    assert (loop.counts, missing.counts) == ({"repeated_cursor": 1}, {"404_cursor": 1})

    sticky = FaultPlan(MalformedPages(sticky=True, limit=1))
    assert sticky("/p", {"a": "1"}).status == 200 and sticky("/p", {"a": "2"}) is None
    assert all(sticky("/p", {"a": "1"}) is not None for _ in range(4))  # that page never heals
    assert sticky.counts == {"malformed": 5}


# -- 2. transient faults are survived ----------------------------------------------------------------
@pytest.mark.slow
def test_transient_faults_are_survived_and_the_tables_equal_a_clean_run(clean_a, fleet_a, tmp_path, record_property):
    reference, clean_outcome, clean_plan, clean_s = clean_a
    plan = FaultPlan(
        ServerErrors(rate=0.10, burst=3, seed=1),  # bursts of 500/502/503, three in a row
        RateLimited(retry_after="1", rate=0.05, seed=2),
        SlowResponses(CLIENT_TIMEOUT_S + 0.6, rate=0.03, limit=3, seed=3),  # answers after the client timed out
        DroppedConnections(rate=0.05, seed=4),
        CutBodies(rate=0.05, seed=5),  # Content-Length promised, half sent, connection closed
        MalformedPages(rate=0.04, seed=6),  # a 200 with cut JSON, no data array, or an HTML error page
        max_consecutive=3,  # below the client's 6 attempts: every fault is transient
    )
    published = tmp_path / "invoice_true.duckdb"
    outcome, seconds = run_through(plan, fleet_a, published)
    summary = plan.summary()
    record_property("faults", summary)
    print(f"\ntransient faults injected: {summary}; faulty run {seconds:.1f} s, clean run {clean_s:.1f} s")

    assert outcome.exit_code == clean_outcome.exit_code and outcome.lines == clean_outcome.lines
    # Every kind was exercised, several times.
    for kind in ("500", "502", "503", "429", "slow", "dropped", "cut_mid_body", "malformed"):
        assert plan.counts[kind] >= 1, (kind, summary)
    assert plan.injected >= 20, summary
    assert plan.requests >= clean_plan.requests + plan.injected  # each fault cost (at least) one retry
    # Whole tables, every row: raw, quarantine and marts equal the clean run's.
    assert dump_tables(published) == dump_tables(reference)
    # Retry-After was honoured: the retry after a 429 came no sooner than a second later.
    for injection in (i for i in plan.log if i.kind == "429"):
        key = next(k for t, p, k in plan.request_times if t >= injection.at - 1e-3 and p == injection.path)
        retry = next(t for t, p, k in plan.request_times if k == key and t > injection.at)
        assert retry - injection.at >= 0.95


@pytest.mark.slow
def test_the_mixed_seeded_schedule_is_survived_too(clean_a, fleet_a, tmp_path):
    plan = transient_mix(seed=2026, slow_s=CLIENT_TIMEOUT_S + 0.6, rate=0.15)
    plan.schedules[2].limit = 2  # at most two slow pages (each costs a client timeout)
    outcome, seconds = run_through(plan, fleet_a, tmp_path / "invoice_true.duckdb")
    print(f"\nmixed schedule seed 2026: {plan.summary()}; {seconds:.1f} s")
    assert outcome.exit_code == clean_a[1].exit_code, outcome.lines
    assert plan.injected >= 10
    assert dump_tables(tmp_path / "invoice_true.duckdb", ("marts",)) == dump_tables(clean_a[0], ("marts",))


# -- 3. permanent faults fail fast and clean ---------------------------------------------------------
def window(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) - MARGIN
    return start, start + timedelta(days=1) + 2 * MARGIN


def lake_root(published: Path) -> Path:
    return lake_for(published).root


def lake_day(root: Path, table: str, day: date) -> tuple[list[tuple], list[tuple]] | None:
    """A source-day as stored in the lake at ``root``: its rows file and its quarantine, sorted."""
    lake = Lake(root)
    manifest = lake.manifest(table, day)
    if manifest is None:
        return None
    quarantine = lake.path(table, manifest.quarantine_file) if manifest.quarantine_file else None
    return _stored_files(str(lake.path(table, manifest.rows_file)), str(quarantine) if quarantine else None)


@functools.lru_cache(maxsize=256)
def _stored_files(rows_file: str, quarantine_file: str | None) -> tuple[list[tuple], list[tuple]]:
    """A day's files, read once: the lake never rewrites a file (a new write has a new name)."""
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute("SELECT * FROM read_parquet(?) ORDER BY ALL", [rows_file]).fetchall()
        quarantine = con.execute("SELECT * EXCLUDE (origin) FROM read_parquet(?) ORDER BY ALL",
                                 [quarantine_file]).fetchall() if quarantine_file else []
    return rows, quarantine


def landed_days(root_before: Path, root_fresh: Path, root_after: Path, days: list[date] = DAYS) -> dict[str, int]:
    """For each source, how many of ``days`` were replaced: each day of the lake at ``root_after`` is
    exactly the day before (``root_before``) or the fresh fleet's (``root_fresh``), and the replaced
    ones are a prefix of ``days``."""
    landed = {}
    for table in RAW:
        states = []
        for day in days:
            after, old, new = (lake_day(root, table, day) for root in (root_after, root_before, root_fresh))
            assert old != new, f"{table} {day}: fleets A and B do not differ"
            assert after in (old, new), f"{table} {day} is neither untouched nor replaced whole"
            states.append(after == new)
        assert states == sorted(states, reverse=True), f"{table}: replaced days are not a prefix: {states}"
        landed[table] = sum(states)
    return landed


PERMANENT = {
    # id: (schedule, source named, table that fails, day index that fails, words in the reason)
    "401 mid-run on the gateway's 2nd day": (
        lambda: RevokedToken(paths=[PATHS["requests"]], after=10),
        "gateway API", "requests", 1, "refused the token (401)"),
    "billing page that stays malformed": (
        lambda: MalformedPages(sticky=True, paths=[PATHS["billing_snapshots"]], after=6, limit=1, seed=3),
        "billing API", "billing_snapshots", 0, "malformed page"),
    "cursor loop on the 2nd day of requests": (
        lambda: RepeatedCursor(paths=[PATHS["requests"]], after=8, limit=1),
        "gateway API", "requests", 1, "repeated cursor"),
    "404 for a cursor": (
        lambda: UnknownCursor(paths=[PATHS["billing_snapshots"]], after=3, limit=1),
        "billing API", "billing_snapshots", 0, "answered 404"),
}


@pytest.mark.parametrize("case", list(PERMANENT))
def test_a_permanent_fault_stops_the_run_fast_and_clean(case, clean_a, clean_b, fleet_b, tmp_path):
    make, source, failing_table, failing_day, words = PERMANENT[case]
    published = copy_warehouse(clean_a[0], tmp_path / "warehouse")  # what fleet A's run published
    before_hash, before_work = sha256(published), tmp_path / "work-before.duckdb"
    shutil.copy2(work_path_for(published), before_work)
    before_lake = tmp_path / "lake-before"
    shutil.copytree(lake_root(published), before_lake)
    before_tables = table_names(work_path_for(published))
    before_files = sorted(p.name for p in published.parent.iterdir())

    plan = FaultPlan(make())
    outcome, seconds = run_through(plan, fleet_b, published)  # the new fleet's figures, and a fault
    print(f"\n{case}: {plan.summary()}; stopped after {seconds:.1f} s: {outcome.lines}")

    assert outcome.exit_code == 1
    assert len(outcome.lines) == 1 and "\n" not in outcome.lines[0]
    line = outcome.lines[0]
    assert source in line and words in line and f"raw__{failing_table}" in line, line
    assert DAYS[failing_day].isoformat() in line, line  # the window names the day that failed
    assert TOKEN not in line
    assert seconds < 30, "a permanent fault must not be retried for long"
    assert plan.counts[next(iter(plan.counts))] <= 6  # at most the client's attempts, no step retries

    # The published file is byte for byte what it was; no staging copy is left beside it.
    assert sha256(published) == before_hash
    left = sorted(p.name for p in published.parent.iterdir())
    assert [name for name in left if name not in before_files and name not in ("scratch",)
            and not name.endswith(".lock")] == [], left
    scratch = published.parent / "scratch"  # where pages are staged: emptied even on failure
    assert not scratch.exists() or list(scratch.iterdir()) == []
    # The working file: no table more or less (no scratch table left), marts untouched; in the lake
    # each source has a prefix of its days replaced whole by the new fleet's rows and the rest untouched.
    work = work_path_for(published)
    assert table_names(work) == before_tables
    assert dump_tables(work, ("marts",)) == dump_tables(before_work, ("marts",))
    landed = landed_days(before_lake, lake_root(clean_b[0]), lake_root(published))
    assert landed[failing_table] == failing_day, landed  # the failing day is untouched, days before it landed
    print(f"  days landed per source: {landed}")


# -- 5. idempotence and concurrency -------------------------------------------------------------------
@pytest.mark.slow
def test_the_same_range_run_three_times_gives_identical_tables(clean_a, fleet_a, tmp_path):
    reference = dump_tables(clean_a[0])
    published = copy_warehouse(clean_a[0], tmp_path / "warehouse")  # run 1 (the clean reference)
    for _ in range(2):  # runs 2 and 3 over the same warehouse
        outcome, _ = run_through(FaultPlan(), fleet_a, published)
        assert outcome.exit_code == clean_a[1].exit_code
        assert dump_tables(published) == reference
        assert dump_tables(work_path_for(published)) == dump_tables(work_path_for(clean_a[0]))


@pytest.mark.slow
def test_two_runs_over_overlapping_days_started_together_are_serialised(clean_a, fleet_a, tmp_path):
    import os
    import subprocess
    import sys

    published = tmp_path / "invoice_true.duckdb"
    with FaultPlan().server(fleet_a, TOKEN) as server:
        env = {**os.environ, **FAST_HTTP, "BILLING_API_URL": server.url, "GATEWAY_API_URL": server.url,
               "BILLING_API_TOKEN": TOKEN, "GATEWAY_API_TOKEN": TOKEN, "WAREHOUSE_PATH": str(published)}
        env.pop("DAGSTER_HOME", None)
        ranges = [(START, END), (START + timedelta(days=1), END)]  # both hold 2026-10-27
        runs = [subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--start", str(a), "--end", str(b)],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for a, b in ranges]
        results = [(run.wait(timeout=600), run.stdout.read() + run.stderr.read()) for run in runs]
    for code, output in results:
        assert code == clean_a[1].exit_code, output
        for word in ("Traceback", "IOException", "Could not set lock", "held by another process"):
            assert word not in output, output
    assert any("waiting for it to finish" in output for _, output in results)  # one of them took its turn
    assert dump_tables(published) == dump_tables(clean_a[0])  # whoever went last, the same tables


# -- re-delivered data over a published day (found by the crash test; a defect in sql/marts) ----------
def _tiny_with_the_gap_filled():
    import json

    from tests.conftest import DATA

    folder = DATA / "tiny_fleet" / "input"
    snapshots = json.loads((folder / "snapshots.json").read_text())
    after = next(r for r in snapshots if r["resource_id"] == "gpu-r1" and r["sampled_at"].startswith("2026-10-10T10:21"))
    for minute in range(11, 21):  # the provider re-delivers the samples of gpu-r1's dark 10:10-10:21
        snapshots.append({**after, "sampled_at": f"2026-10-10T10:{minute}:00Z",
                          "cumulative_cost": f"{2.823333 + 0.07 * (minute - 10):.6f}"})
    from fixtures.rows import Fleet

    return Fleet.from_rows(snapshots, json.loads((folder / "requests.json").read_text()),
                           json.loads((folder / "events.json").read_text()))


def test_rerunning_a_day_whose_billing_gap_was_filled_leaves_no_stale_gap(pipeline, tiny_fleet, tmp_path):
    day, next_day = date(2026, 10, 10), date(2026, 10, 11)
    filled = _tiny_with_the_gap_filled()
    clean = tmp_path / "clean" / "invoice_true.duckdb"
    run_through(FaultPlan(), filled, clean, day, next_day)
    published = tmp_path / "rerun" / "invoice_true.duckdb"
    run_through(FaultPlan(), tiny_fleet, published, day, next_day)  # gpu-r1 dark 10:10-10:21: listed
    run_through(FaultPlan(), filled, published, day, next_day)  # the samples arrived: the gap is gone
    assert dump_tables(published, ("raw",)) == dump_tables(clean, ("raw",))
    assert dump_tables(published, ("marts",))["marts.observability_gaps"] == dump_tables(
        clean, ("marts",))["marts.observability_gaps"]


def test_the_reason_for_a_failed_source_day_names_that_day(fleet_a, tmp_path):
    plan = FaultPlan(RevokedToken(paths=[PATHS["requests"]], after=10))  # fails on 2026-10-27, the 2nd day
    outcome, _ = run_through(plan, fleet_a, tmp_path / "invoice_true.duckdb")
    assert outcome.exit_code == 1 and "2026-10-26T23:45" in outcome.lines[0]  # the 2nd day's window
    assert "day 2026-10-27" in outcome.lines[0]  # and the day itself
