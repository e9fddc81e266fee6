-- Rule 8, asserted after every build: one row per broken identity in the range, none when
-- every nanodollar landed exactly once and every resource-hour's parts add up.
--
-- First the identities only the build can judge, from its intermediate pieces (not published):
-- snapshot spend of the range against marts.resource_hourly; rule 11: every BilledCost of a mapped
-- Usage row inside the range lands in its hours; each interval's hours add up to the interval, and
-- each hour-piece's states to the piece.
WITH cost_rows_in_range AS (
    SELECT CAST(coalesce(sum(billed_cost), 0) * 1000000000 AS HUGEINT) AS nanos
    FROM raw.cost_rows
    WHERE skipped IS NULL AND resource_id IS NOT NULL
      AND charge_period_start >= $range_start AND charge_period_end <= $range_end
),
cost_rows_landed AS (
    SELECT coalesce(sum(piece_nanos), 0) AS nanos
    FROM intermediate.interval_hours
    WHERE billing = 'cost_rows' AND interval_start >= $range_start AND interval_end <= $range_end
),
split_intervals AS (
    -- intervals inside the range whose hours do not add up to their money
    SELECT i.resource_id, i.interval_start, i.interval_end, i.spend_nanos, coalesce(sum(h.piece_nanos), 0) AS landed
    FROM intermediate.spend_intervals AS i
    LEFT JOIN intermediate.interval_hours AS h USING (resource_id, interval_start, interval_end)
    WHERE i.interval_start >= $range_start AND i.interval_end <= $range_end
    GROUP BY ALL
    HAVING i.spend_nanos <> coalesce(sum(h.piece_nanos), 0)
),
piece_parts AS (
    -- hour-pieces whose states do not add up to the piece
    SELECT h.resource_id, h.interval_start, h.hour, h.piece_nanos, coalesce(sum(s.nanos), 0) AS parts
    FROM intermediate.interval_hours AS h
    LEFT JOIN intermediate.piece_state_spend AS s USING (resource_id, interval_start, interval_end, hour)
    GROUP BY ALL
    HAVING h.piece_nanos <> coalesce(sum(s.nanos), 0)
),
interval_money AS (
    SELECT coalesce(sum(piece_nanos), 0) AS nanos FROM intermediate.interval_hours
),
hourly_money AS (
    SELECT CAST(coalesce(sum(spend), 0) * 1000000000 AS HUGEINT) AS nanos
    FROM marts.resource_hourly WHERE hour >= $range_start AND hour < $range_end
)
SELECT 'mapped Usage BilledCost inside the range vs its hours' AS identity,
       (c.nanos::DECIMAL(38, 0) * 0.000000001)::VARCHAR AS expected,
       (l.nanos::DECIMAL(38, 0) * 0.000000001)::VARCHAR AS actual
FROM cost_rows_in_range AS c, cost_rows_landed AS l WHERE c.nanos <> l.nanos
UNION ALL
SELECT 'interval hours = interval, ' || resource_id || ' ' || interval_start::VARCHAR,
       (spend_nanos::DECIMAL(38, 0) * 0.000000001)::VARCHAR, (landed::DECIMAL(38, 0) * 0.000000001)::VARCHAR
FROM split_intervals
UNION ALL
SELECT 'piece states = piece, ' || resource_id || ' ' || interval_start::VARCHAR || ' hour ' || hour::VARCHAR,
       (piece_nanos::DECIMAL(38, 0) * 0.000000001)::VARCHAR, (parts::DECIMAL(38, 0) * 0.000000001)::VARCHAR
FROM piece_parts
UNION ALL
SELECT 'billed spend in the range vs resource_hourly',
       (i.nanos::DECIMAL(38, 0) * 0.000000001)::VARCHAR,
       (h.nanos::DECIMAL(38, 0) * 0.000000001)::VARCHAR
FROM interval_money AS i, hourly_money AS h WHERE i.nanos <> h.nanos;

-- Then the identities the published marts hold on their own (also the published query).
WITH hourly AS (
    SELECT * FROM marts.resource_hourly WHERE hour >= $range_start AND hour < $range_end
),
hourly_money AS (
    SELECT CAST(coalesce(sum(spend), 0) * 1000000000 AS HUGEINT) AS nanos FROM hourly
),
daily AS (
    SELECT * FROM marts.cost_per_mtok_daily WHERE day >= $range_start::DATE AND day < $range_end::DATE
),
model_money AS (
    SELECT CAST(coalesce(sum(spend), 0) * 1000000000 AS HUGEINT) AS nanos FROM daily WHERE model <> '*'
),
tier_totals AS (
    SELECT day, tier,
        sum(spend) FILTER (WHERE model = '*')  AS tier_spend,
        sum(spend) FILTER (WHERE model <> '*') AS model_spend,
        sum(completion_tokens) FILTER (WHERE model = '*')  AS tier_tokens,
        sum(completion_tokens) FILTER (WHERE model <> '*') AS model_tokens
    FROM daily GROUP BY ALL
)
SELECT 'resource_hourly vs cost_per_mtok_daily model rows' AS identity,
       (h.nanos::DECIMAL(38, 0) * 0.000000001)::VARCHAR AS expected,
       (m.nanos::DECIMAL(38, 0) * 0.000000001)::VARCHAR AS actual
FROM hourly_money AS h, model_money AS m WHERE h.nanos <> m.nanos
UNION ALL
SELECT 'tier * row vs its model rows, ' || tier || ' ' || day::VARCHAR,
       model_spend::VARCHAR || ' USD, ' || model_tokens::VARCHAR || ' tokens',
       tier_spend::VARCHAR || ' USD, ' || tier_tokens::VARCHAR || ' tokens'
FROM tier_totals
WHERE tier_spend IS DISTINCT FROM model_spend OR tier_tokens IS DISTINCT FROM model_tokens
UNION ALL
SELECT 'busy + idle + waking = running, ' || resource_id || ' ' || hour::VARCHAR,
       running_s::VARCHAR, (busy_s + idle_s + waking_s)::VARCHAR
FROM hourly WHERE busy_s + idle_s + waking_s <> running_s
UNION ALL
SELECT 'spend parts = spend, ' || resource_id || ' ' || hour::VARCHAR,
       spend::VARCHAR, (spend_serving + spend_idle + spend_waking + spend_parked)::VARCHAR
FROM hourly WHERE spend_serving + spend_idle + spend_waking + spend_parked <> spend
