-- marts.demand_profile: the shape of demand per UTC day and tier (DESIGN.md "What it
-- publishes"), from marts.resource_hourly over every published hour. Each tier-day that has a
-- resource-hour row gets all 24 of its hours, an hour with no row counting 0 tokens, so the
-- median of a tier that sleeps at night is the median of the whole day. Percentiles are
-- quantile_cont (linear interpolation); peak_to_median (from the published median) and
-- busy_fraction (on microseconds) are exact ratios, rounded half up to 9 decimals.
DELETE FROM marts.demand_profile;

INSERT INTO marts.demand_profile BY NAME
WITH tier_hours AS (
    SELECT tier, hour,
        sum(completion_tokens) AS tokens,
        CAST(sum(running_s) * 1000000 AS HUGEINT) AS running_us,
        CAST(sum(busy_s) * 1000000 AS HUGEINT) AS busy_us,
        bool_and(billing_complete) AS billing_complete
    FROM marts.resource_hourly
    GROUP BY ALL
),
tier_days AS (
    SELECT DISTINCT tier, hour::DATE AS day FROM tier_hours
),
day_hours AS (
    SELECT tier, day,
        unnest(generate_series(day::TIMESTAMPTZ, day::TIMESTAMPTZ + INTERVAL 23 HOUR, INTERVAL 1 HOUR)) AS hour
    FROM tier_days
),
filled AS (
    SELECT d.tier, d.day, d.hour,
        coalesce(h.tokens, 0) AS tokens,
        coalesce(h.running_us, 0) AS running_us,
        coalesce(h.busy_us, 0) AS busy_us,
        coalesce(h.billing_complete, true) AS billing_complete,
        max(coalesce(h.tokens, 0)) OVER (PARTITION BY d.tier, d.day) AS peak
    FROM day_hours AS d
    LEFT JOIN tier_hours AS h USING (tier, hour)
),
profile AS (
    SELECT tier, day,
        sum(tokens) AS completion_tokens,
        round(quantile_cont(tokens, 0.5), 3)::DECIMAL(38, 3) AS median_hourly_tokens,
        round(quantile_cont(tokens, 0.95), 3)::DECIMAL(38, 3) AS p95_hourly_tokens,
        max(tokens) AS peak_hourly_tokens,
        min(hour) FILTER (WHERE tokens = peak AND peak > 0) AS peak_hour,
        sum(running_us) AS running_us,
        sum(busy_us) AS busy_us,
        bool_and(billing_complete) AS billing_complete
    FROM filled
    GROUP BY ALL
)
SELECT
    day, tier,
    completion_tokens::BIGINT AS completion_tokens,
    median_hourly_tokens,
    p95_hourly_tokens,
    peak_hourly_tokens::BIGINT AS peak_hourly_tokens,
    peak_hour,
    CASE WHEN median_hourly_tokens > 0 THEN
        ((peak_hourly_tokens::HUGEINT * 2000000000000 + median_milli) // (2 * median_milli))::DECIMAL(38, 0)
            * 0.000000001
    END AS peak_to_median,
    running_us::DECIMAL(38, 0) * 0.000001 AS running_s,
    busy_us::DECIMAL(38, 0) * 0.000001 AS busy_s,
    CASE WHEN running_us > 0 THEN
        ((busy_us * 2000000000 + running_us) // (2 * running_us))::DECIMAL(38, 0) * 0.000000001
    END AS busy_fraction,
    billing_complete
FROM (SELECT *, CAST(median_hourly_tokens * 1000 AS HUGEINT) AS median_milli FROM profile)
