"""The schedules pick the right partition: the last complete UTC day nightly, the month before monthly."""

from datetime import datetime, timezone

import dagster as dg
import pytest

from pipelines.definitions import defs


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return defs()


def partitions_requested(definitions, name: str, at: datetime) -> list[str]:
    schedule = definitions.resolve_schedule_def(name)
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=at)
        result = schedule.evaluate_tick(context)
    return [request.partition_key for request in result.run_requests or []]


def test_nightly_schedule_runs_the_last_complete_utc_day_at_three(definitions):
    schedule = definitions.resolve_schedule_def("invoice_true_daily_schedule")
    assert schedule.cron_schedule == "0 3 * * *"
    assert schedule.execution_timezone in (None, "UTC")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    at = datetime(2026, 11, 5, 3, 0, tzinfo=timezone.utc)
    assert partitions_requested(definitions, "invoice_true_daily_schedule", at) == ["2026-11-04"]


def test_nightly_schedule_crosses_a_month_edge(definitions):
    at = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)
    assert partitions_requested(definitions, "invoice_true_daily_schedule", at) == ["2026-11-30"]


def test_monthly_reconciliation_runs_the_month_before_once_the_invoice_is_due(definitions):
    schedule = definitions.resolve_schedule_def("invoice_reconciliation_monthly_schedule")
    assert schedule.cron_schedule == "0 6 5 * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    at = datetime(2026, 12, 5, 6, 0, tzinfo=timezone.utc)
    assert partitions_requested(definitions, "invoice_reconciliation_monthly_schedule", at) == ["2026-11-01"]


def test_range_runs_are_one_run_and_writers_share_one_pool(definitions):
    for key in definitions.resolve_asset_graph().get_all_asset_keys():
        node = definitions.resolve_asset_graph().get(key)
        if node.partitions_def is not None:
            assert node.backfill_policy == dg.BackfillPolicy.single_run(), key
            # the raw steps land in the lake and never open the warehouse: they need no turn on it
            assert node.pools == (set() if key.path[0] == "raw" and key.path[1] != "invoice_rows"
                                  else {"duckdb_warehouse"}), key
    assert definitions.resolve_job_def("invoice_true_daily").tags["invoice_true/warehouse"] == "main"
