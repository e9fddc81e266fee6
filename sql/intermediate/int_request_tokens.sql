-- Rule 5: tokens land in the hour of finished_at; every completion token the gateway
-- reports counts, errored streams included. A routed request's tier is its resource's
-- tier; an unrouted one (e.g. a wake that timed out) counts under its own tier.
-- Requests are summed per hour first (the hour by integer arithmetic: date_trunc on a
-- TIMESTAMPTZ goes through ICU), and only those sums meet the resources.
CREATE OR REPLACE TABLE intermediate.request_tokens AS
WITH hourly AS (
    SELECT
        epoch_us(finished_at) // 3600000000 AS hour_number,
        resource_id,
        tier,
        model,
        sum(completion_tokens) AS completion_tokens,
        sum(prompt_tokens)     AS prompt_tokens,
        count(*)               AS requests
    FROM raw.requests
    WHERE finished_at >= $range_start AND finished_at < $range_end
    GROUP BY ALL
)
SELECT
    to_timestamp(r.hour_number * 3600)  AS hour,
    r.resource_id,
    coalesce(res.tier, r.tier)          AS tier,
    r.model,
    sum(r.completion_tokens)::BIGINT    AS completion_tokens,
    sum(r.prompt_tokens)::BIGINT        AS prompt_tokens,
    sum(r.requests)::BIGINT             AS requests
FROM hourly AS r
LEFT JOIN intermediate.resources AS res USING (resource_id)
GROUP BY r.hour_number, r.resource_id, coalesce(res.tier, r.tier), r.model
