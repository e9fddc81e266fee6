"""The daily job as a module-level function, so Dagster's multiprocess executor can rebuild it in
each step's process (`dg.reconstructable`), as a run launched from the UI does."""

from pipelines.definitions import defs


def daily_job():
    return defs().resolve_job_def("invoice_true_daily")
