"""The real path, end to end: a simulated fleet served on loopback, fetched over HTTP by Dagster, landed
in a real DuckDB file, accounted and published. Row counts are checked against what the fixture served."""

from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from fixtures.fleet import simulate_fleet

DAY = date(2026, 10, 26)


@pytest.fixture(scope="module")
def small_fleet():
    return simulate_fleet(seed=11, start=DAY, days=2, requests_per_day=6_000)


def served(rows, start: datetime, end: datetime) -> pl.DataFrame:
    frame = rows.frame()
    return frame.filter((pl.col("at") >= start) & (pl.col("at") < end))


def window(day: date, margin_s: int = 900) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) - timedelta(seconds=margin_s)
    return start, start + timedelta(days=1, seconds=2 * margin_s)


def test_a_day_lands_every_served_row_once(pipeline, small_fleet):
    outcome = pipeline.run(small_fleet, DAY, DAY + timedelta(days=1))
    assert outcome.exit_code in (0, 2), outcome.lines
    start, end = window(DAY)
    requests = served(small_fleet.requests, start, end)
    unique_ids = requests.select(pl.col("json").str.json_path_match("$.request_id")).n_unique()
    assert unique_ids < requests.height  # the fixture delivers some rows twice
    assert pipeline.query("SELECT count(*) AS n, count(DISTINCT request_id) AS ids FROM raw.requests") == [
        {"n": unique_ids, "ids": unique_ids}
    ]
    snapshots = served(small_fleet.snapshots, start, end).height
    assert pipeline.query("SELECT count(*) AS n FROM raw.billing_snapshots") == [{"n": snapshots}]
    events = served(small_fleet.events, start, end).height
    assert pipeline.query('SELECT count(*) AS n FROM raw.fleet_events') == [{"n": events}]
    assert pipeline.query("SELECT count(*) AS n FROM quarantine.requests") == [{"n": 0}]


def test_rerunning_a_day_leaves_identical_tables(pipeline, small_fleet):
    tables = ["raw.requests", "raw.billing_snapshots", "marts.resource_hourly", "marts.cost_per_mtok_daily"]

    def snapshot():
        return {t: pipeline.query(f"SELECT * FROM {t} ORDER BY ALL") for t in tables}

    pipeline.run(small_fleet, DAY, DAY + timedelta(days=1))
    first = snapshot()
    pipeline.run(small_fleet, DAY, DAY + timedelta(days=1))
    assert snapshot() == first
    assert len(first["marts.resource_hourly"]) > 0


def test_every_published_cent_is_in_one_hourly_row_and_one_model_row(pipeline, small_fleet):
    pipeline.run(small_fleet, DAY, DAY + timedelta(days=2))
    total = pipeline.query("SELECT sum(spend) AS s FROM marts.resource_hourly")[0]["s"]
    models = pipeline.query("SELECT sum(spend) AS s FROM marts.cost_per_mtok_daily WHERE model <> '*'")[0]["s"]
    tiers = pipeline.query("SELECT sum(spend) AS s FROM marts.cost_per_mtok_daily WHERE model = '*'")[0]["s"]
    assert total == models == tiers
    assert total > 0


def truncated(fleet, cutoff: datetime):
    from dataclasses import replace

    from fixtures.rows import SourceRows

    def cut(rows):
        return SourceRows.from_frame(rows.frame().filter(pl.col("at") < cutoff))

    return replace(fleet, snapshots=cut(fleet.snapshots), requests=cut(fleet.requests), events=cut(fleet.events))


@pytest.mark.slow
def test_the_next_run_makes_a_day_whole_once_the_sample_after_it_is_stored(pipeline, small_fleet):
    cutoff = datetime(2026, 10, 26, 23, 59, 30, tzinfo=timezone.utc)
    pipeline.run(truncated(small_fleet, cutoff), DAY, DAY + timedelta(days=1))
    last_hour = "SELECT bool_and(billing_complete) AS complete FROM marts.resource_hourly WHERE hour = '2026-10-26 23:00Z'"
    assert pipeline.query(last_hour) == [{"complete": False}]
    assert pipeline.query("SELECT count(*) AS n FROM marts.observability_gaps WHERE gap_end IS NULL")[0]["n"] > 0

    pipeline.run(small_fleet, DAY + timedelta(days=1), DAY + timedelta(days=2))
    assert pipeline.query(last_hour) == [{"complete": True}]
    assert pipeline.query("SELECT count(*) AS n FROM marts.observability_gaps WHERE gap_end IS NULL") == [{"n": 0}]
    whole = pipeline.query("SELECT * FROM marts.cost_per_mtok_daily WHERE day = '2026-10-26' ORDER BY ALL")

    pipeline.run(small_fleet, DAY, DAY + timedelta(days=2))  # the same day built from the full data
    assert pipeline.query("SELECT * FROM marts.cost_per_mtok_daily WHERE day = '2026-10-26' ORDER BY ALL") == whole


def test_with_no_source_urls_the_bundled_demo_fleet_is_read_over_http_and_labelled(monkeypatch, tmp_path):
    import dagster as dg

    from pipelines.definitions import defs

    for name in ("BILLING_API_URL", "GATEWAY_API_URL", "BILLING_API_TOKEN", "GATEWAY_API_TOKEN", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "invoice_true.duckdb"))
    definitions = defs()
    job = definitions.resolve_job_def("invoice_true_daily")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance,
            partition_key="2026-10-26",
            asset_selection=[dg.AssetKey(["raw", "fleet_events"]), dg.AssetKey(["raw", "billing_snapshots"])],
            raise_on_error=True,
        )
        labels = {
            m.asset_key.to_user_string(): m.metadata["source"].value for m in result.asset_materializations_for_node(
                "raw__fleet_events"
            ) + result.asset_materializations_for_node("raw__billing_snapshots")
        }
    assert labels == {
        "raw/fleet_events": "bundled demo fleet (fixtures/): demo data, not a real fleet",
        "raw/billing_snapshots": "bundled demo fleet (fixtures/): demo data, not a real fleet",
    }
