-- Each resource's first and last row of the day (own rows only): the compact per-resource record
-- that stands in for "the sample before the day, however far back" (DESIGN.md "Storage").
SELECT * EXCLUDE (edge_rank), 'first' AS _edge FROM (
    SELECT *, row_number() OVER (PARTITION BY resource_id ORDER BY {{day_column}}) AS edge_rank
    FROM kept_rows WHERE _day = _stored_for
) WHERE edge_rank = 1
UNION ALL
SELECT * EXCLUDE (edge_rank), 'last' AS _edge FROM (
    SELECT *, row_number() OVER (PARTITION BY resource_id ORDER BY {{day_column}} DESC) AS edge_rank
    FROM kept_rows WHERE _day = _stored_for
) WHERE edge_rank = 1
