-- Rule 4: waking is [wake_requested, engine_ready). A wake with no engine_ready ends at
-- the resource's next `hibernated` or `terminated` event, or at the end of the stretch of
-- running time it belongs to, whichever comes first. Wakes are clipped to the range here
-- and to running time by the timeline.
CREATE OR REPLACE TABLE intermediate.wakes AS
WITH events AS (
    SELECT resource_id, "at", event
    FROM raw.fleet_events
    WHERE "at" >= $range_start - INTERVAL 1 DAY
      AND "at" < $range_end + INTERVAL 1 DAY
),
next_interval AS (
    SELECT
        *,
        lead(interval_start) OVER by_time AS next_interval_start,
        lead(time_kind)      OVER by_time AS next_time_kind
    FROM intermediate.spend_intervals
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
