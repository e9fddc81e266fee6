-- marts.observability_gaps: the dark stretches the range's accounting found (rule 3).
-- A stretch listed open by an earlier run is replaced once a later sample closes it.
DELETE FROM marts.observability_gaps AS g
WHERE g.gap_end IS NULL
  AND g.gap_start < $range_end
  AND g.resource_id IN (SELECT resource_id FROM intermediate.resources);

DELETE FROM marts.observability_gaps AS g
WHERE EXISTS (
    SELECT 1 FROM intermediate.dark_stretches AS d
    WHERE d.resource_id = g.resource_id AND d.gap_start = g.gap_start
);

INSERT INTO marts.observability_gaps BY NAME
SELECT DISTINCT resource_id, gap_start, gap_end, seconds
FROM intermediate.dark_stretches
