"""`invoice-true run`: exit status and one-line reasons (DESIGN.md "How it runs")."""

import socket
from datetime import date

import pytest

from fixtures.rows import Fleet
from fixtures.server import FixtureServer
from pipelines.cli import main
from tests.conftest import DATA, TOKEN, point_at

DAY = ["--start", "2026-10-10", "--end", "2026-10-11"]


@pytest.fixture
def tiny_server(monkeypatch, tmp_path):
    fleet = Fleet.from_json_dir(DATA / "tiny_fleet" / "input")
    with FixtureServer(fleet, token=TOKEN) as server:
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        point_at(monkeypatch, server.url, tmp_path / "out" / "invoice_true.duckdb")
        yield tmp_path / "out" / "invoice_true.duckdb"


def test_run_publishes_and_exits_zero_when_every_check_passes(monkeypatch, tmp_path, capsys):
    from fixtures.fleet import simulate_fleet

    fleet = simulate_fleet(seed=11, start=date(2026, 10, 26), days=4, requests_per_day=6_000)  # the gap is on day 4
    with FixtureServer(fleet, token=TOKEN) as server:
        point_at(monkeypatch, server.url, tmp_path / "invoice_true.duckdb")
        code = main(["run", "--start", "2026-10-26", "--end", "2026-10-27"])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "invoice_true.duckdb").exists()


def test_run_exits_two_and_names_each_failed_check_when_published_with_findings(tiny_server, capsys):
    assert main(["run", *DAY]) == 2  # the tiny fleet's 11-minute billing gap is 4.6 % of its running time
    err = capsys.readouterr().err
    assert ("ERROR marts.observability_gaps: billing dark beyond the bound: 1 tier-day dark over 1.00% of running "
            "time (h100-class on 2026-10-10: 11.0 dark min = 4.64% of 4.0 running h (gpu-r1)) "
            "— see marts.observability_gaps") in err
    assert tiny_server.exists()


def test_a_refused_token_publishes_nothing_and_says_why_in_one_line(tiny_server, monkeypatch, capsys):
    monkeypatch.setenv("BILLING_API_TOKEN", "wrong-token-value")
    assert main(["run", "--quiet", *DAY]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "billing API refused the token (401)" in err[0]
    assert "raw__billing_snapshots" in err[0] and "2026-10-10" in err[0]
    assert "wrong-token-value" not in err[0]
    assert not tiny_server.exists()


def test_a_source_that_is_down_publishes_nothing(tiny_server, capsys):
    import os
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    env = {
        **os.environ,
        "GATEWAY_API_URL": f"http://127.0.0.1:{closed_port}",
        "INVOICE_TRUE_HTTP_ATTEMPTS": "2",
        "INVOICE_TRUE_STEP_RETRIES": "0",  # read when the definitions load, so a fresh process
    }
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--quiet", *DAY], env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert done.returncode == 1
    err = done.stderr.strip()
    assert "gateway API" in err and "\n" not in err, err
    assert not tiny_server.exists()


def test_bad_arguments_exit_one(capsys):
    assert main(["run", "--start", "2026-10-11", "--end", "2026-10-10"]) == 1
    assert main(["run", "--start", "yesterday", "--end", "2026-10-10"]) == 1
    assert main(["run", "--start", "2019-12-31", "--end", "2020-01-02"]) == 1  # before the first partition
    assert main(["run", "--start", "2026-10-10", "--end", "2099-01-01"]) == 1  # days not complete yet
    assert "complete UTC days from 2020-01-01" in capsys.readouterr().err


def test_a_currency_mix_is_a_blocking_failure_naming_the_resources(monkeypatch, tmp_path, capsys):
    import json

    folder = DATA / "tiny_fleet" / "input"
    snapshots = json.loads((folder / "snapshots.json").read_text())
    for row in snapshots:
        if row["resource_id"] == "gpu-r2":
            row["currency"] = "EUR"
    fleet = Fleet.from_rows(
        snapshots, json.loads((folder / "requests.json").read_text()), json.loads((folder / "events.json").read_text())
    )
    with FixtureServer(fleet, token=TOKEN) as server:
        point_at(monkeypatch, server.url, tmp_path / "invoice_true.duckdb")
        assert main(["run", *DAY]) == 1
    err = capsys.readouterr().err
    assert "mix currencies" in err and "EUR: gpu-r2" in err and "USD: gpu-r1" in err
    assert not (tmp_path / "invoice_true.duckdb").exists()
