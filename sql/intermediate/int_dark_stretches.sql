-- Rule 3, dark billing: a gap interval (longer than max_sample_gap) keeps its money but
-- is listed whole; a watched resource's time after its last stored sample is covered by
-- no interval at all, so it is dark with no money known, and the stretch stays open
-- (gap_end null) until a later sample is stored. Time before a first sample is not dark.
-- Rule 11: a resource billed by cost rows is dark where its billing account's export does not
-- cover a watched hour (intermediate.cost_watched_hours); cost rows are never gaps
-- (max_sample_gap does not apply to them).
CREATE OR REPLACE TABLE intermediate.dark_stretches AS
SELECT
    resource_id,
    interval_start AS gap_start,
    interval_end   AS gap_end,
    (interval_us / 1000000)::DECIMAL(38, 6) AS seconds
FROM intermediate.spend_intervals
WHERE is_gap
  AND interval_end > $range_start
  AND interval_start < $range_end
UNION ALL
SELECT
    resource_id,
    last_sampled_at AS gap_start,
    NULL::TIMESTAMPTZ AS gap_end,
    NULL::DECIMAL(38, 6) AS seconds
FROM intermediate.resources
WHERE billing = 'snapshots'
  AND watched_after_last_sample
  AND last_sampled_at < $range_end
UNION ALL
SELECT
    resource_id,
    gap_start,
    gap_end,
    ((epoch_us(gap_end) - epoch_us(gap_start)) / 1000000)::DECIMAL(38, 6) AS seconds
FROM (
    -- runs of consecutive dark hours of a resource billed by cost rows: dark from where the export
    -- stopped covering the first of them; over at the next covered hour or at a `terminated`
    -- event; at the range's end, closed there when the export reaches past it, else still open
    SELECT
        resource_id,
        greatest(min(hour), coalesce(list(covered_until ORDER BY hour)[1], min(hour))) AS gap_start,
        CASE
            WHEN max(hour) + INTERVAL 1 HOUR < $range_end
                THEN least(max(hour) + INTERVAL 1 HOUR, coalesce(any_value(watched_until), $range_end))
            WHEN any_value(watched_until) <= $range_end THEN any_value(watched_until)
            WHEN any_value(account_reach) >= $range_end THEN $range_end::TIMESTAMPTZ
        END AS gap_end
    FROM (
        SELECT *, hour - to_hours(row_number() OVER (PARTITION BY resource_id ORDER BY hour)) AS run
        FROM intermediate.cost_watched_hours
        WHERE NOT covered
    )
    GROUP BY resource_id, run
)
