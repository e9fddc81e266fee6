"""Secrets: bearer tokens and credentials in a source URL never appear in logs (every logger, at DEBUG),
the CLI's output, the Dagster instance (event log, run records and metadata), exception text, or the bytes
of the DuckDB files; a URL with `user:pass@` is used and shown without them."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from fixtures.faults import FaultPlan, RevokedToken
from fixtures.rows import Fleet
from fixtures.server import FixtureServer
from tests.conftest import DATA
from tests.test_faults import FAST_HTTP, fast_env

TOKEN = "tok-S3CR3T-7c1e0f9a5b2d4e6f"  # distinctive, so any copy of it is found
URL_USER, URL_PASSWORD = "svc-user", "url-pa55w0rd-91d7"
SECRETS = (TOKEN, TOKEN[4:16], URL_PASSWORD, f"{URL_USER}:")
DAY = ["--start", "2026-10-10", "--end", "2026-10-11"]


INSTANCE_DUMP = """
import sys, dagster as dg
instance = dg.DagsterInstance.from_config(sys.argv[1])
runs = instance.get_runs()
print("RUNS", len(runs))
for run in runs:
    print(repr(run))
    for entry in instance.all_logs(run.run_id):
        print(repr(entry))
"""


def with_credentials(url: str) -> str:
    return url.replace("http://", f"http://{URL_USER}:{URL_PASSWORD}@")


def leaks(blob: bytes | str) -> list[str]:
    data = blob if isinstance(blob, bytes) else blob.encode("utf-8", "replace")
    found = [s for s in SECRETS if s.encode() in data]
    # Also as UTF-16 (how some storages keep text) and base64 of "user:pass" (a Basic header).
    import base64

    found += [s for s in SECRETS if s.encode("utf-16-le") in data]
    if base64.b64encode(f"{URL_USER}:{URL_PASSWORD}".encode()) in data:
        found.append("basic-auth header")
    return found


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.fixture
def tiny_fleet_():
    return Fleet.from_json_dir(DATA / "tiny_fleet" / "input")


@pytest.mark.slow
def test_no_secret_in_cli_output_dagster_storage_or_duckdb_files(tiny_fleet_, tmp_path):
    home, out = tmp_path / "dagster_home", tmp_path / "out"
    home.mkdir()
    published = out / "invoice_true.duckdb"
    plan = FaultPlan(RevokedToken(paths=["/v1/usage/requests"], after=10**9))  # armed for the second run
    outputs = []
    with plan.server(tiny_fleet_, TOKEN) as server:
        env = {**os.environ, **FAST_HTTP, "DAGSTER_HOME": str(home), "INVOICE_TRUE_LOG_LEVEL": "DEBUG",
               "BILLING_API_URL": with_credentials(server.url), "GATEWAY_API_URL": with_credentials(server.url),
               "BILLING_API_TOKEN": TOKEN, "GATEWAY_API_TOKEN": TOKEN, "WAREHOUSE_PATH": str(published),
               "INVOICE_TRUE_STEP_RETRIES": "0"}
        command = [sys.executable, "-m", "pipelines.cli", "run", *DAY]
        first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        outputs.append(first.stdout + first.stderr)
        assert first.returncode in (0, 2), first.stderr[-3000:]  # credentials in the URL do not break the bearer token
        plan.schedules[0].after = 0  # the gateway now refuses the token: a failing run, with its exception
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        outputs.append(second.stdout + second.stderr)
    assert second.returncode == 1 and "gateway API refused the token (401)" in second.stderr, second.stderr[-3000:]
    assert len(outputs[0]) > 1000, "DEBUG should have logged the run"  # the log was really captured

    for text in outputs:
        assert leaks(text) == []
    # The Dagster instance: sqlite run, event log and schedule storage, compute logs, everything on disk.
    stored = files_under(home)
    assert any(p.suffix == ".db" for p in stored)
    for path in stored:
        assert leaks(path.read_bytes()) == [], path
    # ... and what its API shows: run records, tags, run config, every event (failures with their causes).
    # (Read in another process: an instance opened here would leave Dagster's context state behind.)
    shown = subprocess.run([sys.executable, "-c", INSTANCE_DUMP, str(home)], capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert int(shown.stdout.split()[1]) >= 2 and "STEP_FAILURE" in shown.stdout and "refused the token" in shown.stdout
    assert leaks(shown.stdout) == []
    # The published file, the working file and anything else written beside them.
    for path in files_under(out):
        assert leaks(path.read_bytes()) == [], path


def test_no_secret_in_any_python_log_record_at_debug(tiny_fleet_, tmp_path, monkeypatch, caplog):
    """Every logger of the process (httpx, httpcore, dagster, pipelines) at DEBUG, in-process."""
    from pipelines.runner import run_days

    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "dagster", "pipelines"):
        caplog.set_level(logging.DEBUG, logger=name)
    with FixtureServer(tiny_fleet_, token=TOKEN) as server:
        fast_env(monkeypatch, with_credentials(server.url), tmp_path / "invoice_true.duckdb", token=TOKEN)
        outcome = run_days(date(2026, 10, 10), date(2026, 10, 11))
    assert outcome.exit_code in (0, 2), outcome.lines
    records = caplog.records
    assert any(r.name.startswith("httpx") for r in records), "httpx's request log was captured"
    for record in records:
        assert leaks(record.getMessage()) == [], (record.name, record.getMessage())
    # The URL is shown (httpx logs each request) without its credentials.
    shown = [r.getMessage() for r in records if r.name == "httpx"]
    assert shown and all("@" not in m for m in shown), shown[:2]


def test_the_client_shows_no_credentials_and_sends_only_the_bearer_token():
    import httpx

    from pipelines.client import SourceAuthError, SourceClient

    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401)

    client = SourceClient(f"http://{URL_USER}:{URL_PASSWORD}@billing.example", TOKEN, source="billing API",
                          transport=httpx.MockTransport(handler))
    with pytest.raises(SourceAuthError) as raised:
        list(client.iter_pages("/v1/billing/snapshots", {"start": "a", "end": "b"}))
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen[0].url.userinfo == b""
    for text in (str(raised.value), repr(raised.value), repr(client), str(client)):
        assert leaks(text) == [], text


def test_the_dagster_ui_shows_source_urls_without_credentials():
    """Resource config is part of the code location's snapshot, which the UI shows; tokens are EnvVars.
    (In another process: loading definitions here would meet Dagster context state other tests left.)"""
    script = (
        "from dagster._core.remote_representation.external_data import RepositorySnap\n"
        "from dagster._serdes import serialize_value\n"
        "from pipelines.definitions import defs\n"
        "print(serialize_value(RepositorySnap.from_def(defs().get_repository_def())))\n"
    )
    env = {**os.environ, "BILLING_API_URL": f"http://{URL_USER}:{URL_PASSWORD}@billing.example:8443/api",
           "BILLING_API_TOKEN": TOKEN}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "billing.example:8443/api" in done.stdout  # the URL is shown...
    assert leaks(done.stdout) == []  # ...without its credentials, and no token
