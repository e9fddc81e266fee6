"""The one job users run (sources -> marts -> publish) and its nightly schedule."""

import dagster as dg

accounting_job = dg.define_asset_job(
    "invoice_true_daily",
    selection=dg.AssetSelection.groups("sources", "marts", "publish"),
    description="Fetch each day of the sources, build the invoice-true marts, publish the DuckDB file.",
)

# Nightly at 03:00 UTC for the last complete day; on by default.
nightly = dg.build_schedule_from_partitioned_job(
    accounting_job, hour_of_day=3, default_status=dg.DefaultScheduleStatus.RUNNING
)
