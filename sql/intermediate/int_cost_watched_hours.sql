-- Rule 11 with rule 3: the hours of the range in which a resource billed by cost rows is watched
-- (from its first row's hour until a `terminated` event that no later row follows), and whether
-- the export covers each (intermediate.cost_coverage). A watched hour that is covered is complete,
-- with or without a row of its own (no row: the cloud billed it nothing); one that is not is dark.
CREATE OR REPLACE TABLE intermediate.cost_watched_hours AS
SELECT
    r.resource_id,
    c.hour,
    c.covered_until,
    c.account_reach,
    r.watched_until,
    coalesce(c.covered_until >= c.hour + INTERVAL 1 HOUR, false) AS covered
FROM intermediate.resources AS r
JOIN intermediate.cost_coverage AS c USING (billing_account_id)
WHERE r.billing = 'cost_rows'
  AND c.hour >= date_trunc('hour', r.first_row_start)
  AND (r.watched_until IS NULL OR c.hour < r.watched_until)
