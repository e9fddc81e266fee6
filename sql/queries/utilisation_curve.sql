-- The utilisation curve: what a million output tokens cost at each idle fraction, per tier.
SELECT tier, idle_bucket, resource_hours, spend AS spend_usd, completion_tokens, usd_per_mtok
FROM marts.cost_by_idle_fraction
ORDER BY tier, list_position(['[0,.1)', '[.1,.25)', '[.25,.5)', '[.5,.75)', '[.75,1]'], idle_bucket);
