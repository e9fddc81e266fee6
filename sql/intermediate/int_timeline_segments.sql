-- Rule 4, where the time went: one sweep over each resource's timeline. Boundaries are the
-- starts and ends of billing cells, busy islands, wakes, parked stretches and hours; between
-- two consecutive boundaries nothing changes, so each elementary segment has one state:
-- parked (a parked sampled interval, or, for cost rows, a parked stretch of fleet events),
-- waking (a wake is open), busy (inside an island), idle, or uncovered (no billing interval:
-- nothing is busy or waking outside running time).
CREATE OR REPLACE TABLE intermediate.timeline_segments AS
WITH resources_in_play AS (
    SELECT DISTINCT resource_id FROM intermediate.interval_hours
    UNION SELECT DISTINCT resource_id FROM intermediate.busy_islands
),
boundaries AS (
    SELECT resource_id, island_start AS t, 1 AS d_island, 0 AS d_wake, 0 AS d_parked FROM intermediate.busy_islands
    UNION ALL SELECT resource_id, island_end, -1, 0, 0 FROM intermediate.busy_islands
    UNION ALL SELECT resource_id, wake_start, 0, 1, 0 FROM intermediate.wakes
    UNION ALL SELECT resource_id, wake_end, 0, -1, 0 FROM intermediate.wakes
    UNION ALL SELECT resource_id, parked_start, 0, 0, 1 FROM intermediate.parked_stretches
    UNION ALL SELECT resource_id, parked_end, 0, 0, -1 FROM intermediate.parked_stretches
    UNION ALL SELECT resource_id, cell_start, 0, 0, 0 FROM intermediate.billing_cells
    UNION ALL SELECT resource_id, cell_end, 0, 0, 0 FROM intermediate.billing_cells
    UNION ALL
    SELECT r.resource_id, h.hour, 0, 0, 0
    FROM resources_in_play AS r,
         (SELECT unnest(generate_series($range_start::TIMESTAMPTZ, $range_end::TIMESTAMPTZ, INTERVAL 1 HOUR)) AS hour) AS h
),
segments AS (
    -- The default RANGE frame sums every row up to and including this instant, so all rows
    -- at one instant see the same counts; tied rows make zero-length segments, dropped below.
    SELECT
        resource_id,
        t AS segment_start,
        lead(t) OVER (PARTITION BY resource_id ORDER BY t) AS segment_end,
        sum(d_island) OVER (PARTITION BY resource_id ORDER BY t) AS open_islands,
        sum(d_wake)   OVER (PARTITION BY resource_id ORDER BY t) AS open_wakes,
        sum(d_parked) OVER (PARTITION BY resource_id ORDER BY t) AS open_parked
    FROM boundaries
),
placed AS (
    -- cells of one resource never overlap, so the latest cell starting at or before a segment
    -- is the only one that can hold it
    SELECT s.*, c.cell_start, c.cell_end, c.billing, c.time_kind
    FROM segments AS s
    ASOF LEFT JOIN intermediate.billing_cells AS c
        ON s.resource_id = c.resource_id AND s.segment_start >= c.cell_start
    WHERE s.segment_end > s.segment_start
)
SELECT
    resource_id,
    date_trunc('hour', segment_start) AS hour,
    segment_start,
    segment_end,
    epoch_us(segment_end) - epoch_us(segment_start) AS us,
    CASE WHEN segment_start < cell_end THEN cell_start END AS cell_start,
    CASE
        WHEN cell_end IS NULL OR segment_start >= cell_end THEN 'uncovered'
        WHEN time_kind = 'parked' OR (billing = 'cost_rows' AND open_parked > 0) THEN 'parked'
        WHEN open_wakes > 0 THEN 'waking'
        WHEN open_islands > 0 THEN 'busy'
        ELSE 'idle'
    END AS state,
    open_islands > 0 AS in_island
FROM placed
