"""Contract of raw.billing_snapshots (DESIGN.md "Sources", rules 1 and 10), in scope by sampled_at.

The window work is DuckDB's: each sample's previous sample of the same resource (read up to
``reset_lookback_s`` before the scope) gives ``cumulative_change``, null across a new
billing_period_start or after a terminated sample (a new history). GX then checks the
derived columns like any other.
"""

from __future__ import annotations

from models.sources import PRICE_MODELS, SNAPSHOT_STATES
from pipelines.contracts.core import (
    AtLeastColumn, Batch, Between, DistinctAtMost, InSet, NonEmpty, NotNull, Suite, Unique,
)
from pipelines.contracts.settings import CheckSettings
from pipelines.findings import plural

ORDERED = """
WITH read_back AS (
    SELECT * FROM raw.billing_snapshots
    WHERE sampled_at >= $scope_start - to_seconds({lookback}) AND sampled_at < $scope_end
),
ordered AS (
    SELECT *,
        lag(cumulative_cost)      OVER w AS previous_cumulative,
        lag(billing_period_start) OVER w AS previous_period_start,
        lag(state)                OVER w AS previous_state
    FROM read_back
    WINDOW w AS (PARTITION BY resource_id ORDER BY sampled_at)
),
judged AS (
    SELECT *,
        CASE WHEN previous_period_start = billing_period_start AND previous_state <> 'terminated'
             THEN cumulative_cost - previous_cumulative END AS cumulative_change
    FROM ordered
    WHERE sampled_at >= $scope_start
)
"""


def suite(settings: CheckSettings) -> Suite:
    ordered = ORDERED.format(lookback=int(settings.reset_lookback_s))
    samples = Batch(
        "samples",
        ordered + f"""
        SELECT row_number() OVER (ORDER BY resource_id, sampled_at) AS _row,
            resource_id, sampled_at, tier, state, price_model, gpu_count, rate_per_hour,
            cumulative_cost, previous_cumulative, cumulative_change, billing_period_start, currency
        FROM judged""",
        rules=(
            NotNull("resource_id present", column="resource_id"),
            NonEmpty("resource_id not empty", column="resource_id"),
            NotNull("sampled_at present", column="sampled_at"),
            NotNull("tier present", column="tier"),
            Unique("one sample per (resource_id, sampled_at)", key=("resource_id", "sampled_at")),
            Between("cumulative_cost >= 0", column="cumulative_cost", min_value=0),
            Between("rate_per_hour >= 0", column="rate_per_hour", min_value=0),
            Between("gpu_count >= 0", column="gpu_count", min_value=0),
            InSet("state is a known state", column="state", values=SNAPSHOT_STATES),
            InSet("price_model is a known price model", column="price_model", values=PRICE_MODELS),
            AtLeastColumn("sampled_at >= billing_period_start", column_a="sampled_at",
                          column_b="billing_period_start"),
            # A fall inside one billing period is read as a reset (DESIGN.md "Known limits"):
            # each is listed, as a warning; many per resource-day is the error below.
            Between("cumulative bill never falls within a billing period", column="cumulative_change",
                    min_value=0, severity="WARN", see="marts.billing_resets",
                    says=lambda rows, resources: f"cumulative fell {plural(rows, 'time')} on "
                                                 f"{plural(resources, 'resource')}"),
            DistinctAtMost("one currency", column="currency", count=1),
            *((InSet(f"currency is {settings.currency}", column="currency", values=(settings.currency,)),)
              if settings.currency else ()),
        ),
        example_columns=("resource_id", "sampled_at", "state", "cumulative_cost", "billing_period_start"),
        key=("resource_id", "sampled_at"),
        noun="sample",
    )
    resource_days = Batch(
        "resource_days",
        ordered + """
        SELECT row_number() OVER (ORDER BY resource_id, day) AS _row, *
        FROM (
            SELECT resource_id, CAST(sampled_at AS DATE) AS day,
                count(*) FILTER (WHERE cumulative_change < 0) AS falls,
                count(*) AS samples
            FROM judged GROUP BY ALL
        )""",
        rules=(
            Between(f"at most {settings.max_falls_per_resource_day} falls of the cumulative bill per resource-day",
                    column="falls", max_value=settings.max_falls_per_resource_day, see="marts.billing_resets"),
        ),
        example_columns=("resource_id", "day", "falls", "samples"),
        key=("resource_id", "day"),
        noun="resource-day",
    )
    return Suite("raw.billing_snapshots", "sampled_at", (samples, resource_days))
