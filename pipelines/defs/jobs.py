"""The one job users run (sources -> marts -> publish) and its nightly schedule."""

import dagster as dg

from pipelines.defs.failures import record_failure

# Runs that write the warehouse take turns (deploy/dagster.yaml limits this tag to one run).
WAREHOUSE_RUN_TAG = {"invoice_true/warehouse": "main"}

accounting_job = dg.define_asset_job(
    "invoice_true_daily",
    selection=dg.AssetSelection.groups("sources", "marts", "publish", "reports"),
    description="Fetch each day of the sources, build the invoice-true marts, publish the DuckDB file, "
    "render the HTML dashboard.",
    tags=WAREHOUSE_RUN_TAG,
    hooks={record_failure},  # a failed run says why in marts.runs
)

# Nightly at 03:00 UTC for the last complete day; on by default.
nightly = dg.build_schedule_from_partitioned_job(
    accounting_job, hour_of_day=3, default_status=dg.DefaultScheduleStatus.RUNNING
)
