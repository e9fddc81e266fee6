"""`invoice-true status` (pipelines/status.py) on a small published file made by hand: each section's
exact text, and the exit status (0 the last run was clean, 2 it was not, 1 nothing published).

The file holds three days of resource-hours (2026-11-27 to 11-29), incomplete billing on 11-28,
an open dark stretch since 11-29 23:50 (so 11-28 is the newest final day), quarantined rows of two
sources, and a run ledger written as the pipeline writes it (pipelines/ledger.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from pipelines.accounting import ensure_schema
from pipelines.findings import Finding
from pipelines.ledger import Ledger
from pipelines.status import status_report
from tests.hand_fleet import UTC

DAY = date(2026, 11, 29)
NOV = datetime(2026, 11, 1, tzinfo=UTC)


def at(day: int, hh: int = 0, mm: int = 0) -> datetime:
    return NOV + timedelta(days=day - 1, hours=hh, minutes=mm)


def hour_row(resource: str, hour: datetime, complete: bool = True) -> list:
    return [hour, resource, "h100-class", 3600, 1800, 1800, 0, 0, Decimal("6"), Decimal("3"), Decimal("3"), 0, 0,
            1000, 100, 10, complete]


QUARANTINE_COLUMNS = "source VARCHAR, day DATE, row_number BIGINT, field VARCHAR, reason VARCHAR, " \
                     "raw_payload VARCHAR, origin VARCHAR"


def published_file(folder: Path) -> tuple[Path, Ledger]:
    path = folder / "invoice_true.duckdb"
    ledger = Ledger(folder / "invoice_true.lake" / "_ledger")
    with duckdb.connect(str(path)) as con:
        ensure_schema(con)
        rows = [hour_row("r1", at(d, h)) for d in (27, 28, 29) for h in (0, 12)]
        rows += [hour_row("r1", at(28, 10), False), hour_row("r2", at(28, 10), False),
                 hour_row("r2", at(28, 11), False)]
        con.executemany(f"INSERT INTO marts.resource_hourly (hour, resource_id, tier, running_s, busy_s, idle_s, "
                        f"waking_s, parked_s, spend, spend_serving, spend_idle, spend_waking, spend_parked, "
                        f"completion_tokens, prompt_tokens, requests, billing_complete) VALUES ({', '.join('?' * 17)})",
                        rows)
        con.executemany("INSERT INTO marts.observability_gaps VALUES (?, ?, ?, ?)", [
            ["r2", at(28, 9, 58), at(28, 11, 30), Decimal(5520)],  # closed: not open any more
            ["r2", at(29, 23, 50), None, None],
        ])
        con.execute("CREATE SCHEMA IF NOT EXISTS quarantine")
        for source in ("billing_snapshots", "requests", "fleet_events"):
            con.execute(f"CREATE TABLE quarantine.{source} ({QUARANTINE_COLUMNS})")
        con.executemany("INSERT INTO quarantine.requests VALUES ('requests', ?, ?, ?, ?, '{}', 'page 1')", [
            [date(2026, 11, 28), 1, "resource_id", "unmapped_resource: api_base http://10.0.4.17:8000/v1 is not mapped "
                                                   "at 2026-11-28T10:00:00Z"],
            [date(2026, 11, 28), 2, "resource_id", "unmapped_resource: api_base http://10.0.4.17:8000/v1 is not mapped "
                                                   "at 2026-11-28T10:05:00Z"],
            [date(2026, 11, 29), 3, "finished_at", "finished_at 2026-11-29T20:07:10.000000Z is before received_at "
                                                   "2026-11-29T21:00:00.000000Z"],
        ])
        con.execute("INSERT INTO quarantine.billing_snapshots VALUES ('billing_snapshots', DATE '2026-11-29', 7, "
                    "'state', ?, '{}', 'page 2')",
                    ["Input should be 'running', 'hibernated', 'stopped' or 'terminated'"])
        ledger.create_views(con)
    # an older run, clean; then the last one
    ledger.record_run("run-old", "published", job="invoice_true_daily", started_at=at(28, 3), at=at(28, 3, 1),
                      first_day=date(2026, 11, 27), last_day=date(2026, 11, 27))
    ledger.record_run("run-old", "finished", job="invoice_true_daily", at=at(28, 3, 2), first_day=date(2026, 11, 27),
                      last_day=date(2026, 11, 27), exit_code=0)
    return path, ledger


def finding(check: str, passed: bool, line: str | None = None, asset: str = "raw.requests") -> Finding:
    return Finding(asset, check, "ERROR", passed, "as expected", 0 if passed else 2, query=None,
                   lines=(line,) if line else ())


def last_run(ledger: Ledger, *, published: bool = True, failed_check: bool = False, exit_code: int | None = None,
             failure: str | None = None) -> None:
    days = {"first_day": date(2026, 11, 28), "last_day": DAY}
    if published:
        ledger.record_run("3f9c2a1b-last", "published", job="invoice_true_daily", started_at=at(30, 3),
                          at=at(30, 3, 1), **days)
    ledger.record_finding("3f9c2a1b-last", finding("contract", True), checked_at=at(30, 3, 0))
    ledger.record_finding("3f9c2a1b-last", finding(
        "quarantine_share", not failed_check,
        "ERROR raw.requests: 3 of 100 rows quarantined (3.00%; bound 1.00%), most for resource_id: unmapped_resource "
        "(2) — see quarantine.requests"), checked_at=at(30, 3, 0))
    if failure:
        ledger.record_run("3f9c2a1b-last", "failed", job="invoice_true_daily", started_at=at(30, 3), at=at(30, 3, 0),
                          failure=failure, **days)
    if exit_code is not None:
        ledger.record_run("3f9c2a1b-last", "finished", job="invoice_true_daily", at=at(30, 3, 2),
                          exit_code=exit_code, **days)


def test_every_section_of_a_run_with_a_failed_check(tmp_path):
    path, ledger = published_file(tmp_path)
    last_run(ledger, failed_check=True, exit_code=2)
    report = status_report(path, DAY, "yesterday")
    assert report.exit_code == 2
    assert report.lines == [
        f"published   {path}",
        "answer      yesterday 2026-11-29 is not final yet (billing after its end not stored for every resource); "
        "the last run was not clean",
        "days        2026-11-27 to 2026-11-29 (3 days)",
        "final       2026-11-28 is the newest final day",
        "last run    invoice_true_daily 2026-11-28 to 2026-11-29, run 3f9c2a1b, started 2026-11-30 03:00 UTC",
        "              published 2026-11-30 03:01 UTC; 1 of 2 checks failed (exit 2)",
        "              ERROR raw.requests: 3 of 100 rows quarantined (3.00%; bound 1.00%), most for resource_id: "
        "unmapped_resource (2) — see quarantine.requests",
        "incomplete  1 day with incomplete billing: 2026-11-28 (3 resource-hours: r1, r2)",
        "dark        r2 dark since 2026-11-29 23:50 UTC",
        "quarantine  billing_snapshots        1  state: Input should be 'running', 'hibernated', 'stopped' or "
        "'terminated'",
        "            requests                 2  unmapped_resource",
        "            requests                 1  finished_at: finished_at <instant> is before received_at <instant>",
        "crosscheck  not configured (no [crosscheck] source)",
    ]


def test_a_clean_last_run_exits_zero_and_a_final_day_says_so(tmp_path):
    path, ledger = published_file(tmp_path)
    last_run(ledger, exit_code=0)
    report = status_report(path, date(2026, 11, 28))
    assert report.exit_code == 0
    assert report.lines[1] == "answer      day 2026-11-28 is final; the last run was clean"
    assert report.lines[5] == "              published 2026-11-30 03:01 UTC; all 2 checks passed (exit 0)"
    assert report.lines[6].startswith("incomplete  ")  # a clean run lists no findings


def test_a_run_launched_from_dagster_is_judged_by_what_it_recorded(tmp_path):
    path, ledger = published_file(tmp_path)
    last_run(ledger)  # published, every check passed, no command line to say how it ended
    report = status_report(path, DAY)
    assert report.exit_code == 0
    assert report.lines[5] == "              published 2026-11-30 03:01 UTC; all 2 checks passed (exit 0 so far)"


def test_a_run_that_published_nothing_is_not_clean_and_says_why(tmp_path):
    path, ledger = published_file(tmp_path)
    last_run(ledger, published=False, exit_code=1,
             failure="raw__requests [2026-11-28...2026-11-29]: day 2026-11-29: gateway API refused the token (401)")
    report = status_report(path, DAY)
    assert report.exit_code == 2
    assert report.lines[4:6] == [
        "last run    invoice_true_daily 2026-11-28 to 2026-11-29, run 3f9c2a1b, started 2026-11-30 03:00 UTC",
        "              nothing published: raw__requests [2026-11-28...2026-11-29]: day 2026-11-29: gateway API "
        "refused the token (401) (exit 1)",
    ]


def test_no_published_file_exits_one(tmp_path):
    report = status_report(tmp_path / "nothing.duckdb", DAY)
    assert (report.exit_code, report.lines) == (
        1, [f"no published file at {tmp_path / 'nothing.duckdb'} (WAREHOUSE_PATH): nothing has been published yet"])


def test_the_command_reads_warehouse_path_and_prints_the_report(tmp_path, monkeypatch, capsys):
    from pipelines.cli import main

    path, ledger = published_file(tmp_path)
    last_run(ledger, exit_code=0)
    monkeypatch.setenv("WAREHOUSE_PATH", str(path))
    assert main(["status", "--day", "2026-11-28"]) == 0
    out = capsys.readouterr()
    assert out.err == "" and out.out.splitlines()[1] == "answer      day 2026-11-28 is final; the last run was clean"


def test_the_crosscheck_warnings_are_the_last_daily_runs(tmp_path):
    path, ledger = published_file(tmp_path)
    last_run(ledger, exit_code=2)
    with duckdb.connect(str(path)) as con:  # a [crosscheck] source counted an hour
        con.execute("INSERT INTO marts.token_crosscheck (hour, resource_id, logged_tokens, counted_tokens, difference, "
                    "difference_pct, series_counted, series_incomplete, counter_resets) "
                    "VALUES ('2026-11-29 10:00+00', 'r1', 100, 100, 0, 0, 1, 0, 0)")
    status = status_report(path, DAY)
    assert status.lines[-1] == "crosscheck  no warnings in the last run"
    line = ("WARN marts.token_crosscheck: logs miss more than 1 % in 1 resource-hour (r1 at 2026-11-29 10:00) "
            "— see marts.token_crosscheck")
    ledger.record_finding("3f9c2a1b-last", Finding("marts.token_crosscheck", "token_crosscheck", "WARN", False,
                                                   "logs within 1 %", 1, lines=(line,)), checked_at=at(30, 3, 1))
    assert status_report(path, DAY).lines[-1] == f"crosscheck  {line}"


def test_a_file_whose_ledger_and_lake_are_not_beside_it_still_answers(tmp_path):
    import shutil

    path, ledger = published_file(tmp_path)
    last_run(ledger, exit_code=0)
    (tmp_path / "lake").mkdir()
    with duckdb.connect(str(path)) as con:  # quarantine as the published file holds it: views over the lake
        con.execute(f"COPY quarantine.requests TO '{tmp_path}/lake/q.parquet' (FORMAT parquet)")
        con.execute("DROP TABLE quarantine.requests")
        con.execute(f"CREATE VIEW quarantine.requests AS SELECT * FROM read_parquet('{tmp_path}/lake/*.parquet')")
    for folder in (ledger.root, tmp_path / "lake"):  # say, the file was copied to another machine
        shutil.rmtree(folder)
    report = status_report(path, DAY)
    assert report.exit_code == 2  # nothing says the last run was clean
    assert report.lines[4].startswith("last run    cannot be read from here (IO Error: No files found that match")
    assert report.lines[-2].startswith("quarantine  cannot be read from here (IO Error: No files found that match")
    assert report.lines[2:4] == ["days        2026-11-27 to 2026-11-29 (3 days)",
                                 "final       2026-11-28 is the newest final day"]
