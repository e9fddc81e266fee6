"""Publishing never blocks or tears: a SQL tool holding the published file open (a real second process)
never makes a run fail and never sees a half-written state; two runs at once are serialised."""

import os
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from fixtures.server import FixtureServer
from tests.conftest import TOKEN

DAY, NEXT = date(2026, 10, 10), date(2026, 10, 11)

READER = textwrap.dedent(
    """
    import sys, time, duckdb
    path, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    held = duckdb.connect(path, read_only=True)   # a SQL tool left open for the whole run
    held_total = held.sql("SELECT sum(spend) FROM marts.resource_hourly").fetchall()[0][0]
    reads = 0
    deadline = time.monotonic() + seconds
    with open(out, "w") as log:
        while time.monotonic() < deadline:
            with duckdb.connect(path, read_only=True) as con:
                hourly, models, tiers = con.sql(
                    "SELECT (SELECT sum(spend) FROM marts.resource_hourly),"
                    " (SELECT sum(spend) FROM marts.cost_per_mtok_daily WHERE model <> '*'),"
                    " (SELECT sum(spend) FROM marts.cost_per_mtok_daily WHERE model = '*')"
                ).fetchall()[0]
            reads += 1
            if not (hourly == models == tiers):
                log.write(f"TORN {hourly} {models} {tiers}\\n")
        assert held.sql("SELECT sum(spend) FROM marts.resource_hourly").fetchall()[0][0] == held_total
        log.write(f"READS {reads}\\n")
    """
)


OLD_CLIENT = "1.1.3"  # the oldest DuckDB the published file is for (SQL tools bundle old builds)
OLD_READ = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print(duckdb.__version__)
    print(con.execute("SELECT count(*) FROM marts.resource_hourly").fetchall()[0][0])
    print(con.execute("SELECT count(*) FROM raw.requests").fetchall()[0][0])
    print(con.execute("SELECT count(*) FROM quarantine.requests").fetchall()[0][0])
    print(con.execute("SELECT comment FROM duckdb_columns() WHERE table_name = 'requests' AND schema_name = 'raw' "
                      "AND column_name = 'finished_at'").fetchall()[0][0])
    """
)


def old_duckdb() -> str:
    """A Python with DuckDB 1.1 (a venv cached under .cache/, made with pip on first use)."""
    folder = Path(__file__).resolve().parent.parent / ".cache" / f"duckdb-{OLD_CLIENT}"
    python = folder / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        installed = subprocess.run([str(python), "-m", "pip", "install", "-q", f"duckdb=={OLD_CLIENT}", "pytz"],
                                   capture_output=True, text=True)
        if installed.returncode:
            shutil.rmtree(folder, ignore_errors=True)
            pytest.skip(f"cannot install duckdb {OLD_CLIENT} here: {installed.stderr.strip()[-200:]}")
    return str(python)


def test_published_file_is_readable_by_duckdb_1_1(pipeline, tiny_fleet):
    pipeline.run(tiny_fleet, DAY, NEXT)
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{pipeline.published}' AS published (READ_ONLY)")
        (tags,) = con.sql("SELECT tags FROM duckdb_databases() WHERE database_name = 'published'").fetchall()[0]
        expected = con.execute(
            "SELECT (SELECT count(*) FROM published.marts.resource_hourly), (SELECT count(*) FROM published.raw.requests), "
            "(SELECT count(*) FROM published.quarantine.requests)").fetchall()[0]
    assert tags["storage_version"].startswith("v1.")
    # A real DuckDB 1.1 client opens it: marts, the raw history (views over the lake's Parquet) and COMMENTs.
    read = subprocess.run([old_duckdb(), "-c", OLD_READ, str(pipeline.published)], capture_output=True, text=True)
    assert read.returncode == 0, read.stderr[-2000:]
    version, hourly, requests, quarantined, comment = read.stdout.strip().splitlines()
    assert version == OLD_CLIENT
    assert (int(hourly), int(requests), int(quarantined)) == expected and int(requests) == 5
    assert comment == "When the response ended; never before `received_at`."


@pytest.mark.slow
def test_a_reader_holding_the_file_open_never_blocks_a_run_nor_sees_a_torn_state(pipeline, tiny_fleet, tmp_path):
    assert pipeline.run(tiny_fleet, DAY, NEXT).exit_code in (0, 2)
    log = tmp_path / "reader.log"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(pipeline.published), str(log), "12"])
    try:
        time.sleep(1.5)
        for _ in range(3):
            assert pipeline.run(tiny_fleet, DAY, NEXT).exit_code in (0, 2)
    finally:
        assert reader.wait(timeout=60) == 0
    lines = log.read_text().splitlines()
    assert not [line for line in lines if line.startswith("TORN")]
    assert int(lines[-1].split()[1]) > 10


@pytest.mark.slow
def test_two_runs_at_once_are_serialised_not_failed(tiny_fleet, tmp_path):
    published = tmp_path / "invoice_true.duckdb"
    with FixtureServer(tiny_fleet, token=TOKEN) as server:
        env = {
            **os.environ,
            "BILLING_API_URL": server.url,
            "GATEWAY_API_URL": server.url,
            "BILLING_API_TOKEN": TOKEN,
            "GATEWAY_API_TOKEN": TOKEN,
            "WAREHOUSE_PATH": str(published),
        }
        env.pop("DAGSTER_HOME", None)
        command = [sys.executable, "-m", "pipelines.cli", "run", "--start", str(DAY), "--end", str(NEXT)]
        runs = [subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    for code, stderr in results:
        assert code in (0, 2), stderr  # 2: the tiny fleet's billing gap fails the dark-billing check
        assert "lock" not in stderr.lower()
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM raw.requests").fetchall() == [(5,)]


def test_every_published_table_and_column_has_a_comment(pipeline, tiny_fleet):
    pipeline.run(tiny_fleet, DAY, NEXT)
    published = ("raw", "quarantine", "marts")
    with duckdb.connect(str(pipeline.published), read_only=True) as con:
        tables = con.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
            "WHERE list_contains(?, schema_name) AND coalesce(comment, '') = ''",
            [list(published)],
        ).fetchall()
        columns = con.execute(
            "SELECT schema_name || '.' || table_name || '.' || column_name FROM duckdb_columns() "
            "WHERE list_contains(?, schema_name) AND coalesce(comment, '') = ''",
            [list(published)],
        ).fetchall()
        schemas = {r[0] for r in con.execute("SELECT DISTINCT schema_name FROM duckdb_tables()").fetchall()}
    assert tables == [] and columns == []
    assert schemas == set(published)
