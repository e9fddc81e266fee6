-- marts.observability_gaps: the dark stretches the range's accounting found (rule 3).
-- Every listed stretch that touches the range is found again from the stored samples, so
-- the range's stretches are replaced whole: a stretch closed or filled by samples stored
-- since an earlier run disappears, one still open stays listed.
DELETE FROM marts.observability_gaps AS g
WHERE g.gap_start < $range_end
  AND (g.gap_end IS NULL OR g.gap_end > $range_start);

DELETE FROM marts.observability_gaps AS g
WHERE EXISTS (
    SELECT 1 FROM intermediate.dark_stretches AS d
    WHERE d.resource_id = g.resource_id AND d.gap_start = g.gap_start
);

INSERT INTO marts.observability_gaps BY NAME
SELECT DISTINCT resource_id, gap_start, gap_end, seconds
FROM intermediate.dark_stretches
