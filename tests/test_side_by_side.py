"""A range of days landed side by side (pipelines/ingest_days.py: worker processes forked from a
forkserver) publishes exactly what landing the days one after another publishes. The forkserver is
started first under another source URL and token: a worker forked from it must read the run's own
configuration, not the environment the server started with."""

from __future__ import annotations

from datetime import date, timedelta

import multiprocessing.forkserver

import pytest

from fixtures.fleet import simulate_fleet
from fixtures.server import FixtureServer
from pipelines.ingest_days import worker_context
from pipelines.runner import run_days
from tests.test_faults import dump_tables, fast_env

pytestmark = pytest.mark.slow  # two three-day runs

START = date(2026, 10, 26)
END = START + timedelta(days=3)


def run(monkeypatch, fleet, published, token: str, workers: int) -> dict:
    with FixtureServer(fleet, token=token) as server:
        fast_env(monkeypatch, server.url, published, token=token)
        monkeypatch.setenv("INVOICE_TRUE_INGEST_WORKERS", str(workers))
        outcome = run_days(START, END)
    assert outcome.exit_code in (0, 2), outcome.lines
    return dump_tables(published)


def test_days_landed_side_by_side_equal_days_landed_one_after_another(monkeypatch, tmp_path):
    fleet = simulate_fleet(seed=32, start=START, days=3, requests_per_day=1_000)
    with monkeypatch.context() as stale:  # a server started under other sources (or by an earlier test)
        fast_env(stale, "http://127.0.0.1:9", tmp_path / "elsewhere.duckdb", token="another-token")
        worker_context()
        multiprocessing.forkserver.ensure_running()
    side_by_side = run(monkeypatch, fleet, tmp_path / "side" / "invoice_true.duckdb", "token-two", workers=2)
    serial = run(monkeypatch, fleet, tmp_path / "serial" / "invoice_true.duckdb", "token-two", workers=1)
    assert side_by_side == serial
    assert len(serial["raw.requests"]) > 2_000 and serial["marts.cost_per_mtok_daily"]
