-- Rule 3, dark billing: a gap interval (longer than max_sample_gap) keeps its money but
-- is listed whole; a watched resource's time after its last stored sample is covered by
-- no interval at all, so it is dark with no money known, and the stretch stays open
-- (gap_end null) until a later sample is stored. Time before a first sample is not dark.
-- Rule 11: a resource billed by cost rows is dark from where the export stops covering its
-- billing account (its latest ChargePeriodEnd) until a `terminated` event, or open; cost rows
-- are never gaps (max_sample_gap does not apply to them).
CREATE OR REPLACE TABLE intermediate.dark_stretches AS
SELECT
    resource_id,
    interval_start AS gap_start,
    interval_end   AS gap_end,
    (interval_us / 1000000)::DECIMAL(38, 6) AS seconds
FROM intermediate.spend_intervals
WHERE is_gap
  AND interval_end > $range_start
  AND interval_start < $range_end
UNION ALL
SELECT
    resource_id,
    last_sampled_at AS gap_start,
    NULL::TIMESTAMPTZ AS gap_end,
    NULL::DECIMAL(38, 6) AS seconds
FROM intermediate.resources
WHERE billing = 'snapshots'
  AND watched_after_last_sample
  AND last_sampled_at < $range_end
UNION ALL
SELECT
    r.resource_id,
    c.covered_until AS gap_start,
    r.watched_until AS gap_end,
    ((epoch_us(r.watched_until) - epoch_us(c.covered_until)) / 1000000)::DECIMAL(38, 6) AS seconds
FROM intermediate.resources AS r
JOIN intermediate.cost_coverage AS c USING (billing_account_id)
WHERE r.billing = 'cost_rows'
  AND c.covered_until < $range_end
  AND (r.watched_until IS NULL OR r.watched_until > c.covered_until)
  AND coalesce(r.watched_until, $range_end) > $range_start
