-- Rule 5: tokens land in the hour of finished_at; every completion token the gateway
-- reports counts, errored streams included. A routed request's tier is its resource's
-- tier; an unrouted one (e.g. a wake that timed out) counts under its own tier.
CREATE OR REPLACE TABLE intermediate.request_tokens AS
SELECT
    date_trunc('hour', r.finished_at)   AS hour,
    r.resource_id,
    coalesce(res.tier, r.tier)          AS tier,
    r.model,
    sum(r.completion_tokens)::BIGINT    AS completion_tokens,
    sum(r.prompt_tokens)::BIGINT        AS prompt_tokens,
    count(*)::BIGINT                    AS requests
FROM raw.requests AS r
LEFT JOIN intermediate.resources AS res USING (resource_id)
WHERE r.finished_at >= $range_start AND r.finished_at < $range_end
GROUP BY ALL
