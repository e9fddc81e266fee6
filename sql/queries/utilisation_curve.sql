-- The utilisation curve: what a million output tokens cost at each idle fraction, per tier.
SELECT c.tier, c.idle_bucket, b.label, c.resource_hours, c.spend AS spend_usd, c.completion_tokens, c.usd_per_mtok
FROM marts.cost_by_idle_fraction AS c
JOIN marts.idle_buckets AS b USING (idle_bucket)
ORDER BY c.tier, b.position;
