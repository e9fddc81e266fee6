-- marts.resource_hourly for the hours of [range_start, range_end): every hour a resource
-- has billed time, dark watched time, or finished requests, and (rule 11) every watched hour
-- a cost export covers, even with no row (spend 0, no state seconds, complete). Rule 3: an hour
-- overlapped by a billing gap or a dark stretch is not complete. Seconds come from the billing
-- cells (each second once), money from the pieces (overlapping cost rows each bring their own).
-- spend_resolution_s: the longest interval or cost row overlapping the hour, in whole seconds
-- rounded up. Nanodollars and microseconds are turned into DECIMALs here, once.
DELETE FROM marts.resource_hourly WHERE hour >= $range_start AND hour < $range_end;

INSERT INTO marts.resource_hourly BY NAME
WITH seconds AS (
    SELECT
        resource_id,
        hour,
        sum(us) FILTER (WHERE state <> 'parked')   AS running_us,
        sum(us) FILTER (WHERE state = 'busy')      AS busy_us,
        sum(us) FILTER (WHERE state = 'idle')      AS idle_us,
        sum(us) FILTER (WHERE state = 'waking')    AS waking_us,
        sum(us) FILTER (WHERE state = 'parked')    AS parked_us
    FROM intermediate.cell_states
    GROUP BY ALL
),
money AS (
    SELECT
        resource_id,
        hour,
        sum(nanos)                                 AS spend_nanos,
        sum(nanos) FILTER (WHERE state = 'busy')   AS serving_nanos,
        sum(nanos) FILTER (WHERE state = 'idle')   AS idle_nanos,
        sum(nanos) FILTER (WHERE state = 'waking') AS waking_nanos,
        sum(nanos) FILTER (WHERE state = 'parked') AS parked_nanos
    FROM intermediate.piece_state_spend
    GROUP BY ALL
),
resolution AS (
    SELECT resource_id, hour, max(interval_us) AS longest_us
    FROM intermediate.interval_hours
    GROUP BY ALL
),
range_hours AS (
    SELECT unnest(generate_series($range_start::TIMESTAMPTZ, $range_end::TIMESTAMPTZ - INTERVAL 1 HOUR, INTERVAL 1 HOUR)) AS hour
),
dark_hours AS (
    -- hours overlapped by more than zero by a gap or an open stretch
    SELECT DISTINCT d.resource_id, h.hour
    FROM intermediate.dark_stretches AS d
    JOIN range_hours AS h
        ON h.hour + INTERVAL 1 HOUR > d.gap_start
       AND (d.gap_end IS NULL OR h.hour < d.gap_end)
),
tokens AS (
    SELECT resource_id, hour,
        sum(completion_tokens) AS completion_tokens, sum(prompt_tokens) AS prompt_tokens,
        sum(requests) AS requests, any_value(tier) AS request_tier
    FROM intermediate.request_tokens
    WHERE resource_id IS NOT NULL
    GROUP BY ALL
),
watched_cost_hours AS (
    -- rule 11: every watched hour has a row, complete (with or without a row of its own) or dark
    SELECT resource_id, hour FROM intermediate.cost_watched_hours
),
resource_hours AS (
    SELECT resource_id, hour FROM seconds
    UNION SELECT resource_id, hour FROM money
    UNION SELECT resource_id, hour FROM dark_hours
    UNION SELECT resource_id, hour FROM tokens
    UNION SELECT resource_id, hour FROM watched_cost_hours
),
joined AS (
    SELECT
        k.hour,
        k.resource_id,
        coalesce(r.tier, t.request_tier) AS tier,
        r.gpu_type,
        r.price_model,
        coalesce(b.running_us, 0) AS running_us,
        coalesce(b.busy_us, 0)    AS busy_us,
        coalesce(b.idle_us, 0)    AS idle_us,
        coalesce(b.waking_us, 0)  AS waking_us,
        coalesce(b.parked_us, 0)  AS parked_us,
        coalesce(q.request_us, 0) AS request_us,
        coalesce(m.spend_nanos, 0)   AS spend_nanos,
        coalesce(m.serving_nanos, 0) AS serving_nanos,
        coalesce(m.idle_nanos, 0)    AS idle_nanos,
        coalesce(m.waking_nanos, 0)  AS waking_nanos,
        coalesce(m.parked_nanos, 0)  AS parked_nanos,
        (v.longest_us + 999999) // 1000000 AS spend_resolution_s,
        coalesce(t.completion_tokens, 0) AS completion_tokens,
        coalesce(t.prompt_tokens, 0)     AS prompt_tokens,
        coalesce(t.requests, 0)          AS requests,
        d.resource_id IS NULL AS billing_complete
    FROM resource_hours AS k
    LEFT JOIN seconds AS b USING (resource_id, hour)
    LEFT JOIN money AS m USING (resource_id, hour)
    LEFT JOIN resolution AS v USING (resource_id, hour)
    LEFT JOIN tokens AS t USING (resource_id, hour)
    LEFT JOIN dark_hours AS d USING (resource_id, hour)
    LEFT JOIN intermediate.request_seconds AS q USING (resource_id, hour)
    LEFT JOIN intermediate.resources AS r USING (resource_id)
)
SELECT
    hour, resource_id, tier, gpu_type, price_model,
    running_us::DECIMAL(38, 0) * 0.000001 AS running_s,
    busy_us::DECIMAL(38, 0)    * 0.000001 AS busy_s,
    idle_us::DECIMAL(38, 0)    * 0.000001 AS idle_s,
    waking_us::DECIMAL(38, 0)  * 0.000001 AS waking_s,
    parked_us::DECIMAL(38, 0)  * 0.000001 AS parked_s,
    spend_nanos::DECIMAL(38, 0)   * 0.000000001 AS spend,
    serving_nanos::DECIMAL(38, 0) * 0.000000001 AS spend_serving,
    idle_nanos::DECIMAL(38, 0)    * 0.000000001 AS spend_idle,
    waking_nanos::DECIMAL(38, 0)  * 0.000000001 AS spend_waking,
    parked_nanos::DECIMAL(38, 0)  * 0.000000001 AS spend_parked,
    completion_tokens, prompt_tokens, requests,
    -- ratios rounded half up to 9 decimals, from exact integers
    CASE WHEN running_us > 0 THEN
        ((idle_us::HUGEINT * 2000000000 + running_us) // (2 * running_us))::DECIMAL(38, 0) * 0.000000001
    END AS idle_fraction,
    CASE WHEN busy_us > 0 THEN
        ((request_us::HUGEINT * 2000000000 + busy_us) // (2 * busy_us))::DECIMAL(38, 0) * 0.000000001
    END AS mean_concurrency,
    billing_complete,
    spend_resolution_s::BIGINT AS spend_resolution_s
FROM joined
