"""Run the daily job over a range of UTC days in this process, and say how it went in one line each.

Used by `invoice-true run` and `invoice-true demo`. With DAGSTER_HOME set, runs are recorded
in that instance, so they show up in the Dagster UI; otherwise an ephemeral instance is used
(pipelines/instance.py).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import dagster as dg

from pipelines import warehouse

PUBLISHED, CHECKS_FAILED, NOT_PUBLISHED = 0, 2, 1


@dataclass
class RunOutcome:
    exit_code: int
    lines: list[str] = field(default_factory=list)


def run_days(start: date, end: date) -> RunOutcome:
    from pipelines.definitions import defs

    if end <= start:
        return RunOutcome(NOT_PUBLISHED, [f"bad arguments: --end {end} must be after --start {start}"])
    last = end - timedelta(days=1)
    from pipelines.defs.partitions import FIRST_DAY

    today = datetime.now(timezone.utc).date()
    if start < date.fromisoformat(FIRST_DAY) or last >= today:
        return RunOutcome(NOT_PUBLISHED, [
            f"bad arguments: days must be complete UTC days from {FIRST_DAY} (INVOICE_TRUE_FIRST_DAY) "
            f"to {today - timedelta(days=1)}; got [{start}, {end})"
        ])
    from pipelines.config import ConfigError, load_config

    try:  # a bad file, an unknown adapter or a missing variable stops the run before any fetch
        load_config()
    except ConfigError as exc:
        return RunOutcome(NOT_PUBLISHED, [f"nothing published: {exc}"])
    from pipelines.instance import cli_instance

    instance = cli_instance()
    work = warehouse.work_path_for(warehouse.published_path_from_env())
    lock = warehouse.run_lock(work, on_wait=lambda m: print(m, file=sys.stderr))
    try:
        # The definitions load inside the live instance, and the instance is disposed after:
        # Dagster keeps a process-wide pointer to the latest instance's storage, and a load
        # that meets a collected one fails.
        # execute_in_process runs every step here, so the working file is opened once for the run.
        with instance, lock, warehouse.held_open(work):
            definitions = defs()
            job = definitions.resolve_job_def("invoice_true_daily")
            result = _execute(job, instance, partition_tags(start, last))
            outcome = outcome_of(result)
            record_finished(result, instance, start, last, outcome.exit_code)
            if outcome.exit_code != NOT_PUBLISHED:
                for month in closed_months(start, end):
                    outcome = worst(outcome, reconcile(definitions, instance, month))
    except RuntimeError as exc:
        return RunOutcome(NOT_PUBLISHED, [f"nothing published: {exc}"])
    return outcome


def partition_tags(first: date, last: date) -> dict[str, str]:
    if first == last:
        return {"dagster/partition": first.isoformat()}
    return {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }


def closed_months(start: date, end: date) -> list[date]:
    """First days of the months [start, end) touches whose invoice period is over."""
    this_month = date.today().replace(day=1)
    months, month = [], start.replace(day=1)
    while month < end and month < this_month:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def reconcile(definitions: dg.Definitions, instance: dg.DagsterInstance, month: date) -> RunOutcome:
    job = definitions.resolve_job_def("invoice_reconciliation_monthly")
    last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    result = _execute(job, instance, partition_tags(month, month))
    outcome = outcome_of(result)
    if outcome.exit_code != NOT_PUBLISHED and not invoice_rows(month):
        # No invoice issued (yet) is not a disagreement with one: say so, fail nothing.
        said = f"no invoice for {month:%Y-%m} from the billing API: not reconciled"
        record_finished(result, instance, month, last, PUBLISHED, note=said)
        return RunOutcome(PUBLISHED, [said])
    record_finished(result, instance, month, last, outcome.exit_code)
    if outcome.exit_code == NOT_PUBLISHED:  # the day's figures are published; only the month failed
        return RunOutcome(CHECKS_FAILED, [f"invoice reconciliation {month:%Y-%m}: {line}" for line in outcome.lines])
    return outcome


def invoice_rows(month: date) -> int:
    import duckdb

    with duckdb.connect(str(warehouse.published_path_from_env()), read_only=True) as con:
        return con.execute(
            "SELECT count(*) FROM raw.invoice_rows WHERE billing_period = ?", [f"{month:%Y-%m}"]
        ).fetchall()[0][0]


def worst(a: RunOutcome, b: RunOutcome) -> RunOutcome:
    rank = {PUBLISHED: 0, CHECKS_FAILED: 1, NOT_PUBLISHED: 2}
    code = max(a.exit_code, b.exit_code, key=rank.__getitem__)
    return RunOutcome(code, a.lines + b.lines)


def _execute(job, instance: dg.DagsterInstance, tags: dict[str, str]) -> dg.ExecuteInProcessResult:
    log_level = os.environ.get("INVOICE_TRUE_LOG_LEVEL", "CRITICAL")
    partition = tags.pop("dagster/partition", None)
    return job.execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        instance=instance,
        partition_key=partition,
        tags=tags,
        raise_on_error=False,
    )


# Steps after the publish: their failure leaves the published file in place, so it is a finding.
AFTER_PUBLISH = {"reports__dashboard"}


def record_finished(result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance, first: date, last: date,
                    exit_code: int, note: str | None = None) -> None:
    """A run's end in the run ledger (`marts.runs`): when, and its exit status as this command gives it."""
    from pipelines.lake import lake_for
    from pipelines.ledger import ledger_for, run_started_at

    ledger_for(lake_for(warehouse.published_path_from_env())).record_run(
        result.run_id, "finished", job=result.job_def.name, started_at=run_started_at(instance, result.run_id),
        first_day=first, last_day=last, exit_code=exit_code, failure=None if result.success else first_failure(result),
        note=note,
    )


def outcome_of(result: dg.ExecuteInProcessResult) -> RunOutcome:
    """Exit status and lines: a failed step in one line; each failed check by its finding, which
    names what failed, on how many rows, and where to look (pipelines/findings.py)."""
    from pipelines.findings import Finding

    if not result.success:
        failed = {e.step_key for e in result.all_events if e.is_step_failure}
        if failed and failed <= AFTER_PUBLISH:
            return RunOutcome(CHECKS_FAILED, [f"published, but {first_failure(result)}"])
        return RunOutcome(NOT_PUBLISHED, [f"nothing published: {first_failure(result)}"])
    findings = [Finding.from_evaluation(e) for e in result.get_asset_check_evaluations() if not e.passed]
    lines = [line for finding in findings for line in finding.lines]
    return RunOutcome(CHECKS_FAILED if findings else PUBLISHED, lines)


# Dagster wraps the exception a step raised; the reason a user needs is the innermost one.
_WRAPPERS = {"DagsterExecutionStepExecutionError", "RetryRequestedFromPolicy", "DagsterUserCodeExecutionError"}


def first_failure(result: dg.ExecuteInProcessResult) -> str:
    tags = result.dagster_run.tags
    partition = tags.get("dagster/partition") or "{}...{}".format(
        tags.get("dagster/asset_partition_range_start", "?"), tags.get("dagster/asset_partition_range_end", "?")
    )
    from pipelines.findings import Finding

    # A blocking check that failed stops its step; its finding says what failed, where to look.
    blocking = [line for e in result.get_asset_check_evaluations()
                if not e.passed and e.blocking and e.severity == dg.AssetCheckSeverity.ERROR
                for line in Finding.from_evaluation(e).lines]
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            if blocking and error.cls_name == "DagsterAssetCheckFailedError":
                return f"{event.step_key} [{partition}]: blocking check failed: {blocking[0]}"
            while error.cause is not None and error.cls_name in _WRAPPERS:
                error = error.cause
            lines = error.message.strip().splitlines()
            message = lines[0] if lines else error.cls_name
            head, _, rest = message.partition(": ")
            if head.endswith(error.cls_name):  # "pipelines.client.SourceUnavailable: ..." -> "..."
                message = rest
            return f"{event.step_key} [{partition}]: {message}"
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            return f"blocking check failed: {evaluation.asset_key.to_user_string()} {evaluation.check_name}"
    return "the run failed (see the Dagster event log)"
