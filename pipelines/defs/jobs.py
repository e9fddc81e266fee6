"""The one job users run (sources -> marts -> publish) and its nightly schedule."""

import os

import dagster as dg

from pipelines.defs.failures import record_failure

# Runs that write the warehouse take turns (deploy/dagster.yaml limits this tag to one run).
WAREHOUSE_RUN_TAG = {"invoice_true/warehouse": "main"}


def run_executor() -> dg.ExecutorDefinition:
    """How a run's steps execute (INVOICE_TRUE_EXECUTOR):

    - `in_process` (default): one process for the whole run. A step per process pays Dagster's and
      the project's imports again for each of ~15 steps (a one-day UI launch went from 86 s to
      16 s); the days of a range still land side by side, in worker processes of the raw steps
      (pipelines/ingest_days.py).
    - `multiprocess`: a process per step; the raw steps of the sources run at once (landing never
      opens the warehouse), the warehouse steps take turns on its pool.
    - `k8s`: a pod per step with dagster-k8s (deploy/k8s/): the sources' steps spread over the
      cluster, the lake on object storage (INVOICE_TRUE_LAKE=s3://...).
    """
    chosen = os.environ.get("INVOICE_TRUE_EXECUTOR", "in_process")
    if chosen == "multiprocess":
        # forkserver: each step's process forks from one that has imported Dagster and the code
        # location already (spawn, the default, imports them again for every step).
        return dg.multiprocess_executor.configured({"start_method": {"forkserver": {}}}, name="multiprocess")
    if chosen == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    if chosen != "in_process":
        raise ValueError(f"INVOICE_TRUE_EXECUTOR is {chosen!r}; one of in_process, multiprocess, k8s")
    return dg.in_process_executor

accounting_job = dg.define_asset_job(
    "invoice_true_daily",
    selection=dg.AssetSelection.groups("sources", "marts", "publish", "reports"),
    description="Fetch each day of the sources, build the invoice-true marts, publish the DuckDB file, "
    "render the HTML dashboard.",
    tags=WAREHOUSE_RUN_TAG,
    executor_def=run_executor(),
    hooks={record_failure},  # a failed run says why in marts.runs
)

# Nightly at 03:00 UTC for the last complete day; on by default.
nightly = dg.build_schedule_from_partitioned_job(
    accounting_job, hour_of_day=3, default_status=dg.DefaultScheduleStatus.RUNNING
)
