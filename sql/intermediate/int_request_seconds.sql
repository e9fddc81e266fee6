-- Rule 6, mean_concurrency's numerator: per resource-hour, the request-seconds that lie
-- inside busy time. That is every request's overlap with the hour, less its overlap with
-- the few stretches inside busy islands that are not busy (waking, parked, uncovered) —
-- arithmetic on each request, and a join against those few stretches only.
CREATE OR REPLACE TABLE intermediate.request_seconds AS
WITH whole AS (
    -- most requests sit inside one hour; only the others are cut at hour boundaries
    SELECT resource_id, date_trunc('hour', request_start) AS hour,
           epoch_us(request_end) - epoch_us(request_start) AS us
    FROM intermediate.routed_requests
    WHERE date_trunc('hour', request_start) = date_trunc('hour', request_end - INTERVAL 1 MICROSECOND)
    UNION ALL
    SELECT r.resource_id, h.hour,
           epoch_us(least(r.request_end, h.hour + INTERVAL 1 HOUR)) - epoch_us(greatest(r.request_start, h.hour))
    FROM intermediate.routed_requests AS r,
    LATERAL (
        SELECT unnest(generate_series(
            date_trunc('hour', r.request_start), r.request_end - INTERVAL 1 MICROSECOND, INTERVAL 1 HOUR
        )) AS hour
    ) AS h
    WHERE date_trunc('hour', r.request_start) <> date_trunc('hour', r.request_end - INTERVAL 1 MICROSECOND)
),
not_busy AS (
    SELECT resource_id, hour, segment_start, segment_end
    FROM intermediate.timeline_segments
    WHERE in_island AND state <> 'busy'
),
outside_busy AS (
    SELECT z.resource_id, z.hour,
           epoch_us(least(r.request_end, z.segment_end)) - epoch_us(greatest(r.request_start, z.segment_start)) AS us
    FROM not_busy AS z
    JOIN intermediate.routed_requests AS r
      ON r.resource_id = z.resource_id
     AND r.request_start < z.segment_end
     AND r.request_end > z.segment_start
),
signed AS (
    SELECT resource_id, hour, us FROM whole
    UNION ALL
    SELECT resource_id, hour, -us FROM outside_busy
)
SELECT resource_id, hour, sum(us)::BIGINT AS request_us
FROM signed
GROUP BY ALL
