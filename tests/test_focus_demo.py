"""The demo fleet billed from an hourly FOCUS export, end to end (rule 11, issue 12).

The same simulated fleet runs twice through the real pipeline (fixture server on loopback ->
Dagster -> published DuckDB file): once billed from its cumulative samples, once from the hourly
FOCUS export written from those samples (fixtures/wires/focus.py), with requests and events from
the fixture server both times. Every resource-hour's published spend must equal its export row
exactly, every tier-day's $/Mtok the sampled run's, and the rest of the bill must reach no replica.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from fixtures.fleet import simulate_fleet
from fixtures.server import FixtureServer
from fixtures.wires.focus import CREDIT, STORAGE_PER_DAY, TAX, config_text, write_export
from pipelines.config import CONFIG_ENV, load_config
from pipelines.runner import run_days
from tests.conftest import TOKEN, point_at

pytestmark = pytest.mark.slow  # its fixture runs the pipeline over three days of FOCUS rows

START, DAYS = date(2026, 10, 26), 3
END = START + timedelta(days=DAYS)


def query(published, sql: str) -> list[tuple]:
    with duckdb.connect(str(published), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def fleet():
    # three days: nightly hibernation of the on-demand H100, a spot interruption, a dark stretch
    return simulate_fleet(seed=11, start=START, days=DAYS, requests_per_day=4000)


@pytest.fixture(scope="module")
def runs(fleet, tmp_path_factory):
    folder = tmp_path_factory.mktemp("focus-demo")
    export = write_export(fleet, folder / "export")
    config = folder / "invoice-true.toml"
    config.write_text(config_text(export, export.parquet.parent))
    published = {}
    with pytest.MonkeyPatch.context() as monkeypatch, FixtureServer(fleet, token=TOKEN) as server:
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        for form in ("snapshots", "focus"):
            published[form] = folder / form / "invoice_true.duckdb"
            point_at(monkeypatch, server.url, published[form])
            if form == "focus":
                monkeypatch.setenv(CONFIG_ENV, str(config))
            else:
                monkeypatch.delenv(CONFIG_ENV, raising=False)
            load_config.cache_clear()
            outcome = run_days(START, END)
            assert outcome.exit_code in (0, 2), (form, outcome.lines)
        load_config.cache_clear()
    return export, published


def test_every_resource_hour_publishes_its_rows_billed_cost_exactly(runs):
    export, published = runs
    hourly = {(r, h): s for r, h, s in query(published["focus"], "SELECT resource_id, hour, spend FROM "
                                                                  "marts.resource_hourly")}
    rows = {(r["resource_id"], r["hour"]): r["billed_cost"] for r in export.rows.iter_rows(named=True)}
    assert len(rows) > 200
    for key, billed in rows.items():
        assert hourly[key] == billed, key
    # every other published hour holds no money: the rest of the bill reached no replica
    assert all(spend == 0 for key, spend in hourly.items() if key not in rows)
    assert sum(hourly.values()) == sum(rows.values())
    resolution = {s for (s,) in query(published["focus"], "SELECT DISTINCT spend_resolution_s FROM "
                                                           "marts.resource_hourly WHERE spend <> 0")}
    assert resolution == {3600}


def test_the_hours_and_the_tier_days_equal_the_sampled_runs(runs):
    _, published = runs
    sql = "SELECT resource_id, hour, spend, completion_tokens FROM marts.resource_hourly WHERE spend <> 0"
    assert sorted(query(published["focus"], sql)) == sorted(query(published["snapshots"], sql))
    sql = "SELECT day, tier, model, spend, completion_tokens, usd_per_mtok FROM marts.cost_per_mtok_daily"
    focus, sampled = sorted(query(published["focus"], sql)), sorted(query(published["snapshots"], sql))
    assert len(focus) == len(sampled) >= 3 * DAYS
    assert focus == sampled  # to the cent, and to the 9th decimal of $/Mtok
    sampled_resolution = query(published["snapshots"], "SELECT max(spend_resolution_s) FROM marts.resource_hourly "
                                                       "WHERE billing_complete")[0][0]
    assert sampled_resolution <= 120  # about a minute between samples


def test_the_rest_of_the_bill_is_landed_apart_and_never_spent(runs):
    _, published = runs
    rest = dict(query(published["focus"], "SELECT charge_category, sum(billed_cost) FROM raw.cost_rows "
                                          "WHERE skipped IS NOT NULL GROUP BY ALL"))
    assert rest["Tax"] == Decimal(TAX) and rest["Credit"] == Decimal(CREDIT)
    assert rest["Usage"] == Decimal(STORAGE_PER_DAY) * DAYS  # another resource's storage


def test_the_raw_asset_reports_the_rest_of_the_bill_in_its_metadata(runs, tmp_path, monkeypatch):
    export, _ = runs
    from pipelines.defs.ingest.assets import RAW_ASSETS
    from pipelines.defs.resources import resources_from_env

    config = tmp_path / "invoice-true.toml"
    config.write_text(config_text(export, export.csv.parent))  # the CSV form of the same export
    monkeypatch.setenv(CONFIG_ENV, str(config))
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "w.duckdb"))
    for name in ("GATEWAY_API_URL", "GATEWAY_API_TOKEN"):
        monkeypatch.setenv(name, "unused")
    load_config.cache_clear()
    asset = next(a for a in RAW_ASSETS if a.key == dg.AssetKey(["raw", "cost_rows"]))
    result = dg.materialize([asset], resources=resources_from_env(), partition_key=START.isoformat(),
                            instance=dg.DagsterInstance.ephemeral())
    metadata = result.asset_materializations_for_node(asset.node_def.name)[0].metadata
    load_config.cache_clear()
    assert metadata["rest_of_bill_tax"].value == TAX
    assert metadata["rest_of_bill_credit"].value == CREDIT
    assert metadata["rest_of_bill_usage"].value == STORAGE_PER_DAY  # one day's storage
    assert "| outside_map | Usage | 1 |" in metadata["rest_of_bill"].value
    assert metadata["rejected_rows"].value == 0
