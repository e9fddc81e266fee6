"""The lake on object storage (DESIGN.md "Storage": "the same layout on object storage (an
s3://-style URL)"): the tiny fleet run with INVOICE_TRUE_LAKE on an S3 API served on loopback
(moto's server, a real HTTP S3 endpoint) publishes exactly the marts of a run on a local lake, and
its days are manifests and Parquet files in the bucket."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import date

import duckdb
import pytest

from tests.conftest import PipelineRun

DAY, NEXT = date(2026, 10, 10), date(2026, 10, 11)
BUCKET = "fleet-lake"


@pytest.fixture(scope="module")
def s3_endpoint():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3(monkeypatch, s3_endpoint):
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(name, value)
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    return fs


def marts(path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM marts.{t} ORDER BY ALL").fetchall()
                for t in ("resource_hourly", "cost_per_mtok_daily", "observability_gaps", "billing_resets")}


def test_a_lake_on_object_storage_publishes_the_same_marts(s3, pipeline, tiny_fleet, monkeypatch, tmp_path):
    local = PipelineRun(monkeypatch, tmp_path / "local")
    assert local.run(tiny_fleet, DAY, NEXT).exit_code in (0, 2)

    monkeypatch.setenv("INVOICE_TRUE_LAKE", f"s3://{BUCKET}/lake")
    outcome = pipeline.run(tiny_fleet, DAY, NEXT)
    assert outcome.exit_code in (0, 2), outcome.lines
    assert marts(pipeline.published) == marts(local.published)
    assert not (pipeline.published.parent / "invoice_true.lake").exists()  # nothing landed on disk

    stored = sorted(p.rsplit("/", 1)[-1] for p in s3.find(f"{BUCKET}/lake"))
    for source in ("billing_snapshots", "requests", "fleet_events"):
        assert f"{DAY}.json" in [p.rsplit("/", 1)[-1] for p in s3.find(f"{BUCKET}/lake/{source}")]
    assert any(name.endswith(".rows.parquet") for name in stored)

    # The published file's raw views read the bucket once a reader registers the filesystem, and
    # hold exactly the rows the local lake holds.
    with duckdb.connect(str(pipeline.published), read_only=True) as con, \
            duckdb.connect(str(local.published), read_only=True) as on_disk:
        con.register_filesystem(s3)
        for view in ("raw.requests", "raw.billing_snapshots", "quarantine.requests"):
            in_bucket = con.execute(f"SELECT * FROM {view} ORDER BY ALL").fetchall()
            assert in_bucket == on_disk.execute(f"SELECT * FROM {view} ORDER BY ALL").fetchall(), view
        assert len(con.execute("SELECT * FROM raw.requests").fetchall()) == 5  # 6 served, one re-delivered
