"""Reports: the self-contained HTML dashboard, rendered from the published DuckDB file after each run.

Written next to the published file (`dashboard.html`) or to DASHBOARD_PATH. It reads the
published file read-only (what SQL tools see); if a SQL tool holds that file open read-write, it
reads the pipeline's working file instead, which holds the same marts, and says so.
"""

import os

import dagster as dg
import duckdb

from dashboards import data as dashboard_data
from dashboards.render import dashboard_path_for, render_dashboard
from pipelines.defs.accounting.assets import MARTS
from pipelines.defs.partitions import daily, single_run
from pipelines.defs.resources import Warehouse
from pipelines.config import load_config

REPORT_MARTS = ("crossover", "demand_profile")
DEPS = [
    *dict.fromkeys(dg.AssetKey(["marts", name]) for name in (*MARTS, *REPORT_MARTS)),
    dg.AssetKey(["published_warehouse"]),
]


@dg.asset(
    key=["reports", "dashboard"],
    deps=DEPS,
    partitions_def=daily,
    backfill_policy=single_run,
    group_name="reports",
    kinds={"html"},
    owners=["team:fleet-finance"],
    pool="duckdb_warehouse",
    description="The self-contained HTML dashboard (no network, charts as inline SVG), written after each run "
    "next to the published DuckDB file as dashboard.html, or to DASHBOARD_PATH. Covers every published day.",
)
def dashboard(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    settings = load_config().accounting
    band = (settings.band_low_usd_per_mtok, settings.band_high_usd_per_mtok)
    published = warehouse.published_path
    try:
        with duckdb.connect(str(published), read_only=True) as con:
            warehouse.lake.register(con)  # its raw and quarantine views read the lake's files
            data = dashboard_data.load(con, band)
        source = "published file"
    except duckdb.IOException as exc:
        context.log.warning(f"{published} is held by another process ({exc}); reading the working file instead")
        with warehouse.connect() as con:
            data = dashboard_data.load(con, band)
        source = "working file (published file was locked)"
    out = dashboard_path_for(published)
    rendered = render_dashboard(published, out, band=band, data=data)
    context.log.info(f"dashboard written to {rendered.path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(rendered.path)),
            "url": dg.MetadataValue.url(rendered.path.as_uri()),
            "bytes": rendered.bytes,
            "days": dg.MetadataValue.text(
                f"{rendered.days[0]} to {rendered.days[1]} (UTC, inclusive)" if rendered.days else "none published"
            ),
            "read_from": dg.MetadataValue.text(source),
            "configured_by": dg.MetadataValue.text(
                "DASHBOARD_PATH" if os.environ.get("DASHBOARD_PATH") else "default: beside WAREHOUSE_PATH"
            ),
        }
    )
