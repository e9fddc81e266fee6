-- The billing cells of each resource-hour: stretches of one hour covered by the same billing
-- pieces, so a second is placed in exactly one cell. A sampled resource's intervals never
-- overlap: each hour-piece is one cell. Cost rows of one resource may overlap (rule 11, "Pinned":
-- they split their own money over their own seconds, but state seconds count each second once),
-- so their pieces are cut at every piece edge inside the hour, and only covered stretches kept.
-- `time_kind` is the sample's for a sampled cell, null for a cost cell (states from events).
CREATE OR REPLACE TABLE intermediate.billing_cells AS
WITH cost_edges AS (
    SELECT resource_id, hour, piece_start AS t, 1 AS d FROM intermediate.interval_hours WHERE billing = 'cost_rows'
    UNION ALL
    SELECT resource_id, hour, piece_end, -1 FROM intermediate.interval_hours WHERE billing = 'cost_rows'
),
steps AS (
    SELECT resource_id, hour, t, sum(d) AS d FROM cost_edges GROUP BY ALL
),
swept AS (
    SELECT
        resource_id,
        hour,
        t AS cell_start,
        lead(t) OVER (PARTITION BY resource_id, hour ORDER BY t) AS cell_end,
        sum(d) OVER (PARTITION BY resource_id, hour ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            AS covering_pieces
    FROM steps
)
SELECT resource_id, hour, piece_start AS cell_start, piece_end AS cell_end, 'snapshots' AS billing, time_kind
FROM intermediate.interval_hours
WHERE billing = 'snapshots'
UNION ALL
SELECT resource_id, hour, cell_start, cell_end, 'cost_rows', NULL
FROM swept
WHERE covering_pieces > 0 AND cell_end > cell_start;

-- Which pieces each cell belongs to: itself for a sampled cell; every cost piece containing it.
CREATE OR REPLACE TABLE intermediate.cell_pieces AS
SELECT resource_id, hour, piece_start AS cell_start, interval_start, interval_end
FROM intermediate.interval_hours
WHERE billing = 'snapshots'
UNION ALL
SELECT c.resource_id, c.hour, c.cell_start, p.interval_start, p.interval_end
FROM intermediate.billing_cells AS c
JOIN intermediate.interval_hours AS p
  ON p.resource_id = c.resource_id AND p.hour = c.hour AND p.billing = 'cost_rows'
 AND p.piece_start <= c.cell_start AND c.cell_end <= p.piece_end
WHERE c.billing = 'cost_rows'
