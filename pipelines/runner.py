"""Run the daily job over a range of UTC days in this process, and say how it went in one line each.

Used by `invoice-true run` and `invoice-true demo`. With DAGSTER_HOME set, runs are recorded
in that instance, so they show up in the Dagster UI; otherwise an ephemeral instance is used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, timedelta

import dagster as dg

PUBLISHED, CHECKS_FAILED, NOT_PUBLISHED = 0, 2, 1


@dataclass
class RunOutcome:
    exit_code: int
    lines: list[str] = field(default_factory=list)


def run_days(start: date, end: date) -> RunOutcome:
    from pipelines.definitions import defs

    if end <= start:
        return RunOutcome(NOT_PUBLISHED, [f"bad arguments: --end {end} must be after --start {start}"])
    job = defs().resolve_job_def("invoice_true_daily")
    last = end - timedelta(days=1)
    tags = (
        {}
        if last == start
        else {
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        }
    )
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": os.environ.get("INVOICE_TRUE_LOG_LEVEL", "CRITICAL")}}}},
        instance=instance,
        partition_key=start.isoformat() if last == start else None,
        tags=tags,
        raise_on_error=False,
    )
    return outcome_of(result)


def outcome_of(result: dg.ExecuteInProcessResult) -> RunOutcome:
    if not result.success:
        return RunOutcome(NOT_PUBLISHED, [f"nothing published: {first_failure(result)}"])
    failed = [
        evaluation
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed
    ]
    lines = [
        f"check failed: {e.asset_key.to_user_string()} {e.check_name} ({e.severity.value.lower()})" for e in failed
    ]
    return RunOutcome(CHECKS_FAILED if failed else PUBLISHED, lines)


def first_failure(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None and error.cls_name in ("DagsterExecutionStepExecutionError",):
                error = error.cause
            message = error.message.strip().splitlines()[0] if error.message.strip() else error.cls_name
            partition = result.dagster_run.tags.get("dagster/partition") or "{}...{}".format(
                result.dagster_run.tags.get("dagster/asset_partition_range_start", "?"),
                result.dagster_run.tags.get("dagster/asset_partition_range_end", "?"),
            )
            return f"{event.step_key} [{partition}]: {message}"
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if not data.passed and data.severity == dg.AssetCheckSeverity.ERROR:
                return f"blocking check failed: {data.asset_key.to_user_string()} {data.check_name}"
    return "the run failed (see the Dagster event log)"
