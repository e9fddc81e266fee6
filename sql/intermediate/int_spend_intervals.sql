-- Rule 1: sample i closes the interval (t[i-1], t[i]] and describes it. Its spend is the
-- difference of cumulative bills, or the cumulative itself on a reset (a new
-- billing_period_start, or a cumulative that fell). Rule 2: `running` and `terminated`
-- intervals are running time, `hibernated` and `stopped` are parked; a `terminated`
-- sample closes the resource's history, so the next sample opens a new one and closes
-- no interval. Money is carried as integer nanodollars (HUGEINT) so every split is exact.
-- Rule 11: a resource billed by cost rows has one interval per row period instead
-- (intermediate.cost_intervals); its state and time kind are not the interval's but come from
-- fleet events (intermediate.parked_stretches), so they are null here; max_sample_gap does not
-- apply to cost rows, and they never reset.
CREATE OR REPLACE TABLE intermediate.spend_intervals AS
WITH ordered AS (
    SELECT
        *,
        lag(sampled_at)           OVER by_time AS previous_sampled_at,
        lag(state)                OVER by_time AS previous_state,
        lag(cumulative_cost)      OVER by_time AS previous_cumulative,
        lag(billing_period_start) OVER by_time AS previous_period_start
    FROM intermediate.samples_in_scope
    WINDOW by_time AS (PARTITION BY resource_id ORDER BY sampled_at)
),
classified AS (
    SELECT
        *,
        CASE
            WHEN billing_period_start <> previous_period_start THEN 'new_period'
            WHEN cumulative_cost < previous_cumulative THEN 'fell'
        END AS reset_reason
    FROM ordered
    WHERE previous_sampled_at IS NOT NULL AND previous_state <> 'terminated'
)
SELECT
    resource_id,
    tier,
    currency,
    previous_sampled_at AS interval_start,
    sampled_at          AS interval_end,
    state,
    CASE WHEN state IN ('running', 'terminated') THEN 'running' ELSE 'parked' END AS time_kind,
    epoch_us(sampled_at) - epoch_us(previous_sampled_at) AS interval_us,
    epoch_us(sampled_at) - epoch_us(previous_sampled_at) > $max_sample_gap_us AS is_gap,
    reset_reason,
    previous_cumulative,
    cumulative_cost,
    CAST(
        (CASE WHEN reset_reason IS NULL THEN cumulative_cost - previous_cumulative ELSE cumulative_cost END)
        * 1000000000 AS HUGEINT
    ) AS spend_nanos,
    'snapshots' AS billing
FROM classified
UNION ALL
SELECT
    resource_id,
    tier,
    currency,
    interval_start,
    interval_end,
    NULL AS state,
    NULL AS time_kind,
    epoch_us(interval_end) - epoch_us(interval_start) AS interval_us,
    false AS is_gap,
    NULL AS reset_reason,
    NULL AS previous_cumulative,
    NULL AS cumulative_cost,
    spend_nanos,
    'cost_rows' AS billing
FROM intermediate.cost_intervals
