"""A run whose step failed says so in the run ledger (`marts.runs.failure`), so `invoice-true status`
knows how a run launched from the UI or the schedule ended, not only runs of the command line.

A job hook: it runs in the failed step's process, after the step's retries are spent.
"""

from datetime import date

import dagster as dg

from pipelines.ledger import ledger_for, run_started_at


@dg.failure_hook(required_resource_keys={"warehouse"})
def record_failure(context: dg.HookContext) -> None:
    ledger = ledger_for(context.resources.warehouse.lake)
    if (ledger.runs / f"{context.run_id}.failed.parquet").exists():
        return  # the first failure is the one that explains the run
    error = context.op_exception
    said = str(error).strip().splitlines() if error is not None else []
    reason = said[0] if said else type(error).__name__ if error is not None else "failed"
    tags = context.instance.get_run_by_id(context.run_id).tags
    first, last = partition_days(tags)
    where = f" [{first}...{last}]" if first and last and first != last else f" [{first}]" if first else ""
    ledger.record_run(
        context.run_id, "failed", job=context.job_name, started_at=run_started_at(context.instance, context.run_id),
        first_day=first, last_day=last, failure=f"{context.step_key}{where}: {reason}",
    )


def partition_days(tags: dict[str, str]) -> tuple[date | None, date | None]:
    """The first and last day of a run's partition or range (a monthly partition: its first day)."""
    single = tags.get("dagster/partition")
    first = tags.get("dagster/asset_partition_range_start", single)
    last = tags.get("dagster/asset_partition_range_end", single)
    return (_day(first), _day(last))


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None
