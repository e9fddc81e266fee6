-- $/Mtok for the last 30 published days, by tier and model (model '*' is the whole tier).
-- Days with incomplete billing are marked: their figure is what was observed, not a clean one.
SELECT
    tier,
    model,
    sum(spend)                                                       AS spend_usd,
    sum(completion_tokens)                                           AS completion_tokens,
    round(sum(spend) * 1e6 / nullif(sum(completion_tokens), 0), 4)   AS usd_per_mtok,
    count(*) FILTER (WHERE NOT billing_complete)                     AS incomplete_days
FROM marts.cost_per_mtok_daily
WHERE day > (SELECT max(day) FROM marts.cost_per_mtok_daily) - INTERVAL 30 DAY
GROUP BY tier, model
ORDER BY tier, model = '*' DESC, spend_usd DESC;
