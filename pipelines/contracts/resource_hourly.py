"""Contract of marts.resource_hourly (DESIGN.md rules 4, 6 and 8), in scope by hour.

The residuals are computed exactly in DuckDB DECIMAL and then judged: zero means the parts add
up to the whole to the last microsecond and nanodollar.
"""

from __future__ import annotations

from pipelines.contracts.core import Batch, Between, NotNull, Suite, Unique
from pipelines.contracts.settings import CheckSettings


def suite(settings: CheckSettings) -> Suite:
    rows = Batch(
        "resource_hours",
        """
        SELECT row_number() OVER (ORDER BY hour, resource_id) AS _row,
            hour, resource_id, tier, running_s, busy_s, idle_s, waking_s, parked_s,
            spend, completion_tokens, prompt_tokens, requests, idle_fraction, billing_complete,
            busy_s + idle_s + waking_s - running_s AS state_residual_s,
            spend_serving + spend_idle + spend_waking + spend_parked - spend AS spend_residual
        FROM marts.resource_hourly
        WHERE hour >= $scope_start AND hour < $scope_end""",
        rules=(
            NotNull("resource_id present", column="resource_id"),
            NotNull("tier present", column="tier"),
            Unique("one row per (hour, resource_id)", key=("hour", "resource_id")),
            Between("busy + idle + waking = running", column="state_residual_s", min_value=0, max_value=0),
            Between("spend parts = spend", column="spend_residual", min_value=0, max_value=0),
            *(Between(f"{c} >= 0", column=c, min_value=0)
              for c in ("running_s", "busy_s", "idle_s", "waking_s", "parked_s", "spend",
                        "completion_tokens", "prompt_tokens", "requests")),
            Between("idle_fraction in [0, 1]", column="idle_fraction", min_value=0, max_value=1),
        ),
        example_columns=("hour", "resource_id", "running_s", "busy_s", "idle_s", "waking_s", "spend"),
        key=("resource_id", "hour"),
        noun="resource-hour",
    )
    return Suite("marts.resource_hourly", "hour", (rows,))
