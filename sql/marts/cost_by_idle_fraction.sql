-- marts.cost_by_idle_fraction, the utilisation curve: every resource-hour with running
-- time, bucketed by its idle fraction (marts.idle_buckets; compared exactly on seconds, not on the rounded
-- ratio), per tier, over all published hours.
CREATE OR REPLACE TEMP TABLE bucketed AS
SELECT h.tier, b.idle_bucket, h.spend, h.completion_tokens
FROM marts.resource_hourly AS h
JOIN marts.idle_buckets AS b  -- exactly one bucket per hour: the bounds meet, the ends are open
  ON (b.idle_from = 0 OR h.idle_s >= h.running_s * b.idle_from)
 AND (b.idle_below IS NULL OR h.idle_s < h.running_s * b.idle_below)
WHERE h.running_s > 0;

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
