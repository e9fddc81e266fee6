-- The billing samples a range's accounting needs (rule 1, "Day edges"): every stored
-- sample inside [range_start, range_end), plus each resource's last sample before the
-- range (however far back: it opens the range's first interval and tells whether the
-- resource is still watched) and its first sample at or after the range end (it closes
-- the last interval). Reads the range and two cheap aggregates, never the whole history.
CREATE OR REPLACE TABLE intermediate.samples_in_scope AS
WITH edge_samples AS (
    SELECT resource_id, max(sampled_at) AS sampled_at
    FROM raw.billing_snapshots
    WHERE sampled_at < $range_start
    GROUP BY resource_id
    UNION ALL
    SELECT resource_id, min(sampled_at) AS sampled_at
    FROM raw.billing_snapshots
    WHERE sampled_at >= $range_end
    GROUP BY resource_id
)
SELECT s.*
FROM raw.billing_snapshots AS s
WHERE s.sampled_at >= $range_start AND s.sampled_at < $range_end
UNION ALL
SELECT s.*
FROM raw.billing_snapshots AS s
JOIN edge_samples AS e USING (resource_id, sampled_at)
