"""Publishing: the working file's raw, quarantine and marts schemas, copied to WAREHOUSE_PATH atomically;
the run is then recorded as published in the run ledger (pipelines/ledger.py, `marts.runs`)."""


from datetime import timedelta

import dagster as dg

from pipelines import warehouse as files
from pipelines.defs.accounting.assets import MARTS
from pipelines.defs.partitions import daily, single_run
from pipelines.defs.resources import Warehouse
from pipelines.ledger import ledger_for, run_started_at
from pipelines.sources.registry import SOURCES


@dg.asset(
    key=["published_warehouse"],
    deps=[dg.AssetKey(["marts", name]) for name in MARTS],
    partitions_def=daily,
    backfill_policy=single_run,
    group_name="publish",
    kinds={"duckdb"},
    owners=["team:fleet-finance"],
    pool="duckdb_warehouse",
    description="The DuckDB file SQL tools open (WAREHOUSE_PATH), replaced atomically after each run and "
    "readable by DuckDB 1.1 and newer.",
)
def published_warehouse(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    lake = warehouse.lake
    with warehouse.connect() as con:
        path = files.publish(con, warehouse.published_path, lake)
    removed = lake.collect_garbage(list(SOURCES))
    context.log.info(f"published {path}; {removed} superseded lake files removed")
    window = context.partition_time_window
    ledger_for(lake).record_run(
        context.run.run_id, "published", job=context.run.job_name,
        started_at=run_started_at(context.instance, context.run.run_id),
        first_day=window.start.date(), last_day=(window.end - timedelta(days=1)).date(),
    )
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(path)), "bytes": path.stat().st_size,
                  "lake": dg.MetadataValue.path(str(lake.root)), "lake_bytes": lake.stored_bytes()}
    )
