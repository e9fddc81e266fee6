-- marts.cost_per_mtok_daily for the days of the range. Rule 7: a resource-day's spend is
-- shared among the models whose requests on it finished that day, by completion-token
-- share, rounded by largest remainder (ties to the model named first); a resource-day
-- with no token goes to `__unallocated__`. Rule 6: a model row's idle fraction pools the
-- resource-days that fund it, weighted by its token share. The `*` row is the whole tier.
DELETE FROM marts.cost_per_mtok_daily WHERE day >= $range_start::DATE AND day < $range_end::DATE;

INSERT INTO marts.cost_per_mtok_daily BY NAME
WITH resource_days AS (
    SELECT
        hour::DATE AS day, resource_id, any_value(tier) AS tier,
        CAST(sum(spend) * 1000000000 AS HUGEINT)  AS spend_nanos,
        CAST(sum(running_s) * 1000000 AS HUGEINT) AS running_us,
        CAST(sum(idle_s) * 1000000 AS HUGEINT)    AS idle_us,
        bool_and(billing_complete)                AS billing_complete
    FROM marts.resource_hourly
    WHERE hour >= $range_start AND hour < $range_end
    GROUP BY ALL
),
routed_tokens AS (
    SELECT hour::DATE AS day, resource_id, model, sum(completion_tokens) AS completion_tokens
    FROM intermediate.request_tokens
    WHERE resource_id IS NOT NULL
    GROUP BY ALL
),
funding AS (
    -- (resource-day, model) pairs that receive money, with their weight
    SELECT rd.day, rd.resource_id, rd.tier, rt.model, rt.completion_tokens AS weight,
           sum(rt.completion_tokens) OVER (PARTITION BY rd.day, rd.resource_id) AS total_weight,
           rd.spend_nanos, rd.running_us, rd.idle_us, rd.billing_complete
    FROM resource_days AS rd
    JOIN routed_tokens AS rt USING (day, resource_id)
    WHERE rt.completion_tokens > 0
    UNION ALL
    SELECT rd.day, rd.resource_id, rd.tier, '__unallocated__', 1, 1,
           rd.spend_nanos, rd.running_us, rd.idle_us, rd.billing_complete
    FROM resource_days AS rd
    WHERE NOT EXISTS (
        SELECT 1 FROM routed_tokens AS rt
        WHERE rt.day = rd.day AND rt.resource_id = rd.resource_id AND rt.completion_tokens > 0
    )
),
shares AS (
    -- a resource-day's money can be negative (a cost row's refund, rule 11): its magnitude is
    -- shared and the sign put back, so the parts still add up exactly
    SELECT *,
        CASE WHEN spend_nanos < 0 THEN -1 ELSE 1 END AS sign,
        abs(spend_nanos) * weight // total_weight AS floor_nanos,
        abs(spend_nanos) * weight % total_weight  AS remainder
    FROM funding
),
allocated AS (
    SELECT *,
        sign * (floor_nanos + CASE WHEN row_number() OVER (PARTITION BY day, resource_id ORDER BY remainder DESC, model)
                                      <= abs(spend_nanos) - sum(floor_nanos) OVER (PARTITION BY day, resource_id)
                                   THEN 1 ELSE 0 END) AS nanos
    FROM shares
),
model_money AS (
    SELECT day, tier, model,
        sum(nanos) AS spend_nanos,
        -- the unrounded share in femtodollars, so $/Mtok is the exact ratio, not one of rounded parts
        sum(sign * (abs(spend_nanos) * weight * 1000000 // total_weight)) AS exact_spend_femtos,
        sum(idle_us::DOUBLE * weight / total_weight)    AS weighted_idle_us,
        sum(running_us::DOUBLE * weight / total_weight) AS weighted_running_us,
        bool_and(billing_complete) AS billing_complete
    FROM allocated
    GROUP BY ALL
),
model_tokens AS (
    SELECT hour::DATE AS day, tier, model,
        sum(completion_tokens) AS completion_tokens, sum(prompt_tokens) AS prompt_tokens,
        sum(requests) AS requests
    FROM intermediate.request_tokens
    GROUP BY ALL
),
model_rows AS (
    SELECT day, tier, model,
        coalesce(m.spend_nanos, 0) AS spend_nanos,
        coalesce(m.exact_spend_femtos, 0) AS exact_spend_femtos,
        coalesce(t.completion_tokens, 0) AS completion_tokens,
        coalesce(t.prompt_tokens, 0) AS prompt_tokens,
        coalesce(t.requests, 0) AS requests,
        -- token-share weights make this a sum of fractions with different denominators: the one
        -- ratio computed in floating point, then rounded to 9 decimals
        CASE WHEN m.weighted_running_us > 0 THEN
            round(m.weighted_idle_us / m.weighted_running_us, 9)::DECIMAL(38, 9)
        END AS idle_fraction,
        coalesce(m.billing_complete, true) AS billing_complete
    FROM model_money AS m
    FULL JOIN model_tokens AS t USING (day, tier, model)
),
tier_rows AS (
    SELECT t.day, t.tier, '*' AS model,
        t.spend_nanos, t.spend_nanos * 1000000 AS exact_spend_femtos,
        t.completion_tokens, t.prompt_tokens, t.requests,
        -- the whole tier pools exact seconds: rounded half up on integers, like resource_hourly
        CASE WHEN r.running_us > 0 THEN
            ((r.idle_us * 2000000000 + r.running_us) // (2 * r.running_us))::DECIMAL(38, 0) * 0.000000001
        END AS idle_fraction,
        coalesce(r.billing_complete, true) AS billing_complete
    FROM (
        SELECT day, tier, sum(spend_nanos) AS spend_nanos, sum(completion_tokens) AS completion_tokens,
               sum(prompt_tokens) AS prompt_tokens, sum(requests) AS requests
        FROM model_rows GROUP BY ALL
    ) AS t
    LEFT JOIN (
        SELECT day, tier, sum(running_us) AS running_us, sum(idle_us) AS idle_us,
               bool_and(billing_complete) AS billing_complete
        FROM resource_days GROUP BY ALL
    ) AS r USING (day, tier)
),
all_rows AS (
    SELECT * FROM model_rows UNION ALL SELECT * FROM tier_rows
)
SELECT
    day, tier, model,
    spend_nanos::DECIMAL(38, 0) * 0.000000001 AS spend,
    completion_tokens::BIGINT AS completion_tokens,
    prompt_tokens::BIGINT AS prompt_tokens,
    requests::BIGINT AS requests,
    CASE WHEN completion_tokens > 0 THEN
        -- half away from zero, so a negative figure rounds as its magnitude does
        (sign(exact_spend_femtos) * ((abs(exact_spend_femtos) * 2 + completion_tokens) // (2 * completion_tokens)))
            ::DECIMAL(38, 0) * 0.000000001
    END AS usd_per_mtok,
    idle_fraction,
    billing_complete
FROM all_rows
WHERE day >= $range_start::DATE AND day < $range_end::DATE
