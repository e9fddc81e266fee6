-- Rule 4: waking is [wake_requested, engine_ready). A wake with no engine_ready ends at
-- the resource's next `hibernated` or `terminated` event, or at the end of the stretch of
-- running time it belongs to, whichever comes first. Wakes are clipped to the range here
-- and to running time by the timeline. A resource billed by cost rows (rule 11) runs wherever
-- its rows cover it and it is not parked: its running time ends where its rows stop covering it
-- (parked time starts at a `hibernated` event, already a wake's end).
CREATE OR REPLACE TABLE intermediate.wakes AS
WITH events AS (
    SELECT resource_id, "at", event
    FROM raw.fleet_events
    WHERE "at" >= $range_start - INTERVAL 1 DAY
      AND "at" < $range_end + INTERVAL 1 DAY
),
stretch_samples AS (
    -- The samples that tell where running time ends, over the same look-back as the
    -- events (plus the one sample before it and the first after the range): a wake that
    -- began before the range ends where its running time ended, even when that is before
    -- the range's own first interval, so building D alone cuts it as a longer build does.
    SELECT resource_id, sampled_at, state
    FROM raw.billing_snapshots
    WHERE sampled_at >= $range_start - INTERVAL 1 DAY AND sampled_at < $range_end
    UNION ALL
    SELECT resource_id, max(sampled_at), arg_max(state, sampled_at)
    FROM raw.billing_snapshots
    WHERE sampled_at < $range_start - INTERVAL 1 DAY
    GROUP BY resource_id
    UNION ALL
    SELECT resource_id, min(sampled_at), arg_min(state, sampled_at)
    FROM raw.billing_snapshots
    WHERE sampled_at >= $range_end
    GROUP BY resource_id
),
stretch_intervals AS (
    -- rule 1 and 2: sample i closes (t[i-1], t[i]] with its state; none after `terminated`
    SELECT
        resource_id,
        lag(sampled_at) OVER by_time AS interval_start,
        sampled_at                   AS interval_end,
        lag(state)      OVER by_time AS previous_state,
        CASE WHEN state IN ('running', 'terminated') THEN 'running' ELSE 'parked' END AS time_kind
    FROM stretch_samples
    WINDOW by_time AS (PARTITION BY resource_id ORDER BY sampled_at)
),
next_interval AS (
    SELECT
        *,
        lead(interval_start) OVER by_time AS next_interval_start,
        lead(time_kind)      OVER by_time AS next_time_kind
    FROM stretch_intervals
    WHERE interval_start IS NOT NULL AND previous_state <> 'terminated'
    WINDOW by_time AS (PARTITION BY resource_id ORDER BY interval_end)
),
wake_ends AS (
    SELECT resource_id, "at"
    FROM events
    WHERE event IN ('engine_ready', 'hibernated', 'terminated')
    UNION ALL
    SELECT resource_id, interval_end AS "at"  -- the end of a stretch of running time
    FROM next_interval
    WHERE time_kind = 'running'
      AND (next_time_kind IS DISTINCT FROM 'running' OR next_interval_start <> interval_end)
    UNION ALL
    SELECT a.resource_id, a.interval_end  -- the end of a stretch that cost rows cover
    FROM intermediate.cost_intervals AS a
    WHERE NOT EXISTS (
        SELECT 1 FROM intermediate.cost_intervals AS b
        WHERE b.resource_id = a.resource_id
          AND b.interval_start <= a.interval_end AND b.interval_end > a.interval_end
    )
),
requested AS (
    SELECT resource_id, "at" AS wake_start FROM events WHERE event = 'wake_requested'
),
paired AS (
    SELECT r.resource_id, r.wake_start, e."at" AS wake_end
    FROM requested AS r
    ASOF LEFT JOIN wake_ends AS e
        ON r.resource_id = e.resource_id AND r.wake_start <= e."at"
)
SELECT
    resource_id,
    greatest(wake_start, $range_start)                    AS wake_start,
    least(coalesce(wake_end, $range_end), $range_end)     AS wake_end
FROM paired
WHERE coalesce(wake_end, $range_end) > $range_start
  AND wake_start < $range_end
  AND least(coalesce(wake_end, $range_end), $range_end) > greatest(wake_start, $range_start)
