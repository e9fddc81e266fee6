"""Past one machine (issue 13): Dagster's instance on a real PostgreSQL (dagster-postgres, as
deploy/k8s/dagster.yaml has it), running a partitioned backfill with the multiprocess executor, the
way several run workers share one instance. The run, its events and its steps' processes are in
PostgreSQL; the published file holds every day of the range."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import adbc_driver_postgresql.dbapi as pg_dbapi
import pytest

from fixtures.fleet import simulate_fleet
from fixtures.server import FixtureServer
from tests.conftest import TOKEN
from tests.servers.postgres import postgres  # noqa: F401 - the session fixture

START, LAST = date(2026, 10, 26), date(2026, 10, 27)


@pytest.mark.slow
def test_a_backfill_on_a_postgres_instance_with_the_multiprocess_executor(postgres, tmp_path):  # noqa: F811
    postgres.admin("DROP DATABASE IF EXISTS dagster", "CREATE DATABASE dagster")
    home = tmp_path / "dagster_home"
    home.mkdir()
    su = postgres.superuser
    (home / "dagster.yaml").write_text(
        "storage:\n  postgres:\n    postgres_db:\n"
        f"      hostname: {postgres.host}\n      port: {postgres.port}\n      username: {su.name}\n"
        "      password: { env: DAGSTER_PG_PASSWORD }\n      db_name: dagster\n"
        # SQLAlchemy 2.1 reads postgresql:// with psycopg 3, whose server-side binding breaks
        # dagster-postgres' NOTIFY; psycopg2 (its own dependency) is what it is written for.
        "      scheme: postgresql+psycopg2\n"
        "telemetry:\n  enabled: false\n")
    published = tmp_path / "warehouse" / "invoice_true.duckdb"
    fleet = simulate_fleet(seed=23, start=START, days=2, requests_per_day=2000)
    with FixtureServer(fleet, token=TOKEN) as server:
        env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_PG_PASSWORD": su.password,
               "INVOICE_TRUE_EXECUTOR": "multiprocess", "BILLING_API_URL": server.url, "GATEWAY_API_URL": server.url,
               "BILLING_API_TOKEN": TOKEN, "GATEWAY_API_TOKEN": TOKEN, "WAREHOUSE_PATH": str(published)}
        env.pop("INVOICE_TRUE_CONFIG", None)
        done = subprocess.run(
            [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "pipelines.definitions",
             "--select", "group:sources or group:marts or group:publish or group:reports",
             "--partition-range", f"{START}...{LAST}"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    with pg_dbapi.connect(postgres.dsn(su, "dagster")) as con, con.cursor() as cur:
        cur.execute("SELECT run_id, status, run_body FROM runs")
        runs = cur.fetchall()
        assert [status for _, status, _ in runs] == ["SUCCESS"]
        run_id, _, body = runs[0]
        tags = json.loads(body)["tags"]
        assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
            str(START), str(LAST))
        cur.execute("SELECT event FROM event_logs WHERE run_id = $1 AND dagster_event_type = 'STEP_START'", [run_id])
        step_pids = {json.loads(event)["dagster_event"]["pid"] for (event,) in cur.fetchall()}
    assert len(step_pids) > 5  # a process per step: the multiprocess executor ran them

    import duckdb

    with duckdb.connect(str(published), read_only=True) as con:
        days = [d for (d,) in con.execute("SELECT DISTINCT day FROM marts.cost_per_mtok_daily ORDER BY 1").fetchall()]
    assert days == [START, LAST]
