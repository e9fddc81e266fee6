-- Rule 4, where the time went: one sweep over every resource's timeline. Boundaries are
-- the starts and ends of interval pieces, routed requests and wakes; between two
-- consecutive boundaries the number of open requests and open wakes is constant, so each
-- elementary segment has one state: parked (a parked interval), else waking (a wake is
-- open), else busy (a request is open), else idle. Busy is thus the union of request
-- intervals, whatever their status, minus waking, and nothing is busy or waking outside
-- running time. request_us integrates the open-request count over busy time, for
-- mean_concurrency (rule 6). Set-based: one sort of the boundaries, no per-row loop.
CREATE OR REPLACE TABLE intermediate.piece_states AS
WITH routed AS (
    SELECT
        resource_id,
        greatest(received_at, $range_start) AS request_start,
        least(finished_at, $range_end)      AS request_end
    FROM raw.requests
    WHERE resource_id IS NOT NULL
      AND finished_at > $range_start
      AND finished_at < $range_end + INTERVAL 2 DAY  -- bounds the scan to the range's neighbourhood
      AND received_at < $range_end
),
boundaries AS (
    SELECT resource_id, request_start AS t, 1 AS open_requests, 0 AS open_wakes FROM routed
    UNION ALL SELECT resource_id, request_end, -1, 0 FROM routed
    UNION ALL SELECT resource_id, wake_start, 0, 1 FROM intermediate.wakes
    UNION ALL SELECT resource_id, wake_end, 0, -1 FROM intermediate.wakes
    UNION ALL SELECT resource_id, piece_start, 0, 0 FROM intermediate.interval_hours
    UNION ALL SELECT resource_id, piece_end, 0, 0 FROM intermediate.interval_hours
),
segments AS (
    -- The default RANGE frame sums all rows up to and including the current instant, so
    -- every row at one instant sees the same counts; tied rows make zero-length segments.
    SELECT
        resource_id,
        t AS segment_start,
        lead(t) OVER (PARTITION BY resource_id ORDER BY t) AS segment_end,
        sum(open_requests) OVER (PARTITION BY resource_id ORDER BY t) AS open_requests,
        sum(open_wakes)    OVER (PARTITION BY resource_id ORDER BY t) AS open_wakes
    FROM boundaries
),
in_pieces AS (
    SELECT
        p.resource_id,
        p.interval_end,
        p.hour,
        CASE
            WHEN p.time_kind = 'parked' THEN 'parked'
            WHEN s.open_wakes > 0 THEN 'waking'
            WHEN s.open_requests > 0 THEN 'busy'
            ELSE 'idle'
        END AS state,
        epoch_us(s.segment_end) - epoch_us(s.segment_start) AS us,
        s.open_requests
    FROM segments AS s
    ASOF JOIN intermediate.interval_hours AS p
        ON s.resource_id = p.resource_id AND s.segment_start >= p.piece_start
    WHERE s.segment_start < p.piece_end
      AND s.segment_end > s.segment_start
)
SELECT
    resource_id,
    interval_end,
    hour,
    state,
    sum(us) AS us,
    sum(CASE WHEN state = 'busy' THEN open_requests * us ELSE 0 END) AS request_us
FROM in_pieces
GROUP BY ALL
