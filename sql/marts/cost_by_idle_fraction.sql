-- marts.cost_by_idle_fraction, the utilisation curve: every resource-hour with running
-- time, bucketed by its idle fraction (compared exactly on seconds, not on the rounded
-- ratio), per tier, over all published hours.
CREATE OR REPLACE TEMP TABLE bucketed AS
SELECT
    tier,
    CASE
        WHEN idle_s * 10 < running_s     THEN '[0,.1)'
        WHEN idle_s * 4 < running_s      THEN '[.1,.25)'
        WHEN idle_s * 2 < running_s      THEN '[.25,.5)'
        WHEN idle_s * 4 < running_s * 3  THEN '[.5,.75)'
        ELSE '[.75,1]'
    END AS idle_bucket,
    spend,
    completion_tokens
FROM marts.resource_hourly
WHERE running_s > 0;

DELETE FROM marts.cost_by_idle_fraction;

INSERT INTO marts.cost_by_idle_fraction BY NAME
SELECT
    tier,
    idle_bucket,
    count(*) AS resource_hours,
    sum(spend) AS spend,
    sum(completion_tokens)::BIGINT AS completion_tokens,
    CASE WHEN sum(completion_tokens) > 0 THEN
        ((CAST(sum(spend) * 1000000000 AS HUGEINT) * 2000000 + sum(completion_tokens))
            // (2 * sum(completion_tokens)))::DECIMAL(38, 0) * 0.000000001
    END AS usd_per_mtok
FROM bucketed
GROUP BY ALL
