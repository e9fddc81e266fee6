-- Dark billing beyond a bound (DESIGN.md rule 3 and "Checks"). Every gap or open dark stretch of
-- marts.observability_gaps that overlaps the scope is split into the UTC days it covers; an open
-- stretch (gap_end null) is dark until the scope's end.
--
-- The rows that fail the check, in one statement (it is also the published query that lists
-- them, with the bounds written in): gaps longer than the bound (kind 'gap', full length) and
-- tier-days whose dark seconds exceed the bound's share of their running seconds (kind
-- 'tier_day'; judged where the tier ran at all: a tier-day that only went dark is the gap bound's).
WITH gaps AS (
    SELECT resource_id, gap_start, gap_end,
        coalesce(gap_end, $range_end) AS dark_until,
        coalesce(seconds, (epoch_us($range_end) - epoch_us(gap_start)) / 1000000) AS length_s
    FROM marts.observability_gaps
    WHERE gap_start < $range_end AND coalesce(gap_end, $range_end) > $range_start
),
tiers AS (
    SELECT resource_id, arg_max(tier, hour) AS tier
    FROM marts.resource_hourly
    WHERE resource_id IN (SELECT resource_id FROM gaps)
    GROUP BY ALL
),
gap_days AS (
    SELECT g.resource_id, coalesce(t.tier, '(unknown tier)') AS tier, g.gap_start, g.gap_end, g.length_s,
        d.day_start,
        (epoch_us(least(g.dark_until, d.day_start + INTERVAL 1 DAY))
            - epoch_us(greatest(g.gap_start, d.day_start))) / 1000000 AS dark_s_in_day
    FROM gaps AS g
    LEFT JOIN tiers AS t USING (resource_id),
    LATERAL (
        SELECT unnest(range(date_trunc('day', greatest(g.gap_start, $range_start)),
                            least(g.dark_until, $range_end), INTERVAL 1 DAY)) AS day_start
    ) AS d
),
dark AS (
    SELECT tier, day_start, sum(dark_s_in_day) AS dark_s, list(DISTINCT resource_id ORDER BY resource_id) AS resources
    FROM gap_days GROUP BY ALL
),
running AS (
    SELECT tier, date_trunc('day', hour) AS day_start, sum(running_s) AS running_s
    FROM marts.resource_hourly
    WHERE hour >= $range_start AND hour < $range_end
    GROUP BY ALL
)
SELECT DISTINCT 'gap' AS kind, resource_id, tier, gap_start, gap_end, length_s
FROM gap_days
WHERE length_s > $max_gap_s
UNION ALL BY NAME
SELECT 'tier_day' AS kind, CAST(d.day_start AS DATE) AS day, d.tier, d.dark_s, r.running_s,
    d.dark_s / r.running_s AS dark_share, d.resources
FROM dark AS d JOIN running AS r USING (tier, day_start)
WHERE r.running_s > 0 AND d.dark_s > $max_dark_share * r.running_s
ORDER BY kind, gap_start, resource_id, day, tier;

-- Every gap in scope, longest first, for the reader, with how many there are.
WITH gaps AS (
    SELECT resource_id, gap_start, gap_end,
        coalesce(seconds, (epoch_us($range_end) - epoch_us(gap_start)) / 1000000) AS length_s
    FROM marts.observability_gaps
    WHERE gap_start < $range_end AND coalesce(gap_end, $range_end) > $range_start
),
tiers AS (
    SELECT resource_id, arg_max(tier, hour) AS tier
    FROM marts.resource_hourly
    WHERE resource_id IN (SELECT resource_id FROM gaps)
    GROUP BY ALL
)
SELECT g.resource_id, coalesce(t.tier, '(unknown tier)') AS tier, g.gap_start, g.gap_end, g.length_s,
    count(*) OVER () AS gaps_in_scope
FROM gaps AS g LEFT JOIN tiers AS t USING (resource_id)
ORDER BY g.length_s DESC, g.gap_start, g.resource_id
LIMIT $examples
