"""Shared test plumbing: run the real pipeline (fixture server on loopback -> Dagster -> DuckDB file)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from fixtures.rows import Fleet
from fixtures.server import FixtureServer
from pipelines.runner import RunOutcome, run_days

TOKEN = "test-token-4f1c2a"
DATA = Path(__file__).parent / "data"


def point_at(monkeypatch: pytest.MonkeyPatch, url: str, published: Path) -> None:
    """Configure both sources at `url` with the test token, publishing to `published`."""
    for name in ("BILLING_API_URL", "GATEWAY_API_URL"):
        monkeypatch.setenv(name, url)
    for name in ("BILLING_API_TOKEN", "GATEWAY_API_TOKEN"):
        monkeypatch.setenv(name, TOKEN)
    monkeypatch.setenv("WAREHOUSE_PATH", str(published))


class PipelineRun:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
        self.monkeypatch, self.folder = monkeypatch, folder
        self.published = folder / "published" / "invoice_true.duckdb"

    def run(self, fleet: Fleet, start: date, end: date) -> RunOutcome:
        with FixtureServer(fleet, token=TOKEN) as server:
            point_at(self.monkeypatch, server.url, self.published)
            return run_days(start, end)

    def query(self, sql: str, params: list | None = None) -> list[dict]:
        with duckdb.connect(str(self.published), read_only=True) as con:
            cursor = con.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files holding a `slow` test run first: with the files shared among processes
    (`make test` runs pytest-xdist with --dist loadfile), the longest start early and the short
    ones fill in around them, instead of one long file starting last on its own."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: order within a file is kept


@pytest.fixture(autouse=True)
def fresh_dagster_context():
    """Each test starts with no Dagster state storage in context.

    Some Dagster helpers (schedule evaluation) set a process-wide pointer to an instance's
    storage and leave it behind; a later definitions load then meets a collected instance.
    """
    from dagster._core.storage.defs_state.base import _current_storage

    token = _current_storage.set(None)
    yield
    try:
        _current_storage.reset(token)
    except ValueError:
        _current_storage.set(None)


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> PipelineRun:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return PipelineRun(monkeypatch, tmp_path)


@pytest.fixture
def tiny_fleet() -> Fleet:
    return Fleet.from_json_dir(DATA / "tiny_fleet" / "input")


@pytest.fixture(autouse=True)
def fresh_config(monkeypatch: pytest.MonkeyPatch):
    """Each test reads the configuration afresh (a process reads it once and keeps it), and only the
    file a test names: a developer's own INVOICE_TRUE_CONFIG never leaks into the tests."""
    from pipelines.config import CONFIG_ENV, load_config

    monkeypatch.delenv(CONFIG_ENV, raising=False)
    load_config.cache_clear()
    yield
    load_config.cache_clear()
