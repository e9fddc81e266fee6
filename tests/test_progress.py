"""Progress of `invoice-true run` (pipelines/progress.py): rich's live display on a terminal, one
structured line per day and source off one, nothing with --quiet; and nothing of Dagster's own
(telemetry notice, welcome, warnings) on a fresh DAGSTER_HOME.

The runs are real: a hand-made two-day fleet served on loopback, the CLI in a subprocess (under a
pseudo-terminal for the live display), pages of 50 rows so a day takes several."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest

from fixtures.rows import Fleet
from fixtures.server import FixtureServer
from pipelines.adapters.base import Window
from pipelines.progress import DayCount, LineReporter, StepLogReporter, progress_text
from tests.conftest import TOKEN
from tests.hand_fleet import UTC, event, minutes, request, sample

FIRST, SECOND = date(2026, 10, 20), date(2026, 10, 21)
D1 = datetime(2026, 10, 20, tzinfo=UTC)


def two_days() -> Fleet:
    """Samples every 5 minutes from 10-19 23:50 to 10-22 00:10; 40 requests a day (plus a bad one on
    the first day and an identical re-delivery on the second); one event a day."""
    samples = [sample("gpu-h1", at, Decimal("0.5") * k)
               for k, at in enumerate(minutes(D1 - timedelta(minutes=10), D1 + timedelta(days=2, minutes=10), 5))]
    requests = []
    for day in (D1, D1 + timedelta(days=1)):
        for i in range(40):
            received = day + timedelta(minutes=30 * i + 1)
            requests.append(request(f"{day:%d}-{i}", received, received + timedelta(seconds=20)))
    bad = request("bad", D1 + timedelta(hours=5), D1 + timedelta(hours=5, seconds=9)) | {"completion_tokens": -5}
    requests.append(bad)
    requests.append(dict(requests[45]))  # a copy of a second-day request, delivered twice
    events = [event("gpu-h1", D1, "launched"), event("gpu-h1", D1 + timedelta(days=1, hours=12), "engine_ready")]
    return Fleet.from_rows(samples, requests, events)


# (source, day) -> exact counts of the day's window [day - 15 min, day + 1 day + 15 min), pages of 50
EXPECTED = {
    ("billing_snapshots", FIRST): dict(pages=6, rows=293, kept=293, quarantined=0, duplicates=0),  # 2 + 288 + 3
    ("billing_snapshots", SECOND): dict(pages=6, rows=294, kept=294, quarantined=0, duplicates=0),  # 3 + 288 + 3
    # the first day's window reaches 15 minutes into the second: its first request (00:01:20) is read twice
    ("requests", FIRST): dict(pages=1, rows=42, kept=41, quarantined=1, duplicates=0),
    ("requests", SECOND): dict(pages=1, rows=41, kept=40, quarantined=0, duplicates=1),
    ("fleet_events", FIRST): dict(pages=1, rows=1, kept=1, quarantined=0, duplicates=0),
    ("fleet_events", SECOND): dict(pages=1, rows=1, kept=1, quarantined=0, duplicates=0),
}
RUN = ["run", "--start", str(FIRST), "--end", str(SECOND + timedelta(days=1))]


@pytest.fixture(scope="module")
def server():
    with FixtureServer(two_days(), token=TOKEN) as running:
        yield running


def cli_env(server, tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "INVOICE_TRUE_"))}
    return env | {
        "BILLING_API_URL": server.url, "GATEWAY_API_URL": server.url, "BILLING_API_TOKEN": TOKEN,
        "GATEWAY_API_TOKEN": TOKEN, "WAREHOUSE_PATH": str(tmp_path / "out" / "invoice_true.duckdb"),
        "INVOICE_TRUE_PAGE_LIMIT": "50", **extra,
    }


# -- counting --------------------------------------------------------------------------------------
def frame(*hours: float) -> pl.DataFrame:
    return pl.DataFrame({"sampled_at": [D1 + timedelta(hours=h) for h in hours]},
                        schema={"sampled_at": pl.Datetime("us", "UTC")})


def test_how_far_through_the_window_gives_the_eta_while_pages_come_in_order():
    count = DayCount.start("billing_snapshots", "sampled_at", Window(FIRST, D1, D1 + timedelta(days=1)))
    count.add(frame(0, 3, 6))
    count.add(frame(6, 9, 12))  # a page may start where the last ended
    count.started = time.monotonic() - 10  # ten seconds in
    assert (count.pages, count.rows, count.fraction) == (2, 6, 0.5)
    assert count.eta_s == pytest.approx(10, abs=0.1)  # half the window in 10 s: 10 s to go
    count.add(frame(1, 13))  # this page goes back in time: the order says nothing any more
    assert (count.in_order, count.fraction, count.eta_s) == (False, None, None)
    assert progress_text(count).startswith("billing_snapshots 2026-10-20: 3 pages, 8 rows, ")
    assert "ETA" not in progress_text(count)


class Recorded:
    """A log that keeps what it is told."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, text: str) -> None:
        self.lines.append(text)


def test_the_step_log_hears_every_few_seconds_and_at_the_end():
    from pipelines.landing import IngestResult

    log = Recorded()
    reporter = StepLogReporter(log, every_s=3600)
    count = DayCount.start("requests", "sampled_at", Window(FIRST, D1, D1 + timedelta(days=1)))
    reporter.started(count)
    for _ in range(3):
        count.add(frame(1))
        reporter.advanced(count)
    assert log.lines == []  # not an hour yet
    reporter.every_s = 0
    count.add(frame(12))
    reporter.advanced(count)
    count.stop()
    reporter.finished(count, IngestResult("requests", fetched=4, duplicates=1, kept=2, quarantined=1))
    assert log.lines[0].startswith("requests 2026-10-20: 4 pages, 4 rows, ")
    assert "50% of the window, ETA" in log.lines[0]
    assert log.lines[1].startswith("requests 2026-10-20: 4 pages, 4 rows fetched in ")
    assert log.lines[1].endswith("kept 2, quarantined 1, duplicates collapsed 1")


def test_a_structured_line_holds_exact_counts(capsys):
    from pipelines.landing import IngestResult

    count = DayCount.start("requests", "finished_at", Window(FIRST, D1, D1 + timedelta(days=1)))
    count.pages, count.rows, count.seconds = 2, 7, 0.5
    LineReporter(sys.stderr).finished(count, IngestResult("requests", fetched=7, duplicates=1, kept=5, quarantined=1))
    assert capsys.readouterr().err == ("landed source=requests day=2026-10-20 pages=2 rows=7 kept=5 quarantined=1 "
                                       "duplicates=1 seconds=0.5 rows_per_s=14\n")


# -- the command line ----------------------------------------------------------------------------
LANDED = re.compile(r"^landed source=(\w+) day=(\S+) pages=(\d+) rows=(\d+) kept=(\d+) quarantined=(\d+) "
                    r"duplicates=(\d+) seconds=[\d.]+ rows_per_s=\d+$")


@pytest.mark.slow
def test_off_a_terminal_one_line_per_day_and_source_and_nothing_of_dagster(server, tmp_path):
    home = tmp_path / "fresh_dagster_home"
    home.mkdir()  # empty: the first instance here would print Dagster's telemetry notice
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", *RUN],
                          env=cli_env(server, tmp_path, DAGSTER_HOME=str(home)), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 2, done.stderr  # published; the bad request puts raw.requests over its bound
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    landed = [LANDED.match(line) for line in lines if line.startswith("landed ")]
    assert all(landed), lines
    counts = {(m[1], date.fromisoformat(m[2])): dict(zip(("pages", "rows", "kept", "quarantined", "duplicates"),
                                                         map(int, m.groups()[2:]))) for m in landed}
    assert len(landed) == 6 and counts == EXPECTED
    rest = [line for line in lines if not line.startswith("landed ")]
    assert rest == [
        # 81 rows kept in the two days' windows, 1 quarantined: 1 / 82
        "ERROR raw.requests: 1 of 82 rows quarantined (1.22%; bound 1.00%), most for completion_tokens: Input should "
        "be greater than or equal to 0 (1) — see quarantine.requests",
        "no invoice for 2026-10 from the billing API: not reconciled",
    ]
    import yaml

    written = yaml.safe_load((home / "dagster.yaml").read_text())  # the project's instance config
    assert written["telemetry"] == {"enabled": False} and written["concurrency"]["pools"]["default_limit"] == 1


def read_pty(argv: list[str], env: dict[str, str], timeout_s: float = 600) -> tuple[int, str]:
    """Run argv with stdin, stdout and stderr on a pseudo-terminal 160 columns wide; all it wrote."""
    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    proc = subprocess.Popen(argv, stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env | {"COLUMNS": "160"},
                            close_fds=True)
    os.close(child_fd)
    out, deadline = b"", time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main_fd], [], [], 0.5)
        if ready:
            try:
                data = os.read(main_fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            out += data
        elif proc.poll() is not None:
            break
    os.close(main_fd)
    return proc.wait(timeout=30), out.decode("utf-8", "replace")


def test_on_a_terminal_rich_shows_pages_rows_and_eta_live(server, tmp_path):
    code, shown = read_pty([sys.executable, "-m", "pipelines.cli", *RUN], cli_env(server, tmp_path))
    assert code == 2, shown[-2000:]
    assert "\x1b[?25l" in shown and "\x1b[2K" in shown  # rich's live display: cursor hidden, lines redrawn
    frames = re.findall(r"billing_snapshots 2026-10-2[01] .*?(\d+) pages? +(\d+) rows +[\d,]+ rows/s +ETA (\S+)", shown)
    assert frames, shown[-2000:]
    midway = [(int(p), int(r), eta) for p, r, eta in frames if 0 < int(p) < 6]
    assert midway and all(r == 50 * p and re.fullmatch(r"\d+:\d\d:\d\d", eta) for p, r, eta in midway)
    for (source, day), c in EXPECTED.items():  # a line for each landed day and source stays above the display
        assert re.search(rf"{source} {day}  {c['pages']} pages?  {c['rows']} rows?  [\d,]+ rows/s  [\d.]+ s", shown)
    assert "landed source=" not in shown


def test_quiet_prints_no_progress(server, tmp_path, monkeypatch, capsys):
    from pipelines.cli import main

    for name, value in cli_env(server, tmp_path).items():
        if name.endswith(("_URL", "_TOKEN", "_PATH", "_LIMIT")):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["run", "--quiet", "--start", str(SECOND), "--end", str(SECOND + timedelta(days=1))]) == 0
    out = capsys.readouterr()
    assert (out.out, out.err) == ("no invoice for 2026-10 from the billing API: not reconciled\n", "")
