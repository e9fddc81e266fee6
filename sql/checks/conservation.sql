-- Rule 8, asserted after every build: one row per broken identity in the range, none when
-- every nanodollar landed exactly once and every resource-hour's parts add up.
--
-- First the identity only the build can judge: snapshot spend of the range (the build's
-- intermediate pieces, which are not published) against marts.resource_hourly.
WITH interval_money AS (
    SELECT coalesce(sum(piece_nanos), 0) AS nanos FROM intermediate.interval_hours
),
hourly_money AS (
    SELECT CAST(coalesce(sum(spend), 0) * 1000000000 AS HUGEINT) AS nanos
    FROM marts.resource_hourly WHERE hour >= $range_start AND hour < $range_end
)
SELECT 'snapshot spend in the range vs resource_hourly' AS identity,
       (i.nanos::DECIMAL(38, 0) * 0.000000001)::VARCHAR AS expected,
       (h.nanos::DECIMAL(38, 0) * 0.000000001)::VARCHAR AS actual
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
