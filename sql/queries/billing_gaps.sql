-- Billing that went dark: gaps between samples (money counted, hours flagged) and stretches
-- still open after a resource's last sample (gap_end null), with the resets beside them.
SELECT 'gap' AS kind, resource_id, gap_start AS at, gap_end, seconds, NULL AS reason
FROM marts.observability_gaps
UNION ALL
SELECT 'reset', resource_id, "at", NULL, NULL, reason
FROM marts.billing_resets
ORDER BY 3;
