"""Data contracts (DESIGN.md "Checks"): Great Expectations 1.x suites kept as code, one module
per table, with a DuckDB SQL twin for batches too large for pandas. See core.py."""

from __future__ import annotations

from collections.abc import Callable

from pipelines.contracts import (
    billing_snapshots, cost_per_mtok_daily, fleet_events, observability_gaps, requests, resource_hourly,
)
from pipelines.contracts.core import WHOLE_TABLE, RuleOutcome, Suite, SuiteOutcome, run_suite
from pipelines.contracts.settings import CheckSettings

# Asset key path -> the suite of its table.
SUITES: dict[tuple[str, str], Callable[[CheckSettings], Suite]] = {
    ("raw", "billing_snapshots"): billing_snapshots.suite,
    ("raw", "requests"): requests.suite,
    ("raw", "fleet_events"): fleet_events.suite,
    ("marts", "resource_hourly"): resource_hourly.suite,
    ("marts", "cost_per_mtok_daily"): cost_per_mtok_daily.suite,
    ("marts", "observability_gaps"): observability_gaps.suite,
}

__all__ = ["SUITES", "WHOLE_TABLE", "CheckSettings", "RuleOutcome", "Suite", "SuiteOutcome", "run_suite"]
